using Postern.Mail.Mbox;
using Postern.Store;

namespace Postern.Import;

/// <summary>Where an import reports progress and skipped entries.</summary>
internal interface IImportObserver
{
    /// <summary>Bytes of input read so far (for a progress bar over the input size).</summary>
    void InputPosition(long bytes);

    /// <summary>A malformed entry was skipped; <paramref name="where"/> says where (file, byte offset and line, or file name).</summary>
    void Skipped(string where, string problem);
}

/// <summary>Reads mbox files and maildirs and hands their messages to a <see cref="MessageImporter"/>.</summary>
internal static class MailImports
{
    /// <summary>Largest message imported; bigger ones are reported and skipped.</summary>
    public const long MaxMessageBytes = MboxReadOptions.DefaultMaxMessageBytes;

    /// <summary>The mbox files to import for a path: the file itself, or every *.mbox file under a folder
    /// (written by `postern export mbox`), each with the mailbox its relative path names.</summary>
    public static List<(string File, string Mailbox)> MboxFiles(string path, string? mailbox)
    {
        if (!Directory.Exists(path))
            return [(path, mailbox ?? "INBOX")];
        var root = Path.GetFullPath(path);
        return Directory.EnumerateFiles(root, "*.mbox", SearchOption.AllDirectories)
            .Select(f =>
            {
                var rel = Path.GetRelativePath(root, f);
                var name = MailboxNameCodec.FromFileSystemPath(rel[..^".mbox".Length]);
                return (f, mailbox is null ? name : mailbox + "/" + name);
            })
            .OrderBy(f => f.Item2, StringComparer.Ordinal)
            .ToList();
    }

    public static async Task ImportMboxAsync(string file, string mailbox, MboxFormat format, MessageImporter importer, IImportObserver observer, long inputOffset, CancellationToken cancellationToken)
    {
        await using var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        using var reader = new MboxReader(input, new MboxReadOptions { Format = format, MaxMessageBytes = MaxMessageBytes }, leaveOpen: true);
        long mailboxId = await importer.MailboxIdAsync(mailbox, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var spool = importer.StartMessage();
            MboxEntry? entry;
            try
            {
                entry = reader.ReadNext(spool);
            }
            catch
            {
                spool.Discard();
                throw;
            }
            if (entry is null)
            {
                spool.Discard();
                break;
            }
            observer.InputPosition(inputOffset + reader.Position);
            if (entry.Problem is not null)
            {
                spool.Discard();
                observer.Skipped($"{file}: byte {entry.Offset} (line {entry.Line})", entry.Problem);
                continue;
            }
            var (flags, keywords) = Cli.CliCommon.ParseFlagNames(entry.Flags);
            await importer.AddAsync(mailboxId, spool, flags, keywords, entry.EnvelopeDate, cancellationToken).ConfigureAwait(false);
        }
    }

    public static async Task ImportMaildirAsync(string root, string? mailbox, MessageImporter importer, IImportObserver observer, CancellationToken cancellationToken)
    {
        long done = 0;
        foreach (var (dir, sub) in MaildirReader.Folders(root))
        {
            string target = sub.Length == 0 ? mailbox ?? "INBOX" : mailbox is null ? sub : mailbox + "/" + sub;
            long mailboxId = await importer.MailboxIdAsync(target, cancellationToken).ConfigureAwait(false);
            foreach (var message in MaildirReader.Messages(dir, target))
            {
                cancellationToken.ThrowIfCancellationRequested();
                done++;
                observer.InputPosition(done);
                if (message.Length <= 0 || message.Length > MaxMessageBytes)
                {
                    observer.Skipped(message.Path, message.Length switch
                    {
                        < 0 => "cannot read the file",
                        0 => "empty file",
                        _ => $"message larger than the limit of {MaxMessageBytes} bytes",
                    });
                    continue;
                }
                var spool = importer.StartMessage();
                try
                {
                    await using (var input = new FileStream(message.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
                        CrlfNormalizer.Copy(input, spool);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    spool.Discard();
                    observer.Skipped(message.Path, "cannot read the file: " + e.Message);
                    continue;
                }
                catch
                {
                    spool.Discard();
                    throw;
                }
                await importer.AddAsync(mailboxId, spool, message.Flags, message.Keywords, message.InternalDate, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>True when the folder is a maildir or holds Maildir++ subfolders.</summary>
    public static bool HasMaildir(string root) => MaildirReader.Folders(root).Any();

    /// <summary>Number of message files under a maildir (for a progress bar).</summary>
    public static long CountMaildirFiles(string root)
    {
        long n = 0;
        foreach (var (dir, _) in MaildirReader.Folders(root))
        {
            foreach (var sub in new[] { "cur", "new" })
            {
                var d = Path.Combine(dir, sub);
                if (Directory.Exists(d))
                    n += Directory.EnumerateFiles(d).LongCount();
            }
        }
        return n;
    }
}
