using System.Globalization;
using Postern.Store;

namespace Postern.Import;

/// <summary>A message file found in a maildir, with what its name and folder say about it.</summary>
internal sealed record MaildirMessage(string Path, string Mailbox, SystemFlags Flags, IReadOnlyList<string> Keywords, DateTimeOffset InternalDate, long Length);

/// <summary>
/// Lists the messages of a maildir (cur/ and new/; tmp/ holds deliveries in progress and is
/// skipped) and of its Maildir++ subfolders (".Sub.Folder" is mailbox "Sub/Folder").
/// </summary>
/// <remarks>
/// Maildir has no message order. When Dovecot's <c>dovecot-uidlist</c> is present its UIDs give
/// the order; other files follow, ordered by the delivery time at the start of their unique
/// name, then by name. The file's modification time is the internal date, as Dovecot keeps it.
/// Messages are listed one folder at a time, so memory grows with the largest folder's count of
/// file names, not with message sizes.
/// </remarks>
internal static class MaildirReader
{
    public const string UidListFileName = "dovecot-uidlist";

    /// <summary>Largest dovecot-uidlist read; larger ones are ignored (order by name instead).</summary>
    public const long MaxUidListBytes = 256L * 1024 * 1024;

    public static bool IsMaildir(string dir) => Directory.Exists(Path.Combine(dir, "cur")) || Directory.Exists(Path.Combine(dir, "new"));

    /// <summary>The folders to import: the root (mailbox ""), then Maildir++ subfolders, by name.</summary>
    public static IEnumerable<(string Dir, string Mailbox)> Folders(string root)
    {
        if (IsMaildir(root))
            yield return (root, "");
        var subs = Directory.EnumerateDirectories(root)
            .Select(d => (Dir: d, Name: Path.GetFileName(d)))
            .Where(d => d.Name.Length > 1 && d.Name[0] == '.' && d.Name != ".." && IsMaildir(d.Dir))
            .OrderBy(d => d.Name, StringComparer.Ordinal);
        foreach (var (dir, name) in subs)
            yield return (dir, MailboxNameCodec.FromMaildirFolder(name));
    }

    /// <summary>The messages of one folder, in import order. Only file names are held while sorting
    /// (about 150 bytes per message); the rest is looked up as each message is reached.</summary>
    public static IEnumerable<MaildirMessage> Messages(string folder, string mailbox)
    {
        var keywordNames = MaildirFlags.ReadKeywordsFile(folder);
        var uids = ReadUidList(folder);
        var files = new List<(string Name, bool IsNew, long Order)>();
        foreach (var sub in new[] { "cur", "new" })
        {
            var dir = Path.Combine(folder, sub);
            if (!Directory.Exists(dir))
                continue;
            foreach (var path in Directory.EnumerateFiles(dir))
            {
                var name = Path.GetFileName(path);
                if (name.StartsWith('.'))
                    continue;
                var unique = MaildirFlags.SplitName(name).Unique;
                long order = uids.TryGetValue(unique, out var uid) ? uid : long.MaxValue;
                files.Add((name, sub == "new", order));
            }
        }
        uids.Clear();
        files.Sort((a, b) =>
        {
            int c = a.Order.CompareTo(b.Order);
            if (c != 0) return c;
            var ua = MaildirFlags.SplitName(a.Name).Unique;
            var ub = MaildirFlags.SplitName(b.Name).Unique;
            c = LeadingNumber(ua).CompareTo(LeadingNumber(ub));
            return c != 0 ? c : string.CompareOrdinal(ua, ub);
        });
        foreach (var f in files)
        {
            var path = Path.Combine(folder, f.IsNew ? "new" : "cur", f.Name);
            var (flags, keywords) = MaildirFlags.FromLetters(MaildirFlags.SplitName(f.Name).Letters, keywordNames);
            DateTimeOffset date;
            long length;
            try
            {
                var info = new FileInfo(path);
                date = new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero);
                length = info.Exists ? info.Length : -1;
            }
            catch (IOException)
            {
                date = DateTimeOffset.UtcNow;
                length = -1;
            }
            yield return new MaildirMessage(path, mailbox, flags, keywords, date, length);
        }
    }

    private static long LeadingNumber(string unique)
    {
        int n = 0;
        while (n < unique.Length && n < 18 && char.IsAsciiDigit(unique[n]))
            n++;
        return n == 0 ? long.MaxValue : long.Parse(unique.AsSpan(0, n), CultureInfo.InvariantCulture);
    }

    /// <summary>Reads Dovecot's UID list: a header line, then "UID [extensions] :unique-name" per message.</summary>
    private static Dictionary<string, long> ReadUidList(string folder)
    {
        var map = new Dictionary<string, long>(StringComparer.Ordinal);
        var path = Path.Combine(folder, UidListFileName);
        var info = new FileInfo(path);
        if (!info.Exists || info.Length > MaxUidListBytes)
            return map;
        bool first = true;
        foreach (var line in File.ReadLines(path))
        {
            if (first)
            {
                first = false;
                continue;
            }
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            int colon = line.IndexOf(" :", StringComparison.Ordinal);
            if (space <= 0 || colon < 0 || !long.TryParse(line.AsSpan(0, space), NumberStyles.None, CultureInfo.InvariantCulture, out long uid))
                continue;
            var name = MaildirFlags.SplitName(line[(colon + 2)..]).Unique;
            map.TryAdd(name, uid);
        }
        return map;
    }
}
