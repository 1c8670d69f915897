using System.Text;

namespace Postern.Mail;

/// <summary>Threading helpers (RFC 5256): message-id lists and the base subject.</summary>
public static class Threading
{
    /// <summary>Most ids taken from one References field.</summary>
    public const int MaxIds = 1000;

    /// <summary>
    /// Extracts "&lt;id&gt;" message ids in order (RFC 5322 §3.6.4), tolerant of missing commas,
    /// comments and junk between ids. Ids are returned without angle brackets.
    /// </summary>
    public static IReadOnlyList<string> ParseMessageIds(string? value)
    {
        var ids = new List<string>();
        if (string.IsNullOrEmpty(value)) return ids;
        var s = MimeFieldValue.StripComments(value);
        int pos = 0;
        while (pos < s.Length && ids.Count < MaxIds)
        {
            int lt = s.IndexOf('<', pos);
            if (lt < 0) break;
            int gt = s.IndexOf('>', lt + 1);
            if (gt < 0) break;
            var id = s[(lt + 1)..gt].Trim();
            id = string.Concat(id.Where(c => c is not (' ' or '\t')));
            if (id.Length > 0) ids.Add(id);
            pos = gt + 1;
        }
        return ids;
    }

    /// <summary>The first message id of a field (Message-ID, In-Reply-To), or null.</summary>
    public static string? ParseMessageId(string? value)
    {
        var ids = ParseMessageIds(value);
        if (ids.Count > 0) return ids[0];
        var t = value?.Trim();
        return string.IsNullOrEmpty(t) ? null : t;
    }

    /// <summary>
    /// The base subject of RFC 5256 §2.1: decoded, whitespace collapsed, trailing "(fwd)" and
    /// leading "re:", "fw:", "fwd:", "[blob]" removed repeatedly, "[fwd: ...]" unwrapped.
    /// Case is kept; comparisons use ordinal case-insensitive matching as servers commonly do.
    /// </summary>
    public static string BaseSubject(string subject)
    {
        // (1) convert tabs and runs of whitespace to a single space.
        var sb = new StringBuilder(subject.Length);
        bool space = false;
        foreach (char c in subject)
        {
            if (c is ' ' or '\t' or '\r' or '\n') { space = true; continue; }
            if (space && sb.Length > 0) sb.Append(' ');
            space = false;
            sb.Append(c);
        }
        string s = sb.ToString();
        while (true)
        {
            // (2) remove trailing "(fwd)" and whitespace, repeatedly.
            bool changed = true;
            while (changed)
            {
                changed = false;
                var t = s.TrimEnd();
                if (t.EndsWith("(fwd)", StringComparison.OrdinalIgnoreCase)) { s = t[..^5]; changed = true; }
                else s = t;
            }
            // (3) and (4): remove subj-leader (blobs, "re"/"fw"/"fwd", optional blob, ":") and blobs repeatedly.
            while (true)
            {
                string before = s;
                s = s.TrimStart();
                if (TryStripLeader(ref s)) continue;
                // (4) a leading blob is removed only when something remains after it.
                if (s.StartsWith('['))
                {
                    int close = s.IndexOf(']', StringComparison.Ordinal);
                    if (close > 0 && s[1..close].IndexOfAny(['[', ']']) < 0 && s[(close + 1)..].Trim().Length > 0)
                    {
                        s = s[(close + 1)..];
                        continue;
                    }
                }
                if (ReferenceEquals(before, s) || before == s) break;
            }
            // (6) "[fwd:" ... "]" wrapper.
            if (s.StartsWith("[fwd:", StringComparison.OrdinalIgnoreCase) && s.EndsWith(']'))
            {
                s = s[5..^1];
                continue;
            }
            return s.Trim();
        }
    }

    private static bool TryStripLeader(ref string s)
    {
        // subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"   (RFC 5256 §5)
        int i = 0;
        while (i < s.Length && s[i] == '[')
        {
            int close = s.IndexOf(']', i);
            if (close < 0) return false;
            i = close + 1;
            while (i < s.Length && s[i] == ' ') i++;
        }
        int start = i;
        if (s.AsSpan(i).StartsWith("re", StringComparison.OrdinalIgnoreCase)) i += 2;
        else if (s.AsSpan(i).StartsWith("fwd", StringComparison.OrdinalIgnoreCase)) i += 3;
        else if (s.AsSpan(i).StartsWith("fw", StringComparison.OrdinalIgnoreCase)) i += 2;
        else return false;
        while (i < s.Length && s[i] == ' ') i++;
        if (i < s.Length && s[i] == '[')
        {
            int close = s.IndexOf(']', i);
            if (close < 0) return false;
            i = close + 1;
            while (i < s.Length && s[i] == ' ') i++;
        }
        if (i >= s.Length || s[i] != ':' || i == start) return false;
        s = s[(i + 1)..];
        return true;
    }
}
