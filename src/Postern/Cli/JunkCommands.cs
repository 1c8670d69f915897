// `postern junk ...`: the junk filter of each account (docs/junk.md). These commands work on the
// data folder directly, also while the server runs: they read the account's messages and write
// only its junk training (accounts/NAME/junk.db), which SQLite's locking shares with the server.
using System.CommandLine;
using System.Globalization;
using Postern.Store;
using Postern.Store.Junk;

namespace Postern.Cli;

/// <summary><c>postern junk status|check|train|retrain|set</c>.</summary>
internal static class JunkCommands
{
    /// <summary>Most message files `junk train` reads in one run.</summary>
    public const int MaxTrainFiles = 100_000;

    public static Command Create()
    {
        var junk = new Command("junk", "The junk filter of each account: how much it has learned, what it thinks of a message, training.");
        junk.Subcommands.Add(StatusCommand());
        junk.Subcommands.Add(CheckCommand());
        junk.Subcommands.Add(TrainCommand());
        junk.Subcommands.Add(RetrainCommand());
        junk.Subcommands.Add(SetCommand());
        return junk;
    }

    private static Option<int> MinTrainedOption() => new("--min-trained")
    {
        Description = "Messages of each kind needed before mail is classified (the server's junk-filter.min-trained).",
        DefaultValueFactory = _ => new JunkFilterOptions().MinJunkMessages,
        HelpName = "N",
    };

    private static Command StatusCommand()
    {
        var account = new Argument<string?>("ACCOUNT") { Description = "Only this account.", Arity = ArgumentArity.ZeroOrOne };
        var dir = CliCommon.DataDirectoryOption();
        var minTrained = MinTrainedOption();
        var cmd = new Command("status", "Per account: junk and non-junk messages trained, words known, and whether incoming mail is classified yet.") { account, dir, minTrained };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            await using var store = CliCommon.OpenExisting(parse.GetValue(dir)!);
            if (store is null) return CliCommon.ExitError;
            var names = parse.GetValue(account) is { } one ? [one] : (await store.Directory.ListAccountsAsync(ct).ConfigureAwait(false)).Select(a => a.Name).ToList();
            int min = parse.GetValue(minTrained);
            foreach (string name in names)
            {
                if (await store.Directory.GetAccountAsync(name, ct).ConfigureAwait(false) is null) return CliCommon.Fail($"account {name} not found");
                await using var a = await store.OpenAccountAsync(name, ct).ConfigureAwait(false);
                var t = await a.JunkWords.GetTotalsAsync(ct).ConfigureAwait(false);
                string state = !t.Enabled ? "off (learning goes on; `postern junk set " + name + " --enabled true` turns it on)"
                    : t.JunkMessages >= min && t.HamMessages >= min ? "classifying"
                    : $"learning (needs {Math.Max(0, min - t.JunkMessages)} more junk, {Math.Max(0, min - t.HamMessages)} more not junk)";
                string threshold = t.Threshold is { } own ? string.Create(CultureInfo.InvariantCulture, $" threshold={own:0.###}") : "";
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: junk={t.JunkMessages} notjunk={t.HamMessages} words={t.Words}{threshold} {state}"));
            }
            return CliCommon.ExitOk;
        }));
        return cmd;
    }

    private static Command CheckCommand()
    {
        var account = new Argument<string>("ACCOUNT") { Description = "Account whose filter judges." };
        var file = new Argument<string>("FILE") { Description = "The message (.eml, as received), or - for standard input." };
        var dir = CliCommon.DataDirectoryOption();
        var minTrained = MinTrainedOption();
        var threshold = new Option<double>("--threshold") { Description = "Probability from which a message is junk (the server's junk-filter.threshold; an account's own, set with `junk set`, wins).", DefaultValueFactory = _ => new JunkFilterOptions().Threshold, HelpName = "P" };
        var words = new Option<int>("--words") { Description = "Print this many of the most telling words.", DefaultValueFactory = _ => 20, HelpName = "N" };
        var cmd = new Command("check", "What an account's junk filter thinks of a message: the probability of junk and the words that decided it.") { account, file, dir, minTrained, threshold, words };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            string name = parse.GetValue(account)!;
            await using var opened = await CliCommon.OpenAccountAsync(parse.GetValue(dir)!, name, ct).ConfigureAwait(false);
            if (opened is null) return CliCommon.ExitError;
            var a = opened.Account;
            double p = parse.GetValue(threshold);
            if (p is <= 0.5 or > 1 || double.IsNaN(p)) return CliCommon.Fail("--threshold must be above 0.5 and at most 1");
            int min = parse.GetValue(minTrained);
            var filter = new JunkFilter(new JunkFilterOptions { Threshold = p, MinJunkMessages = min, MinHamMessages = min });
            byte[] message = await ReadMessageAsync(parse.GetValue(file)!, filter, ct).ConfigureAwait(false);
            var score = await filter.ClassifyAsync(a, message, ct).ConfigureAwait(false);
            if (score.Probability is not double probability)
            {
                var t = await a.JunkWords.GetTotalsAsync(ct).ConfigureAwait(false);
                Console.Out.WriteLine($"not classified: {name} has trained {t.JunkMessages} junk and {t.HamMessages} not-junk messages, {min} of each are needed");
                return CliCommon.ExitOk;
            }
            var totals = await a.JunkWords.GetTotalsAsync(ct).ConfigureAwait(false);
            double effective = totals.Threshold ?? p;
            string off = totals.Enabled ? "" : "; the account's filter is off, so nothing is moved";
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"probability={probability:0.0000} {(score.IsJunk ? "junk" : "not junk")} (threshold {effective:0.###}{(totals.Threshold is null ? "" : ", the account's own")}, {score.Evidence.Count} telling words{off})"));
            foreach (var e in score.Evidence.Take(Math.Max(0, parse.GetValue(words))))
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {e.Probability:0.000} {e.Token}"));
            return CliCommon.ExitOk;
        }));
        return cmd;
    }

    private static Command TrainCommand()
    {
        var account = new Argument<string>("ACCOUNT") { Description = "Account whose filter learns." };
        var kind = new Argument<string>("KIND") { Description = "junk or notjunk." };
        var files = new Argument<string[]>("PATH") { Description = "Message files, or folders whose files (recursively, e.g. a maildir) are messages.", Arity = ArgumentArity.OneOrMore };
        var dir = CliCommon.DataDirectoryOption();
        var cmd = new Command("train", "Teach an account's filter with messages from outside the account, e.g. a collection of junk. Prefer marking messages in a mail client: those can be corrected later, these cannot.")
        {
            account, kind, files, dir,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            var junkClass = parse.GetValue(kind) switch
            {
                "junk" => JunkClass.Junk,
                "notjunk" or "ham" => JunkClass.Ham,
                var other => (JunkClass?)null,
            };
            if (junkClass is null) return CliCommon.Fail($"KIND must be junk or notjunk, not \"{parse.GetValue(kind)}\"");
            var paths = new List<string>();
            foreach (string p in parse.GetValue(files)!)
            {
                if (Directory.Exists(p))
                    paths.AddRange(Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal));
                else if (File.Exists(p)) paths.Add(p);
                else return CliCommon.Fail($"{p}: no such file or folder");
                if (paths.Count > MaxTrainFiles) return CliCommon.Fail($"more than {MaxTrainFiles} files; train in parts");
            }
            string name = parse.GetValue(account)!;
            await using var opened = await CliCommon.OpenAccountAsync(parse.GetValue(dir)!, name, ct).ConfigureAwait(false);
            if (opened is null) return CliCommon.ExitError;
            var a = opened.Account;
            var filter = new JunkFilter(new JunkFilterOptions());
            foreach (string path in paths)
            {
                byte[] message = await ReadMessageAsync(path, filter, ct).ConfigureAwait(false);
                await filter.TrainExternalAsync(a, message, junkClass.Value, ct).ConfigureAwait(false);
            }
            var t = await a.JunkWords.GetTotalsAsync(ct).ConfigureAwait(false);
            Console.Out.WriteLine($"trained {paths.Count} messages as {(junkClass == JunkClass.Junk ? "junk" : "not junk")}; {name} now has junk={t.JunkMessages} notjunk={t.HamMessages} words={t.Words}");
            return CliCommon.ExitOk;
        }));
        return cmd;
    }

    private static Command RetrainCommand()
    {
        var account = new Argument<string>("ACCOUNT") { Description = "Account whose training is rebuilt." };
        var dir = CliCommon.DataDirectoryOption();
        var cmd = new Command("retrain", "Forget an account's training and learn again from the $Junk/$NotJunk marks of all its messages (what `junk train` added is forgotten too).") { account, dir };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            string name = parse.GetValue(account)!;
            await using var opened = await CliCommon.OpenAccountAsync(parse.GetValue(dir)!, name, ct).ConfigureAwait(false);
            if (opened is null) return CliCommon.ExitError;
            var a = opened.Account;
            int trained = await new JunkFilter(new JunkFilterOptions()).RetrainAsync(a, ct).ConfigureAwait(false);
            var t = await a.JunkWords.GetTotalsAsync(ct).ConfigureAwait(false);
            Console.Out.WriteLine($"retrained {trained} messages; {name} now has junk={t.JunkMessages} notjunk={t.HamMessages} words={t.Words}");
            return CliCommon.ExitOk;
        }));
        return cmd;
    }

    private static Command SetCommand()
    {
        var account = new Argument<string>("ACCOUNT") { Description = "Account whose filter is set." };
        var enabled = new Option<bool?>("--enabled") { Description = "false: the account's incoming mail is not classified (it still learns from marked messages); true: classified again.", HelpName = "true|false" };
        var threshold = new Option<double?>("--threshold") { Description = "The account's own probability from which mail goes to Junk (above 0.5, at most 1).", HelpName = "P" };
        var serverThreshold = new Option<bool>("--server-threshold") { Description = "Forget the account's own threshold: the server's junk-filter.threshold applies." };
        var dir = CliCommon.DataDirectoryOption();
        var cmd = new Command("set", "An account's own junk filter settings: on or off, and its threshold.") { account, enabled, threshold, serverThreshold, dir };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            double? p = parse.GetValue(threshold);
            if (p is { } v && (v is <= 0.5 or > 1 || double.IsNaN(v))) return CliCommon.Fail("--threshold must be above 0.5 and at most 1");
            if (p is not null && parse.GetValue(serverThreshold)) return CliCommon.Fail("give --threshold or --server-threshold, not both");
            if (p is null && !parse.GetValue(serverThreshold) && parse.GetValue(enabled) is null) return CliCommon.Fail("nothing to set: give --enabled, --threshold or --server-threshold");
            string name = parse.GetValue(account)!;
            await using var opened = await CliCommon.OpenAccountAsync(parse.GetValue(dir)!, name, ct).ConfigureAwait(false);
            if (opened is null) return CliCommon.ExitError;
            var a = opened.Account;
            await a.JunkWords.SetSettingsAsync(parse.GetValue(enabled), p, parse.GetValue(serverThreshold), ct).ConfigureAwait(false);
            var t = await a.JunkWords.GetTotalsAsync(ct).ConfigureAwait(false);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: junk filter {(t.Enabled ? "on" : "off")}, threshold {(t.Threshold is { } own ? own.ToString("0.###", CultureInfo.InvariantCulture) : "of the server")}"));
            return CliCommon.ExitOk;
        }));
        return cmd;
    }

    private static async Task<byte[]> ReadMessageAsync(string path, JunkFilter filter, CancellationToken ct)
    {
        if (path == "-")
        {
            await using var stdin = Console.OpenStandardInput();
            return await filter.ReadMessageStartAsync(stdin, ct).ConfigureAwait(false);
        }
        await using var file = File.OpenRead(path);
        return await filter.ReadMessageStartAsync(file, ct).ConfigureAwait(false);
    }
}
