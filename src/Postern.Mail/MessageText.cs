using System.Text;

namespace Postern.Mail;

/// <summary>Text extraction for search and previews (RFC 8970).</summary>
public static class MessageText
{
    /// <summary>Most characters in a preview (RFC 8970 §3: at most 256 octets advised; we use 200 characters).</summary>
    public const int PreviewLength = 200;

    /// <summary>
    /// The decoded text of a text/* part body: transfer-decoded, charset-decoded, and for
    /// text/html with tags, scripts and styles removed and entities decoded. <paramref name="rawMessage"/>
    /// is the whole raw message (offsets of <paramref name="part"/> refer to it).
    /// </summary>
    public static string DecodeText(MessagePart part, ReadOnlySpan<byte> rawMessage)
    {
        long end = Math.Min(part.End, rawMessage.Length);
        long start = Math.Min(part.BodyStart, end);
        var body = rawMessage[(int)start..(int)end];
        return DecodeText(body, part.ContentTransferEncoding, part.Charset, part.MediaSubtype == "html");
    }

    /// <summary>Decodes a text body given its transfer encoding and charset.</summary>
    public static string DecodeText(ReadOnlySpan<byte> body, string? transferEncoding, string? charset, bool html)
    {
        var bytes = TransferDecoding.Decode(body, transferEncoding);
        var text = Charsets.Decode(bytes, charset);
        return html ? StripHtml(text) : text;
    }

    /// <summary>
    /// All searchable text of a message: decoded text/plain and text/html parts (not attachments
    /// with another disposition), embedded messages included.
    /// </summary>
    public static string ExtractText(MessageStructure structure, ReadOnlySpan<byte> rawMessage)
    {
        var sb = new StringBuilder();
        foreach (var p in structure.Root.Walk())
        {
            if (!p.IsText || p.IsMultipart || p.Disposition == "attachment") continue;
            if (p.MediaSubtype is not ("plain" or "html")) continue;
            if (sb.Length > 0) sb.Append('\n');
            sb.Append(DecodeText(p, rawMessage));
        }
        return sb.ToString();
    }

    /// <summary>Removes tags, comments, script and style contents; decodes entities; keeps line structure roughly.</summary>
    public static string StripHtml(string html)
    {
        var sb = new StringBuilder(html.Length);
        int i = 0;
        while (i < html.Length)
        {
            char c = html[i];
            if (c == '<')
            {
                if (string.CompareOrdinal(html, i, "<!--", 0, 4) == 0)
                {
                    int e = html.IndexOf("-->", i + 4, StringComparison.Ordinal);
                    i = e < 0 ? html.Length : e + 3;
                    continue;
                }
                int close = html.IndexOf('>', i + 1);
                if (close < 0) { sb.Append(html, i, html.Length - i); break; }
                var tag = html.AsSpan(i + 1, close - i - 1).TrimStart();
                string? skipUntil = null;
                if (tag.StartsWith("script", StringComparison.OrdinalIgnoreCase)) skipUntil = "</script";
                else if (tag.StartsWith("style", StringComparison.OrdinalIgnoreCase)) skipUntil = "</style";
                else if (tag.StartsWith("head", StringComparison.OrdinalIgnoreCase) && !tag.StartsWith("header", StringComparison.OrdinalIgnoreCase)) skipUntil = "</head";
                if (skipUntil is not null)
                {
                    int e = html.IndexOf(skipUntil, close, StringComparison.OrdinalIgnoreCase);
                    if (e >= 0)
                    {
                        int e2 = html.IndexOf('>', e);
                        i = e2 < 0 ? html.Length : e2 + 1;
                        continue;
                    }
                }
                if (tag.StartsWith("br", StringComparison.OrdinalIgnoreCase) || tag.StartsWith("p", StringComparison.OrdinalIgnoreCase)
                    || tag.StartsWith("/p", StringComparison.OrdinalIgnoreCase) || tag.StartsWith("div", StringComparison.OrdinalIgnoreCase)
                    || tag.StartsWith("/div", StringComparison.OrdinalIgnoreCase) || tag.StartsWith("tr", StringComparison.OrdinalIgnoreCase))
                    sb.Append('\n');
                else sb.Append(' ');
                i = close + 1;
                continue;
            }
            sb.Append(c);
            i++;
        }
        return System.Net.WebUtility.HtmlDecode(sb.ToString());
    }

    /// <summary>Collapses whitespace and cuts to <see cref="PreviewLength"/> characters (RFC 8970 §3).</summary>
    public static string MakePreview(string text) => MakePreview(text.AsSpan());

    /// <summary>Collapses whitespace and cuts to <see cref="PreviewLength"/> characters (RFC 8970 §3).</summary>
    public static string MakePreview(ReadOnlySpan<char> text) => MakePreview(text, out _);

    /// <summary>As <see cref="MakePreview(ReadOnlySpan{char})"/>; <paramref name="full"/>: the text had more than fits.</summary>
    internal static string MakePreview(ReadOnlySpan<char> text, out bool full)
    {
        var sb = new StringBuilder(Math.Min(text.Length, PreviewLength + 1));
        bool space = false;
        full = false;
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c)) { space = true; continue; }
            bool separate = space && sb.Length > 0;
            // A preview never ends with the space that would have separated the next word.
            if (sb.Length + (separate ? 2 : 1) > PreviewLength)
            {
                full = true;
                break;
            }
            if (separate) sb.Append(' ');
            space = false;
            sb.Append(c);
        }
        // Do not end inside a surrogate pair (nor with the space before it).
        if (sb.Length > 0 && char.IsHighSurrogate(sb[^1])) sb.Length--;
        if (sb.Length > 0 && sb[^1] == ' ') sb.Length--;
        return sb.ToString();
    }
}

/// <summary>Keeps the first bytes of the first inline text part while streaming, for the preview.</summary>
internal sealed class PreviewCapture
{
    // HTML needs more bytes than plain text to reach 200 characters past <head> and <style>.
    private const int MaxBytes = 16 * 1024;
    private const int MaxPlainBytes = 2 * 1024;
    private MessagePart? _target;
    private byte[] _buffer = [];
    private int _length;
    private bool _done;

    public void Consider(MessagePart part)
    {
        if (_target is not null || _done) return;
        if (part.MediaType != "text" || part.MediaSubtype is not ("plain" or "html")) return;
        if (part.Disposition == "attachment") return;
        _target = part;
    }

    /// <summary>
    /// Keeps the part of <paramref name="chunk"/> (which starts at <paramref name="chunkStart"/>) that continues what was
    /// kept. <paramref name="cut"/>: the chunk is the kept start of a longer line (see MessageParser.Cap); capturing ends
    /// there, as it must when that line came in pieces whose middle is gone, so the preview does not depend on how the
    /// message was split into chunks.
    /// </summary>
    public void Capture(ReadOnlySpan<byte> chunk, long chunkStart, bool cut = false)
    {
        if (_target is null || _done) return;
        // Bytes before BodyStart + _length were captured already (from a line kept across chunks).
        long from = Math.Max(chunkStart, _target.BodyStart + _length);
        int max = _target.MediaSubtype == "html" ? MaxBytes : MaxPlainBytes;
        long to = Math.Min(chunkStart + chunk.Length, _target.BodyStart + max);
        if (_target.End > 0 && _target.End >= _target.BodyStart) to = Math.Min(to, _target.End);
        if (to <= from) return;
        long at = from - _target.BodyStart;
        if (at != _length) return; // a gap (body start inside an earlier partial line): keep what is contiguous
        int need = _length + (int)(to - from);
        if (_buffer.Length < need) Array.Resize(ref _buffer, Math.Min(max, Math.Max(need, _buffer.Length * 2)));
        chunk[(int)(from - chunkStart)..(int)(to - chunkStart)].CopyTo(_buffer.AsSpan(_length));
        _length += (int)(to - from);
        if (_length >= max || cut) _done = true;
    }

    // Plain text: the first bytes usually hold the whole preview, so they are decoded first (every stored message gets a
    // preview); a preview that comes out short is made again from everything captured. The last few characters of the
    // first try are left out, in case the cut spoiled them.
    private const int FirstTryBytes = 512;
    private const int CutMargin = 8;

    public string? Build()
    {
        if (_target is null) return null;
        long bodyLength = Math.Max(0, _target.End - _target.BodyStart);
        int len = (int)Math.Min(_length, bodyLength);
        if (_target.MediaSubtype != "html" && len > FirstTryBytes)
        {
            string start = Decode(_buffer.AsSpan(0, FirstTryBytes), truncated: true);
            if (start.Length > CutMargin)
            {
                string preview = MessageText.MakePreview(start.AsSpan(0, start.Length - CutMargin), out bool full);
                if (full) return preview;
            }
        }
        return MessageText.MakePreview(Decode(_buffer.AsSpan(0, len), truncated: len < bodyLength));
    }

    private string Decode(ReadOnlySpan<byte> encoded, bool truncated)
    {
        // A cut body is decoded up to its last whole line, so that no quoted-printable escape or base64 quantum is split.
        if (truncated)
        {
            if (encoded.LastIndexOf((byte)'\n') is int lf and > 0) encoded = encoded[..(lf + 1)];
            else if (string.Equals(_target!.ContentTransferEncoding, "quoted-printable", StringComparison.OrdinalIgnoreCase)
                && encoded[Math.Max(0, encoded.Length - 2)..].IndexOf((byte)'=') is int eq and >= 0)
                encoded = encoded[..(Math.Max(0, encoded.Length - 2) + eq)];
        }
        ReadOnlySpan<byte> bytes = TransferDecoding.Decode(encoded, _target!.ContentTransferEncoding);
        // A cut inside a multi-byte character would make the whole text invalid UTF-8, which is then read as windows-1252.
        if (truncated && Charsets.DecodesAsUtf8(_target.Charset)) bytes = bytes[..CompleteUtf8Length(bytes)];
        string text = Charsets.Decode(bytes, _target.Charset);
        return _target.MediaSubtype == "html" ? MessageText.StripHtml(text) : text;
    }

    /// <summary>The length of <paramref name="bytes"/> without a UTF-8 sequence cut off at its end (RFC 3629 §3).</summary>
    internal static int CompleteUtf8Length(ReadOnlySpan<byte> bytes)
    {
        int i = bytes.Length - 1, continuation = 0;
        while (i >= 0 && continuation < 3 && (bytes[i] & 0xC0) == 0x80)
        {
            i--;
            continuation++;
        }
        if (i < 0) return bytes.Length;
        byte lead = bytes[i];
        int needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        return needed > continuation + 1 ? i : bytes.Length;
    }
}
