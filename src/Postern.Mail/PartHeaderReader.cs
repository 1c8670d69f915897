namespace Postern.Mail;

/// <summary>Fills a part's MIME fields from its header block (RFC 2045, RFC 2183, RFC 3282, RFC 2557).</summary>
internal static class PartHeaderReader
{
    public static void Apply(MessagePart part, HeaderList headers, MessageLimits limits)
    {
        // One pass over the fields; the first of each name counts.
        HeaderField? ct = null, cteF = null, cid = null, desc = null, md5 = null, loc = null, cdF = null, langF = null;
        foreach (var f in headers)
        {
            var n = f.Name;
            if (n.Length < 10 || !n.StartsWith("Content-", StringComparison.OrdinalIgnoreCase)) continue;
            switch (n.Length)
            {
                case 10 when n.EndsWith("ID", StringComparison.OrdinalIgnoreCase): cid ??= f; break;
                case 11 when n.EndsWith("MD5", StringComparison.OrdinalIgnoreCase): md5 ??= f; break;
                case 12 when n.EndsWith("Type", StringComparison.OrdinalIgnoreCase): ct ??= f; break;
                case 16 when n.EndsWith("Language", StringComparison.OrdinalIgnoreCase): langF ??= f; break;
                case 16 when n.EndsWith("Location", StringComparison.OrdinalIgnoreCase): loc ??= f; break;
                case 19 when n.EndsWith("Description", StringComparison.OrdinalIgnoreCase): desc ??= f; break;
                case 19 when n.EndsWith("Disposition", StringComparison.OrdinalIgnoreCase): cdF ??= f; break;
                case 25 when n.EndsWith("Transfer-Encoding", StringComparison.OrdinalIgnoreCase): cteF ??= f; break;
            }
        }
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
        var cte = cteF?.Value;
        if (cte is not null)
        {
            cte = MimeFieldValue.StripComments(cte).Trim().ToLowerInvariant();
            part.ContentTransferEncoding = cte.Length == 0 ? null : cte;
        }
        part.ContentId = Nonempty(cid?.Value);
        part.ContentDescription = Nonempty(desc?.Value);
        part.ContentMd5 = Nonempty(md5?.Value);
        part.ContentLocation = Nonempty(loc?.Value);
        var cd = cdF?.Value;
        if (cd is not null)
        {
            var v = MimeFieldValue.Parse(cd, limits.MaxParameters);
            part.Disposition = v.Value.Length == 0 ? null : v.Value;
            part.DispositionParameters = v.Parameters;
        }
        var lang = langF?.Value;
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
