// `postern import` into a running server: the command sends the request through the control
// socket and the server imports with its own store, so that its in-process caches (the mailbox
// list cache assumes one writing process per account) and IMAP sessions see the new messages at
// once. On a stopped server the command writes the data folder itself (ImportCommands).
using System.Globalization;
using System.Text;
using System.Text.Json;
using Postern.Import;
using Postern.Mail.Mbox;
using Postern.Store.Sqlite;

namespace Postern.Serve;

/// <summary>An import as the CLI sends it (JSON after "import " on the control socket). Paths are absolute.</summary>
internal sealed record ImportRequest(string Kind, string Path, string Account, string? Mailbox, MboxFormat Format = MboxFormat.Mboxrd);

/// <summary>Runs imports inside the server and formats the answer the CLI prints.</summary>
internal static class ImportControl
{
    public const string Prefix = "import ";

    /// <summary>Last line of an answer: the exit code the CLI returns.</summary>
    public const string ExitPrefix = "exit ";

    /// <summary>Skipped entries listed in an answer; more are counted only.</summary>
    public const int MaxListedSkips = 1000;

    public static string Encode(ImportRequest request) => Prefix + JsonSerializer.Serialize(request);

    public static ImportRequest? Decode(string line)
    {
        try
        {
            return line.StartsWith(Prefix, StringComparison.Ordinal) ? JsonSerializer.Deserialize<ImportRequest>(line[Prefix.Length..]) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Imports into <paramref name="store"/>; the answer's lines are "skipped ..." (for stderr), the summary, and "exit N".</summary>
    public static async Task<string> RunAsync(SqliteMailStore store, ImportRequest r, CancellationToken ct)
    {
        var o = new StringBuilder();
        string Fail(string message) => o.Append("error: ").AppendLine(message).Append(ExitPrefix).AppendLine("1").ToString();
        if (!System.IO.Path.IsPathFullyQualified(r.Path))
            return Fail($"{r.Path}: the path must be absolute");
        if (await store.Directory.GetAccountAsync(r.Account, ct).ConfigureAwait(false) is null)
            return Fail($"account {r.Account} not found");
        var observer = new CollectingObserver();
        Func<MessageImporter, CancellationToken, Task> import;
        try
        {
            switch (r.Kind)
            {
                case "mbox":
                    if (!File.Exists(r.Path) && !Directory.Exists(r.Path)) return Fail($"{r.Path}: no such file (as the server's user sees it)");
                    var files = MailImports.MboxFiles(r.Path, r.Mailbox);
                    if (files.Count == 0) return Fail($"{r.Path}: no *.mbox files in this folder");
                    import = async (importer, token) =>
                    {
                        long offset = 0;
                        foreach (var (f, mb) in files)
                        {
                            await MailImports.ImportMboxAsync(f, mb, r.Format, importer, observer, offset, token).ConfigureAwait(false);
                            offset += new FileInfo(f).Length;
                        }
                    };
                    break;
                case "maildir":
                    if (!Directory.Exists(r.Path)) return Fail($"{r.Path}: no such folder (as the server's user sees it)");
                    if (!MailImports.HasMaildir(r.Path)) return Fail($"{r.Path}: not a maildir (no cur/ or new/ folder, no Maildir++ subfolder)");
                    import = (importer, token) => MailImports.ImportMaildirAsync(r.Path, r.Mailbox, importer, observer, token);
                    break;
                default:
                    return Fail($"unknown import kind \"{r.Kind}\"");
            }
        }
        catch (UnauthorizedAccessException e)
        {
            return Fail($"the server's user cannot read {r.Path}: {e.Message}");
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var account = await store.OpenAccountAsync(r.Account, ct).ConfigureAwait(false);
        await using var importer = new MessageImporter(account);
        string? stopped = null;
        try
        {
            await import(importer, ct).ConfigureAwait(false);
            await importer.CompleteAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Store.StoreException or IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            stopped = e is OperationCanceledException ? "the server is stopping" : e.Message;
        }
        foreach (string line in observer.Lines) o.AppendLine(line);
        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 0.001);
        o.Append(CultureInfo.InvariantCulture, $"imported {importer.Imported} messages ({importer.ImportedBytes / 1e6:0.0} MB) in {seconds:0.0} s through the running server: {importer.Imported / seconds:0} messages/s");
        if (observer.Count > 0) o.Append(CultureInfo.InvariantCulture, $"; {observer.Count} malformed {(observer.Count == 1 ? "entry" : "entries")} skipped");
        o.AppendLine();
        if (stopped is not null)
            return o.Append(CultureInfo.InvariantCulture, $"error: import stopped: {stopped} (the {importer.Imported} messages counted above are stored)\n{ExitPrefix}1\n").ToString();
        return o.Append(ExitPrefix).AppendLine(observer.Count > 0 ? "2" : "0").ToString();
    }

    /// <summary>Keeps skipped entries for the answer (bounded); progress is not reported through the socket.</summary>
    private sealed class CollectingObserver : IImportObserver
    {
        public List<string> Lines { get; } = [];
        public int Count { get; private set; }

        public void InputPosition(long bytes)
        {
        }

        public void Skipped(string where, string problem)
        {
            lock (Lines)
            {
                Count++;
                if (Lines.Count < MaxListedSkips) Lines.Add($"skipped {where}: {problem}".ReplaceLineEndings(" "));
            }
        }
    }
}
