using System.Globalization;
using System.Text;
using Postern.Store;

namespace Postern.Import;

/// <summary>
/// Writes one maildir folder: messages into cur/ with their flags in the name, keywords in
/// dovecot-keywords and the message order in dovecot-uidlist, so Dovecot and
/// <see cref="MaildirReader"/> read back the same order and flags.
/// </summary>
/// <remarks>
/// Message bytes are written exactly as stored (CRLF line endings), so reading back is
/// byte-for-byte; mail programs reading maildir accept CRLF. Each file is written to tmp/,
/// flushed, and renamed into cur/ as the maildir specification prescribes; the modification
/// time is set to the internal date.
/// </remarks>
internal sealed class MaildirWriter
{
    private readonly string _folder;
    private readonly List<string> _keywordNames = [];
    private readonly StringBuilder _uidList = new();
    private readonly string _host;
    private long _counter;
    private uint _lastUid;

    public MaildirWriter(string folder)
    {
        _folder = folder;
        foreach (var sub in new[] { "cur", "new", "tmp" })
            Directory.CreateDirectory(Path.Combine(folder, sub));
        // The specification's unique names contain the host name; '/' and ':' are replaced (they would break the name).
        _host = Environment.MachineName.Replace('/', '-').Replace(':', '-');
    }

    /// <summary>Keywords that could not be written because the folder already had 26.</summary>
    public List<string> LostKeywords { get; } = [];

    public async Task WriteAsync(Stream content, SystemFlags flags, IEnumerable<string> keywords, DateTimeOffset internalDate, CancellationToken cancellationToken)
    {
        var (letters, lost) = MaildirFlags.ToLetters(flags, keywords, _keywordNames);
        LostKeywords.AddRange(lost);
        _counter++;
        string unique = string.Create(CultureInfo.InvariantCulture, $"{internalDate.ToUnixTimeSeconds()}.M{_counter}P{Environment.ProcessId}.{_host}");
        var tmp = Path.Combine(_folder, "tmp", unique);
        await using (var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous))
        {
            await content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
        }
        File.SetLastWriteTimeUtc(tmp, internalDate.UtcDateTime);
        var final = Path.Combine(_folder, "cur", unique + ":2," + letters);
        File.Move(tmp, final);
        _lastUid++;
        _uidList.Append(_lastUid.ToString(CultureInfo.InvariantCulture)).Append(" :").Append(unique).Append('\n');
    }

    /// <summary>Writes dovecot-keywords and dovecot-uidlist.</summary>
    public void Finish(uint uidValidity)
    {
        MaildirFlags.WriteKeywordsFile(_folder, _keywordNames);
        // Dovecot uidlist version 3 header: V uidvalidity, N next uid.
        var header = string.Create(CultureInfo.InvariantCulture, $"3 V{uidValidity} N{_lastUid + 1}\n");
        File.WriteAllText(Path.Combine(_folder, MaildirReader.UidListFileName), header + _uidList, new UTF8Encoding(false));
    }
}
