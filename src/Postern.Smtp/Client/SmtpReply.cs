using System.Globalization;

namespace Postern.Smtp.Client;

/// <summary>One SMTP reply as the client read it (RFC 5321 §4.2): a code, the enhanced status code if any, and its text lines.</summary>
/// <param name="Code">The three-digit reply code.</param>
/// <param name="Enhanced">The RFC 3463 enhanced status code of the first line (e.g. <c>2.1.5</c>), or null when the peer gave none.</param>
/// <param name="Lines">The text of each line, without the code and separator (the enhanced code stays in the text).</param>
public sealed record SmtpReply(int Code, string? Enhanced, IReadOnlyList<string> Lines)
{
    /// <summary>2xx: the command succeeded.</summary>
    public bool IsPositive => Code is >= 200 and < 300;

    /// <summary>3xx: more input is expected (DATA, AUTH).</summary>
    public bool IsIntermediate => Code is >= 300 and < 400;

    /// <summary>4xx: the command failed for now.</summary>
    public bool IsTransient => Code is >= 400 and < 500;

    /// <summary>5xx: the command failed and repeating it will not help.</summary>
    public bool IsPermanent => Code >= 500;

    /// <summary>The text of all lines joined by spaces, bounded for logs.</summary>
    public string Text
    {
        get
        {
            string t = string.Join(" ", Lines);
            return t.Length > 400 ? t[..400] + "..." : t;
        }
    }

    /// <summary>The enhanced code, or one synthesised from the reply's class and <paramref name="fallbackDetail"/> (e.g. <c>0.0</c>).</summary>
    public string EnhancedOr(string fallbackDetail = "0.0") =>
        Enhanced ?? (Code / 100).ToString(CultureInfo.InvariantCulture) + "." + fallbackDetail;

    /// <summary>"250 2.1.5 text", for logs.</summary>
    public override string ToString() => Code.ToString(CultureInfo.InvariantCulture) + " " + Text;
}
