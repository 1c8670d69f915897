using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Postern.Dns;

/// <summary>An Extended DNS Error (RFC 8914): why a resolver failed or answered as it did.</summary>
/// <param name="InfoCode">The INFO-CODE (RFC 8914 §4).</param>
/// <param name="ExtraText">Free text from the resolver, possibly empty.</param>
public sealed record ExtendedDnsError(ushort InfoCode, string ExtraText)
{
    /// <summary>Longest extra text kept; longer text is cut (bounded log lines).</summary>
    public const int MaxExtraTextLength = 512;

    private static readonly string[] Names =
    [
        // RFC 8914 §4.1-§4.25, in code order.
        "Other Error", "Unsupported DNSKEY Algorithm", "Unsupported DS Digest Type", "Stale Answer",
        "Forged Answer", "DNSSEC Indeterminate", "DNSSEC Bogus", "Signature Expired",
        "Signature Not Yet Valid", "DNSKEY Missing", "RRSIGs Missing", "No Zone Key Bit Set",
        "NSEC Missing", "Cached Error", "Not Ready", "Blocked", "Censored", "Filtered",
        "Prohibited", "Stale NXDomain Answer", "Not Authoritative", "Not Supported",
        "No Reachable Authority", "Network Error", "Invalid Data",
    ];

    /// <summary>The registered name of <see cref="InfoCode"/>, e.g. "DNSSEC Bogus".</summary>
    public string Description =>
        InfoCode < Names.Length ? Names[InfoCode] : "Code " + InfoCode.ToString(CultureInfo.InvariantCulture);

    /// <summary>"EDE 6 (DNSSEC Bogus): text".</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"EDE {InfoCode} ({Description})") + (ExtraText.Length > 0 ? ": " + ExtraText : "");

    /// <summary>Encodes the option data (RFC 8914 §2).</summary>
    public byte[] Encode()
    {
        byte[] text = Encoding.UTF8.GetBytes(ExtraText);
        byte[] data = new byte[2 + text.Length];
        data[0] = (byte)(InfoCode >> 8);
        data[1] = (byte)InfoCode;
        text.CopyTo(data, 2);
        return data;
    }

    /// <summary>Decodes option data; false when shorter than the 2-octet code.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, [NotNullWhen(true)] out ExtendedDnsError? error)
    {
        error = null;
        if (data.Length < 2) return false;
        ushort code = (ushort)(data[0] << 8 | data[1]);
        ReadOnlySpan<byte> text = data[2..];
        if (text.Length > MaxExtraTextLength) text = text[..MaxExtraTextLength];
        // RFC 8914 §2: EXTRA-TEXT is UTF-8 and SHOULD NOT be NUL-terminated; drop a NUL anyway.
        if (text.Length > 0 && text[^1] == 0) text = text[..^1];
        string s = Encoding.UTF8.GetString(text);
        // Control characters would let a remote resolver forge log lines.
        if (s.Any(char.IsControl)) s = new string(s.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        error = new ExtendedDnsError(code, s);
        return true;
    }
}
