using System.CommandLine;
using Postern.Import;
using Postern.Mail.Mbox;
using Postern.Store;

namespace Postern.Cli;

/// <summary>
/// `postern export mbox|maildir`: an account's mailboxes to files that `postern import` (and
/// other mail programs) read back with the same bytes and flags.
/// </summary>
internal static class ExportCommands
{
    /// <summary>Messages listed from the store at a time, so memory does not grow with the mailbox.</summary>
    public const int UidPage = 2000;

    public static Command Create()
    {
        var export = new Command("export", "Export an account's mailboxes to mbox files or a maildir.");
        export.Subcommands.Add(Build("mbox", "Write each mailbox as DEST/<mailbox>.mbox (mboxrd, flags in a header block Postern removes again on import)."));
        export.Subcommands.Add(Build("maildir", "Write the account as a Maildir++ tree: INBOX in DEST, other mailboxes in DEST/.Name; with --mailbox, that mailbox in DEST."));
        return export;
    }

    private static Command Build(string format, string description)
    {
        var account = new Argument<string>("ACCOUNT") { Description = "Account to export." };
        var dest = new Argument<string>("DEST") { Description = "Folder to write; must not exist or be empty." };
        var mailbox = new Option<string?>("--mailbox") { Description = "Export only this mailbox.", HelpName = "NAME" };
        var dir = CliCommon.DataDirectoryOption();
        var cmd = new Command(format, description) { account, dest, mailbox, dir };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            var destination = parse.GetValue(dest)!;
            if (File.Exists(destination) || (Directory.Exists(destination) && Directory.EnumerateFileSystemEntries(destination).Any()))
                return CliCommon.Fail($"{destination} exists and is not an empty folder");
            await using var store = CliCommon.OpenExisting(parse.GetValue(dir)!);
            if (store is null)
                return CliCommon.ExitError;
            var accountName = parse.GetValue(account)!;
            if (await store.Directory.GetAccountAsync(accountName, ct).ConfigureAwait(false) is null)
                return CliCommon.Fail($"account {accountName} not found");
            await using var store1 = await store.OpenAccountAsync(accountName, ct).ConfigureAwait(false);
            var only = parse.GetValue(mailbox);
            var mailboxes = (await store1.ListMailboxesAsync(ct).ConfigureAwait(false)).Where(m => m.Selectable).ToList();
            if (only is not null)
            {
                var found = await store1.GetMailboxAsync(only, ct).ConfigureAwait(false);
                if (found is null || !found.Selectable)
                    return CliCommon.Fail($"mailbox {only} not found");
                mailboxes = [found];
            }
            Directory.CreateDirectory(destination);
            long messages = 0, lostKeywords = 0;
            foreach (var mb in mailboxes)
            {
                var (count, lost) = format == "mbox"
                    ? (await ExportMboxAsync(store1, mb, destination, ct).ConfigureAwait(false), 0)
                    : await ExportMaildirAsync(store1, mb, destination, only is not null, ct).ConfigureAwait(false);
                messages += count;
                lostKeywords += lost;
            }
            Console.Out.WriteLine($"exported {messages} messages from {mailboxes.Count} mailboxes to {destination}");
            if (lostKeywords > 0)
                Console.Error.WriteLine($"warning: {lostKeywords} keywords not written: a maildir folder holds at most {MaildirFlags.MaxKeywordLetters} keywords");
            return CliCommon.ExitOk;
        }));
        return cmd;
    }

    /// <summary>The messages of a mailbox in UID order, a page at a time.</summary>
    private static async IAsyncEnumerable<MessageRecord> MessagesAsync(IAccountStore account, MailboxInfo mailbox, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        uint next = 1;
        while (next < mailbox.UidNext)
        {
            uint last = (uint)Math.Min((long)next + UidPage - 1, mailbox.UidNext - 1L);
            foreach (var record in await account.GetMessagesAsync(mailbox.Id, UidSet.Range(next, last), ct).ConfigureAwait(false))
                yield return record;
            if (last == uint.MaxValue)
                break;
            next = last + 1;
        }
    }

    private static async Task<long> ExportMboxAsync(IAccountStore account, MailboxInfo mailbox, string destination, CancellationToken ct)
    {
        var path = Path.Combine(destination, MailboxNameCodec.ToFileSystemPath(mailbox.Name) + ".mbox");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        long count = 0;
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
        using (var writer = new MboxWriter(file, leaveOpen: true))
        {
            await foreach (var record in MessagesAsync(account, mailbox, ct).ConfigureAwait(false))
            {
                await using var content = await account.OpenContentAsync(mailbox.Id, record.Uid, ct).ConfigureAwait(false);
                writer.WriteMessage(content, null, record.InternalDate, CliCommon.FlagNames(record.Flags, record.Keywords));
                count++;
            }
        }
        file.Flush(flushToDisk: true);
        return count;
    }

    private static async Task<(long Count, long LostKeywords)> ExportMaildirAsync(IAccountStore account, MailboxInfo mailbox, string destination, bool asRoot, CancellationToken ct)
    {
        bool inbox = mailbox.Name.Equals("INBOX", StringComparison.OrdinalIgnoreCase);
        var folder = asRoot || inbox ? destination : Path.Combine(destination, MailboxNameCodec.ToMaildirFolder(mailbox.Name));
        var writer = new MaildirWriter(folder);
        long count = 0;
        await foreach (var record in MessagesAsync(account, mailbox, ct).ConfigureAwait(false))
        {
            await using var content = await account.OpenContentAsync(mailbox.Id, record.Uid, ct).ConfigureAwait(false);
            await writer.WriteAsync(content, record.Flags, record.Keywords, record.InternalDate, ct).ConfigureAwait(false);
            count++;
        }
        writer.Finish(mailbox.UidValidity);
        return (count, writer.LostKeywords.Count);
    }
}
