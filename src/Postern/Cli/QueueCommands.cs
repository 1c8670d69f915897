// `postern queue list|show|hold|unhold|schedule|fail|drop|dump|tls` and `queue suppression list|rm`.
// With a server running on the data folder the request goes through its control socket (so the
// worker wakes at once); without one the command works on the data folder directly.
using System.CommandLine;
using System.Globalization;
using Postern.Queue;
using Postern.Queue.Sqlite;
using Postern.Serve;

namespace Postern.Cli;

/// <summary>The <c>queue</c> commands.</summary>
internal static class QueueCommands
{
    public static Command Create()
    {
        var queue = new Command("queue", "Inspect and steer the outgoing queue (of the running server, or of the data folder when none runs).");

        var dir = CliCommon.DataDirectoryOption();
        var account = new Option<string?>("--account") { Description = "Only messages of this account." };
        var domain = new Option<string?>("--domain") { Description = "Only deliveries to this recipient domain." };
        var held = new Option<bool>("--held") { Description = "Only held deliveries." };
        var all = new Option<bool>("--all") { Description = "Include delivered and failed entries still kept for inspection." };
        var list = new Command("list", "List waiting deliveries: one line per message and recipient domain.") { dir, account, domain, held, all };
        list.SetAction((p, ct) => SendAsync(p.GetValue(dir)!, new QueueRequest("list", Account: p.GetValue(account), Domain: p.GetValue(domain),
            Held: p.GetValue(held) ? true : null, All: p.GetValue(all)), ct));
        queue.Subcommands.Add(list);

        foreach (var (verb, help) in new[]
        {
            ("show", "Show a message: its deliveries, recipients, attempts and history."),
            ("hold", "Hold a message: no attempts until it is released with unhold."),
            ("unhold", "Release a held message."),
            ("fail", "Give up on a message's waiting recipients now; the sender gets a failure DSN."),
            ("drop", "Remove a message from the queue without any DSN."),
        })
        {
            var d = CliCommon.DataDirectoryOption();
            var id = new Argument<long>("ID") { Description = "The queue id (as `queue list` shows it)." };
            var cmd = new Command(verb, help) { d, id };
            Option<string?>? conf = null;
            if (verb == "fail")
            {
                // Without a running server the DSN is written here: it needs the configured host name.
                conf = new Option<string?>("--config", "-c")
                {
                    Description = "The server's configuration file, for its host name in the DSN when no server runs (default: postern.conf next to the data folder or in the current folder).",
                };
                cmd.Options.Add(conf);
            }
            cmd.SetAction((p, ct) => SendAsync(p.GetValue(d)!, new QueueRequest(verb, p.GetValue(id)), ct, conf is null ? null : p.GetValue(conf)));
            queue.Subcommands.Add(cmd);
        }

        {
            var d = CliCommon.DataDirectoryOption();
            var id = new Argument<long>("ID") { Description = "The queue id." };
            var at = new Option<string?>("--at") { Description = "Time of the next attempt (ISO 8601, e.g. 2026-03-01T18:00:00Z).", HelpName = "TIME" };
            var inOpt = new Option<string?>("--in") { Description = "Delay before the next attempt: 90s, 30m, 2h, 1d.", HelpName = "DURATION" };
            var cmd = new Command("schedule", "Set when a message's waiting deliveries are next attempted (now when neither --at nor --in is given).") { d, id, at, inOpt };
            cmd.SetAction((p, ct) =>
            {
                DateTimeOffset? when = null;
                if (p.GetValue(at) is string a)
                {
                    if (!DateTimeOffset.TryParse(a, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
                        return Task.FromResult(CliCommon.Fail($"--at: cannot read \"{a}\" as a time"));
                    when = t;
                }
                else if (p.GetValue(inOpt) is string i)
                {
                    if (ParseDuration(i) is not { } span) return Task.FromResult(CliCommon.Fail($"--in: cannot read \"{i}\" as a duration (90s, 30m, 2h, 1d)"));
                    when = DateTimeOffset.UtcNow + span;
                }
                return SendAsync(p.GetValue(d)!, new QueueRequest("schedule", p.GetValue(id), At: when), ct);
            });
            queue.Subcommands.Add(cmd);
        }

        {
            var d = CliCommon.DataDirectoryOption();
            var id = new Argument<long>("ID") { Description = "The queue id." };
            var cmd = new Command("dump", "Print a queued message as it is sent (with its DKIM signatures).") { d, id };
            cmd.SetAction((p, ct) => CliCommon.GuardAsync(() => DumpAsync(p.GetValue(d)!, p.GetValue(id), ct)));
            queue.Subcommands.Add(cmd);
        }

        var suppression = new Command("suppression", "The suppression list: addresses an account's mail hard-bounced from, refused at RCPT.");
        {
            var d = CliCommon.DataDirectoryOption();
            var acc = new Option<string?>("--account") { Description = "Only this account." };
            var cmd = new Command("list", "List suppressed addresses.") { d, acc };
            cmd.SetAction((p, ct) => SendAsync(p.GetValue(d)!, new QueueRequest("suppression-list", Account: p.GetValue(acc)), ct));
            suppression.Subcommands.Add(cmd);
        }
        {
            var d = CliCommon.DataDirectoryOption();
            var acc = new Argument<string>("ACCOUNT") { Description = "The account." };
            var addr = new Argument<string>("ADDRESS") { Description = "The suppressed address." };
            var cmd = new Command("rm", "Remove an address from an account's suppression list, so that it may be sent to again.") { d, acc, addr };
            cmd.SetAction((p, ct) => SendAsync(p.GetValue(d)!, new QueueRequest("suppression-rm", Account: p.GetValue(acc), Address: p.GetValue(addr)), ct));
            suppression.Subcommands.Add(cmd);
        }
        queue.Subcommands.Add(suppression);
        {
            var d = CliCommon.DataDirectoryOption();
            var dom = new Option<string?>("--domain") { Description = "Only this recipient domain." };
            var cmd = new Command("tls", "What recipient domains' servers offered at the last attempt (STARTTLS, REQUIRETLS), and the cached MTA-STS policies.") { d, dom };
            cmd.SetAction((p, ct) => TlsAsync(p.GetValue(d)!, p.GetValue(dom), ct));
            queue.Subcommands.Add(cmd);
        }
        return queue;
    }

    /// <summary>"90s", "30m", "2h", "1d", or a TimeSpan ("01:30:00").</summary>
    internal static TimeSpan? ParseDuration(string s)
    {
        s = s.Trim();
        if (s.Length >= 2 && double.TryParse(s[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double n) && n >= 0)
        {
            switch (s[^1])
            {
                case 's': return TimeSpan.FromSeconds(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
            }
        }
        return TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out var t) && t >= TimeSpan.Zero ? t : null;
    }

    private static async Task<int> SendAsync(string dir, QueueRequest request, CancellationToken ct, string? configPath = null)
    {
        string? answer = await ControlSocket.TrySendAsync(dir, QueueControl.Encode(request), TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        if (answer is null)
        {
            return await CliCommon.GuardAsync(async () =>
            {
                if (!Directory.Exists(Path.Combine(dir, "queue")))
                {
                    Console.Error.WriteLine($"postern: no queue in {dir} (use --dir)");
                    return CliCommon.ExitError;
                }
                string? hostName = OfflineHostName(dir, configPath, request.Verb == "fail");
                if (hostName is null) return CliCommon.ExitError;
                await using SqliteQueueStore store = SqliteQueueStore.Open(dir);
                await using var queue = new OutgoingQueue(new QueueOptions { DataDirectory = dir, HostName = hostName }, store, null,
                    new FileDkimKeySource(dir));
                return Print(await QueueControl.RunAsync(queue, request, ct).ConfigureAwait(false));
            }).ConfigureAwait(false);
        }
        return Print(answer);
    }

    /// <summary>
    /// The host name of the server that owns <paramref name="dir"/>, for DSNs written without a running server
    /// (Reporting-MTA, and the From domain when the sender's domain has no DKIM key): from --config, else from a
    /// postern.conf next to the data folder (quickstart's layout) or in the current folder whose data-dir is
    /// <paramref name="dir"/>. Null (with a message) when --config was given but cannot be read; the machine's
    /// name, with a warning, when no configuration is found and <paramref name="needed"/>.
    /// </summary>
    internal static string? OfflineHostName(string dir, string? configPath, bool needed)
    {
        if (configPath is not null)
        {
            try
            {
                return Config.ConfigLoader.Load(configPath).Config.Hostname;
            }
            catch (Config.ConfigException e)
            {
                foreach (string line in e.Errors) Console.Error.WriteLine(line);
                return null;
            }
        }
        string full = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar);
        foreach (string candidate in new[] { Path.Combine(Path.GetDirectoryName(full) ?? full, "postern.conf"), Path.GetFullPath("postern.conf") }.Distinct())
        {
            if (!File.Exists(candidate)) continue;
            try
            {
                var loaded = Config.ConfigLoader.Load(candidate);
                if (string.Equals(Path.GetFullPath(loaded.DataDirectory).TrimEnd(Path.DirectorySeparatorChar), full, StringComparison.Ordinal))
                    return loaded.Config.Hostname;
            }
            catch (Config.ConfigException)
            {
                // Not this server's configuration (or broken): keep looking.
            }
        }
        string machine = System.Net.Dns.GetHostName();
        if (needed)
            Console.Error.WriteLine($"postern: warning: no postern.conf found for {dir}; the DSN names this machine ({machine}) as its host (give --config)");
        return machine;
    }

    private static int Print(string answer)
    {
        if (answer.StartsWith("error: ", StringComparison.Ordinal))
        {
            Console.Error.Write("postern: " + answer);
            return CliCommon.ExitError;
        }
        Console.Out.Write(answer);
        return CliCommon.ExitOk;
    }

    private static async Task<int> TlsAsync(string dir, string? domain, CancellationToken ct)
    {
        if (!Directory.Exists(Path.Combine(dir, "queue")))
            return CliCommon.Fail($"no queue in {dir} (use --dir)");
        await using SqliteQueueStore store = SqliteQueueStore.Open(dir);
        var domains = await store.ListRecipientDomainTlsAsync(domain, cancellationToken: ct).ConfigureAwait(false);
        Console.WriteLine("recipient domain                         STARTTLS  REQUIRETLS  last server (time, UTC)");
        foreach (var e in domains)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{e.Domain,-40} {(e.StartTls ? "yes" : "no"),-9} {(e.RequireTls ? "yes" : "no"),-11} {e.Host} ({e.Time:yyyy-MM-dd HH:mm})"));
        }
        if (domains.Count == 0) Console.WriteLine("(no attempts recorded yet)");
        var policies = (await store.ListPoliciesAsync(cancellationToken: ct).ConfigureAwait(false))
            .Where(p => domain is null || p.Policy.Domain == domain.TrimEnd('.').ToLowerInvariant()).ToList();
        Console.WriteLine();
        Console.WriteLine("MTA-STS policy cache (RFC 8461)");
        foreach (var p in policies)
        {
            var c = p.Policy;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{c.Domain,-40} id={c.Id} mode={c.Policy.Mode.ToString().ToLowerInvariant()} mx={string.Join(",", c.Policy.Mx)} fetched={c.Fetched:yyyy-MM-dd HH:mm} expires={c.Expires:yyyy-MM-dd HH:mm}"));
        }
        if (policies.Count == 0) Console.WriteLine("(none cached)");
        return CliCommon.ExitOk;
    }

    private static async Task<int> DumpAsync(string dir, long id, CancellationToken ct)
    {
        if (!Directory.Exists(Path.Combine(dir, "queue")))
            return CliCommon.Fail($"no queue in {dir} (use --dir)");
        await using SqliteQueueStore store = SqliteQueueStore.Open(dir);
        var d = await store.GetAsync(id, ct).ConfigureAwait(false);
        if (d is null) return CliCommon.Fail($"no message {id} in the queue");
        await using var file = File.OpenRead(Path.Combine(store.MessageDirectory, d.Message.File));
        await using Stream stdout = Console.OpenStandardOutput();
        await file.CopyToAsync(stdout, ct).ConfigureAwait(false);
        return CliCommon.ExitOk;
    }
}
