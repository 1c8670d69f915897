using System.Buffers;
using System.Globalization;
using System.Text;

namespace Postern.Smtp.Protocol;

/// <summary>Builds SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 2034, RFC 3463) into a buffer.</summary>
public sealed class SmtpReplyWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);

    /// <summary>Bytes waiting to be sent.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.WrittenMemory;

    /// <summary>Number of bytes waiting.</summary>
    public int Length => _buffer.WrittenCount;

    /// <summary>The code of the last reply line written.</summary>
    public int LastCode { get; private set; }

    /// <summary>Forgets what was sent.</summary>
    public void Clear() => _buffer.ResetWrittenCount();

    /// <summary>A one-line reply "code enhanced text".</summary>
    public void Reply(int code, string? enhanced, string text) => Line(code, false, enhanced, text);

    /// <summary>A multi-line reply: every line but the last uses "code-".</summary>
    public void Reply(int code, string? enhanced, IReadOnlyList<string> lines)
    {
        for (int i = 0; i < lines.Count; i++)
            Line(code, i < lines.Count - 1, enhanced, lines[i]);
    }

    private void Line(int code, bool more, string? enhanced, string text)
    {
        LastCode = code;
        var sb = new StringBuilder(64);
        sb.Append(code.ToString(CultureInfo.InvariantCulture)).Append(more ? '-' : ' ');
        if (enhanced is not null)
            sb.Append(enhanced).Append(' ');
        // Replies never carry CR or LF from client-supplied text.
        foreach (char c in text)
            sb.Append(c is '\r' or '\n' ? ' ' : c);
        sb.Append("\r\n");
        Encoding.UTF8.GetBytes(sb.ToString(), _buffer);
    }
}
