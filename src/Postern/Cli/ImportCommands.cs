using System.CommandLine;
using Postern.Import;
using Postern.Mail.Mbox;
using Postern.Serve;

namespace Postern.Cli;

/// <summary>`postern import mbox|maildir`: messages from mail files into an account's mailbox.</summary>
internal static class ImportCommands
{
    public static Command Create()
    {
        var import = new Command("import", "Import messages from mbox files or maildirs into an account.");
        import.Subcommands.Add(Mbox());
        import.Subcommands.Add(Maildir());
        return import;
    }

    private static Command Mbox()
    {
        var file = new Argument<string>("FILE") { Description = "The mbox file, or a folder of *.mbox files (as `postern export mbox` writes), each going to the mailbox its path names." };
        var account = new Argument<string>("ACCOUNT") { Description = "Account to import into." };
        var mailbox = new Argument<string?>("MAILBOX") { Description = "Mailbox to import into, created if needed (default INBOX; for a folder, the parent of the mailboxes).", Arity = ArgumentArity.ZeroOrOne };
        var format = new Option<MboxFormat>("--format")
        {
            Description = "mbox variant: Mboxrd (default; also right for most mboxo files), Mboxo, Mboxcl, Mboxcl2.",
            DefaultValueFactory = _ => MboxFormat.Mboxrd,
        };
        var dir = CliCommon.DataDirectoryOption();
        var logBatches = LogBatchesOption();
        var cmd = new Command("mbox", "Import an mbox file. Malformed entries are reported with their position and skipped; exit code 2 when any were.")
        {
            file, account, mailbox, format, dir, logBatches,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path) && !Directory.Exists(path))
                return CliCommon.Fail($"{path}: no such file");
            var files = MailImports.MboxFiles(path, parse.GetValue(mailbox));
            if (files.Count == 0)
                return CliCommon.Fail($"{path}: no *.mbox files in this folder");
            if (await ControlSocket.IsServerRunningAsync(parse.GetValue(dir)!).ConfigureAwait(false))
                return await ThroughServerAsync(parse.GetValue(dir)!, new ImportRequest("mbox", Path.GetFullPath(path), parse.GetValue(account)!, parse.GetValue(mailbox), parse.GetValue(format))).ConfigureAwait(false);
            long total = files.Sum(f => new FileInfo(f.File).Length);
            var view = new ImportProgressView(total, "");
            var mboxFormat = parse.GetValue(format);
            return await RunAsync(parse.GetValue(dir)!, parse.GetValue(account)!, view, parse.GetValue(logBatches), async (importer, token) =>
            {
                long offset = 0;
                foreach (var (f, mb) in files)
                {
                    await MailImports.ImportMboxAsync(f, mb, mboxFormat, importer, view, offset, token).ConfigureAwait(false);
                    offset += new FileInfo(f).Length;
                }
            }, ct).ConfigureAwait(false);
        }));
        return cmd;
    }

    private static Command Maildir()
    {
        var folder = new Argument<string>("DIR") { Description = "The maildir (with cur/ and new/); Maildir++ subfolders (.Sub.Folder) become mailboxes Sub/Folder." };
        var account = new Argument<string>("ACCOUNT") { Description = "Account to import into." };
        var mailbox = new Argument<string?>("MAILBOX") { Description = "Mailbox for the maildir's own messages, created if needed (default INBOX); subfolders go below it when given.", Arity = ArgumentArity.ZeroOrOne };
        var dir = CliCommon.DataDirectoryOption();
        var logBatches = LogBatchesOption();
        var cmd = new Command("maildir", "Import a maildir with its flags and Dovecot keywords. Unreadable entries are reported and skipped; exit code 2 when any were.")
        {
            folder, account, mailbox, dir, logBatches,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            var root = parse.GetValue(folder)!;
            if (!Directory.Exists(root))
                return CliCommon.Fail($"{root}: no such folder");
            if (!MailImports.HasMaildir(root))
                return CliCommon.Fail($"{root}: not a maildir (no cur/ or new/ folder, no Maildir++ subfolder)");
            if (await ControlSocket.IsServerRunningAsync(parse.GetValue(dir)!).ConfigureAwait(false))
                return await ThroughServerAsync(parse.GetValue(dir)!, new ImportRequest("maildir", Path.GetFullPath(root), parse.GetValue(account)!, parse.GetValue(mailbox))).ConfigureAwait(false);
            var view = new ImportProgressView(MailImports.CountMaildirFiles(root), "");
            var target = parse.GetValue(mailbox);
            return await RunAsync(parse.GetValue(dir)!, parse.GetValue(account)!, view, parse.GetValue(logBatches),
                (importer, token) => MailImports.ImportMaildirAsync(root, target, importer, view, token), ct).ConfigureAwait(false);
        }));
        return cmd;
    }

    private static Option<bool> LogBatchesOption() => new("--log-batches")
    {
        Description = "Print \"committed N\" after each durable batch: messages up to N are stored even if the import is interrupted (stopped server only).",
    };

    /// <summary>
    /// A running server imports itself (its caches and IMAP sessions see the messages at once): the
    /// request goes through the control socket and the server's answer is printed, skipped entries
    /// and errors on standard error. The server's user must be able to read the files.
    /// </summary>
    private static async Task<int> ThroughServerAsync(string dataDir, ImportRequest request)
    {
        Console.Out.WriteLine($"a server is running on {dataDir}: importing through it");
        string answer;
        try
        {
            answer = await ControlSocket.SendAsync(dataDir, ImportControl.Encode(request), Timeout.InfiniteTimeSpan).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            return CliCommon.Fail($"{e.Message}; messages committed before that are stored");
        }
        int exit = CliCommon.ExitError;
        foreach (string line in answer.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith(ImportControl.ExitPrefix, StringComparison.Ordinal))
                exit = int.TryParse(line.AsSpan(ImportControl.ExitPrefix.Length), System.Globalization.CultureInfo.InvariantCulture, out int code) ? code : CliCommon.ExitError;
            else if (line.StartsWith("skipped ", StringComparison.Ordinal) || line.StartsWith("error: ", StringComparison.Ordinal))
                Console.Error.WriteLine(line);
            else
                Console.Out.WriteLine(line);
        }
        return exit;
    }

    private static async Task<int> RunAsync(string dataDir, string accountName, ImportProgressView view, bool logBatches, Func<MessageImporter, CancellationToken, Task> import, CancellationToken ct)
    {
        await using var store = CliCommon.OpenExisting(dataDir);
        if (store is null)
            return CliCommon.ExitError;
        if (await store.Directory.GetAccountAsync(accountName, ct).ConfigureAwait(false) is null)
            return CliCommon.Fail($"account {accountName} not found");
        await using var account = await store.OpenAccountAsync(accountName, ct).ConfigureAwait(false);
        await using var importer = new MessageImporter(account)
        {
            Committed = (messages, bytes) =>
            {
                view.Committed(messages, bytes);
                if (logBatches)
                    Console.Out.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"committed {messages}"));
            },
        };
        try
        {
            await view.RunAsync(async () =>
            {
                await import(importer, ct).ConfigureAwait(false);
                await importer.CompleteAsync(ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Store.StoreException or IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            Console.Out.WriteLine(view.Summary(importer.Imported, importer.ImportedBytes));
            return CliCommon.Fail($"import stopped: {e.Message} (the {importer.Imported} messages counted above are stored)");
        }
        Console.Out.WriteLine(view.Summary(importer.Imported, importer.ImportedBytes));
        return view.SkippedCount > 0 ? CliCommon.ExitSkipped : CliCommon.ExitOk;
    }
}
