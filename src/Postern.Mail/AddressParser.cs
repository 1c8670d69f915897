using System.Text;

namespace Postern.Mail;

// Design: a tolerant single-pass parser over the unfolded header value. It collects
// "words" (atoms, quoted strings, dots) until a structural character ('<', ':', '@', ',',
// ';') decides what they were: a display name, a group name or a local part. Comments
// are skipped everywhere (RFC 5322 §3.2.2 CFWS). Obsolete forms (RFC 5322 §4.4: routes,
// missing commas, empty list members, phrases with dots) are accepted.

/// <summary>Parses RFC 5322 address lists (From, To, Cc, ...), including RFC 6532 UTF-8.</summary>
public static class AddressParser
{
    /// <summary>Most list entries kept from one field.</summary>
    public const int MaxItems = 10_000;

    private enum WordKind { Atom, Quoted, Dot }

    private readonly record struct Word(WordKind Kind, string Text);

    /// <summary>Parses an address list; entries that cannot be understood are skipped. Never throws.</summary>
    public static IReadOnlyList<AddressListItem> Parse(string? text)
    {
        var result = new List<AddressListItem>();
        if (string.IsNullOrWhiteSpace(text)) return result;
        int pos = 0;
        var words = new List<Word>();
        while (pos < text.Length && result.Count < MaxItems)
        {
            SkipCfws(text, ref pos);
            if (pos >= text.Length) break;
            if (text[pos] is ',' or ';') { pos++; continue; }
            int before = pos;
            words.Clear();
            ReadWords(text, ref pos, words);
            char next = pos < text.Length ? text[pos] : '\0';
            if (next == ':')
            {
                pos++;
                var members = new List<MailAddress>();
                while (pos < text.Length && members.Count < MaxItems)
                {
                    SkipCfws(text, ref pos);
                    if (pos >= text.Length) break;
                    if (text[pos] == ';') { pos++; break; }
                    if (text[pos] == ',') { pos++; continue; }
                    int b2 = pos;
                    var m = ParseMailbox(text, ref pos, inGroup: true, null);
                    if (m is not null) members.Add(m);
                    if (pos == b2) pos++;
                }
                var raw = Phrase(words, decode: false);
                result.Add(new AddressListItem(null, new AddressGroup(EncodedWords.DecodeUnstructured(raw), members) { RawName = raw }));
                continue;
            }
            // The words read so far start the mailbox; continue from here without re-reading them.
            var mb = ParseMailbox(text, ref pos, inGroup: false, new List<Word>(words));
            if (mb is not null) result.Add(new AddressListItem(mb, null));
            if (pos == before) pos++;
        }
        return result;
    }

    /// <summary>Parses a list and returns the mailboxes only, group members flattened.</summary>
    public static IReadOnlyList<MailAddress> ParseMailboxes(string? text)
    {
        var list = new List<MailAddress>();
        foreach (var item in Parse(text))
        {
            if (item.Mailbox is not null) list.Add(item.Mailbox);
            else if (item.Group is not null) list.AddRange(item.Group.Members);
        }
        return list;
    }

    private static MailAddress? ParseMailbox(string s, ref int pos, bool inGroup, List<Word>? wordsRead)
    {
        var words = wordsRead;
        if (words is null)
        {
            words = [];
            ReadWords(s, ref pos, words);
        }
        char next = pos < s.Length ? s[pos] : '\0';
        if (next == '<')
        {
            pos++;
            string? route = null;
            SkipCfws(s, ref pos);
            if (pos < s.Length && s[pos] == '@')
            {
                // RFC 5322 §4.4 obs-route: "@a,@b:" before the addr-spec.
                int colon = s.IndexOf(':', pos);
                int gt = s.IndexOf('>', pos);
                if (colon > 0 && (gt < 0 || colon < gt))
                {
                    route = s[pos..colon].Replace(" ", "", StringComparison.Ordinal);
                    pos = colon + 1;
                }
            }
            var local = new List<Word>();
            ReadWords(s, ref pos, local);
            string domain = "";
            if (pos < s.Length && s[pos] == '@')
            {
                pos++;
                domain = ReadDomain(s, ref pos);
            }
            // Skip to the closing '>' (garbage inside the angle brackets is ignored).
            while (pos < s.Length && s[pos] != '>' && s[pos] != ',') pos++;
            if (pos < s.Length && s[pos] == '>') pos++;
            SkipCfws(s, ref pos);
            SkipToSeparator(s, ref pos, inGroup);
            string? rawName = words.Count == 0 ? null : Phrase(words, decode: false);
            string? display = rawName is null ? null
                : rawName.Contains("=?", StringComparison.Ordinal) ? EncodedWords.DecodeUnstructured(rawName).Trim() : rawName;
            return new MailAddress(display, LocalPart(local), domain) { RawDisplayName = rawName, Route = route };
        }
        if (next == '@')
        {
            pos++;
            string domain = ReadDomain(s, ref pos);
            SkipToSeparator(s, ref pos, inGroup);
            return new MailAddress(null, LocalPart(words), domain);
        }
        SkipToSeparator(s, ref pos, inGroup);
        if (words.Count == 0) return null;
        // A bare word without '@' (e.g. "undisclosed-recipients"): a local part without domain.
        return new MailAddress(null, LocalPart(words), "");
    }

    private static void SkipToSeparator(string s, ref int pos, bool inGroup)
    {
        while (pos < s.Length && s[pos] != ',' && !(inGroup && s[pos] == ';'))
        {
            if (s[pos] == '"') { ReadQuoted(s, ref pos); continue; }
            if (s[pos] == '(') { SkipComment(s, ref pos); continue; }
            pos++;
        }
    }

    private static string LocalPart(List<Word> words)
    {
        var sb = new StringBuilder();
        foreach (var w in words) sb.Append(w.Text);
        return sb.ToString();
    }

    private static string Phrase(List<Word> words, bool decode)
    {
        var sb = new StringBuilder();
        foreach (var w in words)
        {
            if (w.Kind == WordKind.Dot) { sb.Append('.'); continue; }
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(w.Text);
        }
        var text = sb.ToString().Replace(" .", ".", StringComparison.Ordinal);
        return decode ? EncodedWords.DecodeUnstructured(text).Trim() : text.Trim();
    }

    private static string ReadDomain(string s, ref int pos)
    {
        SkipCfws(s, ref pos);
        var sb = new StringBuilder();
        while (pos < s.Length)
        {
            char c = s[pos];
            if (c == '[')
            {
                int close = s.IndexOf(']', pos);
                if (close < 0) close = s.Length - 1;
                sb.Append(s, pos, close - pos + 1);
                pos = close + 1;
            }
            else if (c == '.' || IsAtext(c)) { sb.Append(c); pos++; }
            else if (c is ' ' or '\t' or '(' or '\r' or '\n')
            {
                // RFC 5322 §4.4 obs-domain allows CFWS around dots.
                int save = pos;
                SkipCfws(s, ref pos);
                if (pos < s.Length && (s[pos] == '.' || (sb.Length > 0 && sb[^1] == '.' && IsAtext(s[pos])))) continue;
                pos = save;
                SkipCfws(s, ref pos);
                break;
            }
            else break;
        }
        return sb.ToString();
    }

    private static void ReadWords(string s, ref int pos, List<Word> words)
    {
        while (pos < s.Length)
        {
            SkipCfws(s, ref pos);
            if (pos >= s.Length) return;
            char c = s[pos];
            if (c == '"') { words.Add(new Word(WordKind.Quoted, ReadQuoted(s, ref pos))); continue; }
            if (c == '.') { words.Add(new Word(WordKind.Dot, ".")); pos++; continue; }
            if (IsAtext(c) || c == '[' || c == ']' || c == '\\')
            {
                int start = pos;
                while (pos < s.Length && (IsAtext(s[pos]) || s[pos] is '[' or ']' or '\\')) pos++;
                words.Add(new Word(WordKind.Atom, s[start..pos]));
                continue;
            }
            return; // '<', '>', ':', '@', ',', ';'
        }
    }

    private static string ReadQuoted(string s, ref int pos)
    {
        var sb = new StringBuilder();
        pos++;
        while (pos < s.Length && s[pos] != '"')
        {
            if (s[pos] == '\\' && pos + 1 < s.Length) pos++;
            if (s[pos] is not ('\r' or '\n')) sb.Append(s[pos]);
            pos++;
        }
        if (pos < s.Length) pos++;
        return sb.ToString();
    }

    private static void SkipCfws(string s, ref int pos)
    {
        while (pos < s.Length)
        {
            char c = s[pos];
            if (c is ' ' or '\t' or '\r' or '\n') pos++;
            else if (c == '(') SkipComment(s, ref pos);
            else return;
        }
    }

    private static void SkipComment(string s, ref int pos)
    {
        int depth = 0;
        while (pos < s.Length)
        {
            char c = s[pos];
            if (c == '\\') { pos += 2; continue; }
            if (c == '(') depth++;
            else if (c == ')' && --depth == 0) { pos++; return; }
            pos++;
        }
        pos = s.Length;
    }

    /// <summary>RFC 5322 §3.2.3 atext, extended with non-ASCII (RFC 6532 §3.2).</summary>
    public static bool IsAtext(char c) =>
        c >= 0x80 || char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~".Contains(c, StringComparison.Ordinal);
}
