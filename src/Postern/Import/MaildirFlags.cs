using System.Globalization;
using System.Text;
using Postern.Store;

namespace Postern.Import;

/// <summary>
/// Flags in maildir file names ("unique:2,FLAGS", the maildir specification's "info" part) and
/// the keyword letters of Dovecot's <c>dovecot-keywords</c> file.
/// </summary>
/// <remarks>
/// Upper-case letters are the standard flags: D draft, F flagged, P passed (forwarded; kept as
/// the keyword <c>$Forwarded</c>, RFC 5550 §5.9), R replied, S seen, T trashed (deleted).
/// Lower-case letters a–z are keywords numbered 0–25 in <c>dovecot-keywords</c> ("N name" per
/// line). A folder can thus carry at most 26 keywords besides $Forwarded.
/// </remarks>
internal static class MaildirFlags
{
    public const string KeywordsFileName = "dovecot-keywords";
    public const string ForwardedKeyword = "$Forwarded";
    public const int MaxKeywordLetters = 26;

    /// <summary>Largest dovecot-keywords file read; larger ones are ignored.</summary>
    public const int MaxKeywordsFileBytes = 64 * 1024;

    /// <summary>Splits a file name into its unique part and its flag letters (empty when it has no "2," info).</summary>
    public static (string Unique, string Letters) SplitName(string fileName)
    {
        // The specification uses ':'; file systems that forbid it get ';' (or '!') by convention.
        int sep = fileName.LastIndexOfAny([':', ';', '!']);
        if (sep < 0)
            return (fileName, "");
        var info = fileName.AsSpan(sep + 1);
        if (info.StartsWith("2,"))
            return (fileName[..sep], info[2..].ToString());
        return (fileName[..sep], "");
    }

    public static (SystemFlags Flags, List<string> Keywords) FromLetters(string letters, IReadOnlyList<string?> keywordNames)
    {
        var flags = SystemFlags.None;
        var keywords = new List<string>();
        foreach (char c in letters)
        {
            switch (c)
            {
                case 'D': flags |= SystemFlags.Draft; break;
                case 'F': flags |= SystemFlags.Flagged; break;
                case 'P': AddKeyword(keywords, ForwardedKeyword); break;
                case 'R': flags |= SystemFlags.Answered; break;
                case 'S': flags |= SystemFlags.Seen; break;
                case 'T': flags |= SystemFlags.Deleted; break;
                case >= 'a' and <= 'z':
                    int index = c - 'a';
                    if (index < keywordNames.Count && keywordNames[index] is { } name)
                        AddKeyword(keywords, name);
                    break;
            }
        }
        return (flags, keywords);
    }

    /// <summary>The info letters for a message, in ASCII order as the specification asks; keywords not yet lettered get the next free letter.</summary>
    /// <returns>The letters, and the keywords that could not be given a letter (more than 26 in the folder).</returns>
    public static (string Letters, List<string> Unrepresentable) ToLetters(SystemFlags flags, IEnumerable<string> keywords, List<string> keywordNames)
    {
        var letters = new List<char>();
        var lost = new List<string>();
        if (flags.HasFlag(SystemFlags.Draft)) letters.Add('D');
        if (flags.HasFlag(SystemFlags.Flagged)) letters.Add('F');
        if (flags.HasFlag(SystemFlags.Answered)) letters.Add('R');
        if (flags.HasFlag(SystemFlags.Seen)) letters.Add('S');
        if (flags.HasFlag(SystemFlags.Deleted)) letters.Add('T');
        foreach (var k in keywords)
        {
            if (k.Equals(ForwardedKeyword, StringComparison.OrdinalIgnoreCase))
            {
                letters.Add('P');
                continue;
            }
            int index = keywordNames.FindIndex(n => n.Equals(k, StringComparison.OrdinalIgnoreCase));
            if (index < 0 && keywordNames.Count < MaxKeywordLetters)
            {
                keywordNames.Add(k);
                index = keywordNames.Count - 1;
            }
            if (index < 0)
                lost.Add(k);
            else
                letters.Add((char)('a' + index));
        }
        letters.Sort();
        return (new string(letters.Distinct().ToArray()), lost);
    }

    /// <summary>Reads a folder's dovecot-keywords file; index i holds the keyword of letter 'a'+i.</summary>
    public static List<string?> ReadKeywordsFile(string folder)
    {
        var names = new List<string?>();
        var path = Path.Combine(folder, KeywordsFileName);
        var info = new FileInfo(path);
        if (!info.Exists || info.Length > MaxKeywordsFileBytes)
            return names;
        foreach (var line in File.ReadAllLines(path, Encoding.UTF8))
        {
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0 || !int.TryParse(line.AsSpan(0, space), NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index >= MaxKeywordLetters)
                continue;
            var name = line[(space + 1)..].Trim();
            if (!Postern.Mail.Mbox.MboxFlagHeaders.IsKeyword(name))
                continue;
            while (names.Count <= index)
                names.Add(null);
            names[index] = name;
        }
        return names;
    }

    public static void WriteKeywordsFile(string folder, IReadOnlyList<string> names)
    {
        if (names.Count == 0)
            return;
        var sb = new StringBuilder();
        for (int i = 0; i < names.Count; i++)
            sb.Append(i.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(names[i]).Append('\n');
        File.WriteAllText(Path.Combine(folder, KeywordsFileName), sb.ToString(), new UTF8Encoding(false));
    }

    private static void AddKeyword(List<string> keywords, string name)
    {
        if (!keywords.Contains(name, StringComparer.OrdinalIgnoreCase))
            keywords.Add(name);
    }
}
