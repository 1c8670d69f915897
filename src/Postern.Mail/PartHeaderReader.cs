namespace Postern.Mail;

/// <summary>Fills a part's MIME fields from its header block (RFC 2045, RFC 2183, RFC 3282, RFC 2557).</summary>
internal static class PartHeaderReader
{
    public static void Apply(MessagePart part, HeaderList headers, MessageLimits limits)
    {
        var ct = headers.Get("Content-Type");
        if (ct is not null)
        {
            var v = MimeFieldValue.Parse(ct.Value, limits.MaxParameters);
            int slash = v.Value.IndexOf('/', StringComparison.Ordinal);
            // RFC 2045 §5.2: an invalid Content-Type means text/plain; charset=us-ascii.
            if (slash > 0 && slash < v.Value.Length - 1 && IsToken(v.Value.AsSpan(0, slash)) && IsToken(v.Value.AsSpan(slash + 1)))
            {
                part.MediaType = v.Value[..slash];
                part.MediaSubtype = v.Value[(slash + 1)..];
                part.ContentTypeParameters = v.Parameters;
            }
            else
            {
                part.MediaType = "text";
                part.MediaSubtype = "plain";
                part.ContentTypeParameters = v.Parameters;
            }
        }
        var cte = headers.GetValue("Content-Transfer-Encoding");
        if (cte is not null)
        {
            cte = MimeFieldValue.StripComments(cte).Trim().ToLowerInvariant();
            part.ContentTransferEncoding = cte.Length == 0 ? null : cte;
        }
        part.ContentId = Nonempty(headers.GetValue("Content-ID"));
        part.ContentDescription = Nonempty(headers.GetValue("Content-Description"));
        part.ContentMd5 = Nonempty(headers.GetValue("Content-MD5"));
        part.ContentLocation = Nonempty(headers.GetValue("Content-Location"));
        var cd = headers.GetValue("Content-Disposition");
        if (cd is not null)
        {
            var v = MimeFieldValue.Parse(cd, limits.MaxParameters);
            part.Disposition = v.Value.Length == 0 ? null : v.Value;
            part.DispositionParameters = v.Parameters;
        }
        var lang = headers.GetValue("Content-Language");
        if (lang is not null)
        {
            // RFC 3282 §2: a comma-separated list of language tags.
            part.ContentLanguage = MimeFieldValue.StripComments(lang)
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Take(limits.MaxParameters).ToArray();
        }
    }

    private static string? Nonempty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    // RFC 2045 §5.1 token: no specials, no controls, no space.
    private static bool IsToken(ReadOnlySpan<char> s)
    {
        if (s.Length == 0) return false;
        foreach (char c in s)
            if (c <= ' ' || c >= 127 || "()<>@,;:\\\"/[]?=".Contains(c, StringComparison.Ordinal)) return false;
        return true;
    }
}
