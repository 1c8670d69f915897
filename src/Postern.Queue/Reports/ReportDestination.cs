// Where a report goes: a mailto: or https: URI from a TLSRPT record (RFC 8460 §3) or a DMARC
// rua= tag (RFC 7489 §6.2, with an optional size limit after "!"), reduced to what sending needs.
using System.Globalization;

namespace Postern.Queue.Reports;

/// <summary>One report destination.</summary>
/// <param name="Uri">The URI as published (without the size limit).</param>
/// <param name="MailAddress">The mail address of a mailto: URI, else null.</param>
/// <param name="HttpsUri">The https: URI, else null.</param>
/// <param name="MaxBytes">The size limit of RFC 7489 §6.2 ("!10m"), or null.</param>
public sealed record ReportDestination(string Uri, string? MailAddress, Uri? HttpsUri, long? MaxBytes)
{
    /// <summary>The domain of the destination (mail domain or host), lower case.</summary>
    public string Domain => (MailAddress is { } a ? a[(a.LastIndexOf('@') + 1)..] : HttpsUri?.IdnHost ?? "").TrimEnd('.').ToLowerInvariant();

    /// <summary>Parses one URI; null with an error for other schemes or a malformed one.</summary>
    public static ReportDestination? Parse(string text, bool allowSizeLimit, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        error = null;
        string uri = text.Trim();
        long? max = null;
        int bang = uri.LastIndexOf('!');
        if (allowSizeLimit && bang > 0)
        {
            // RFC 7489 §6.2: size = 1*DIGIT [ "k" / "m" / "g" / "t" ], units are powers of two.
            string size = uri[(bang + 1)..];
            uri = uri[..bang];
            long unit = 1;
            if (size.Length > 0 && char.IsLetter(size[^1]))
            {
                unit = char.ToLowerInvariant(size[^1]) switch { 'k' => 1L << 10, 'm' => 1L << 20, 'g' => 1L << 30, 't' => 1L << 40, _ => 0 };
                size = size[..^1];
            }
            if (unit == 0 || size.Length is 0 or > 15 || !long.TryParse(size, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > long.MaxValue / unit)
            {
                error = $"bad size limit in \"{text}\"";
                return null;
            }
            max = n * unit;
        }
        if (uri.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase))
        {
            string address = uri[7..];
            int q = address.IndexOf('?', StringComparison.Ordinal);
            if (q >= 0) address = address[..q];
            address = System.Uri.UnescapeDataString(address).Trim();
            int at = address.LastIndexOf('@');
            if (at <= 0 || at == address.Length - 1 || address.Any(c => c <= ' ' || c >= 0x7f || c is '<' or '>' or ',' or ';'))
            {
                error = $"\"{text}\" is not a usable mailto: URI";
                return null;
            }
            return new ReportDestination(uri, address, null, max);
        }
        if (System.Uri.TryCreate(uri, UriKind.Absolute, out Uri? https) && https.Scheme == System.Uri.UriSchemeHttps)
            return new ReportDestination(uri, null, https, max);
        error = $"\"{text}\" is neither a mailto: nor an https: URI";
        return null;
    }
}
