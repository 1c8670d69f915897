// `postern localserve`: a local test server for mail clients. Creates (if missing) a data
// folder with one account postern@localhost (password "postern", documented in README) and a
// self-signed certificate, and serves IMAP and SMTP on loopback only until Ctrl-C or SIGTERM.
// SMTP accepts mail for any address into the one account; test addresses simulate failures
// (LocalServeRecipientResolver).
using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Postern.Imap.Server;
using Postern.Queue;
using Postern.Queue.Sqlite;
using Postern.Security.Passwords;
using Postern.Security.Tls;
using Postern.Smtp.Delivery;
using Postern.Serve;
using Postern.Smtp.Server;
using Postern.Store.Reports;
using Postern.Store.Junk;
using Postern.Store.Sqlite;
using Postern.Web;

namespace Postern.Cli;

/// <summary>The <c>localserve</c> command.</summary>
internal static class LocalServeCommand
{
    /// <summary>The fixed account of localserve.</summary>
    public const string Address = "postern@localhost";

    /// <summary>The fixed, documented password of localserve's account.</summary>
    public const string Password = "postern";

    private const string AccountName = "postern";

    public static Command Create()
    {
        var dir = new Option<string>("--dir") { Description = "Data folder (created if missing).", DefaultValueFactory = _ => "./postern-local" };
        var imapPort = new Option<int>("--imap-port") { Description = "IMAP port with STARTTLS, on loopback.", DefaultValueFactory = _ => 1143 };
        var imapsPort = new Option<int>("--imaps-port") { Description = "IMAPS port (implicit TLS), on loopback.", DefaultValueFactory = _ => 1993 };
        var smtpPort = new Option<int>("--smtp-port") { Description = "SMTP port (no AUTH, any recipient), on loopback.", DefaultValueFactory = _ => 1025 };
        var submissionPort = new Option<int>("--submission-port") { Description = "Submission port with STARTTLS, on loopback.", DefaultValueFactory = _ => 1587 };
        var submissionsPort = new Option<int>("--submissions-port") { Description = "Submission port with implicit TLS, on loopback.", DefaultValueFactory = _ => 1465 };
        var metricsPort = new Option<int>("--metrics-port") { Description = "Serve Prometheus metrics at http://127.0.0.1:PORT/metrics (off by default).", DefaultValueFactory = _ => 0 };
        var maxSize = new Option<long>("--max-message-size") { Description = "Largest message SMTP accepts, in bytes.", DefaultValueFactory = _ => Smtp.Protocol.SmtpLimits.Default.MaxMessageSize };
        var cmd = new Command("localserve", "Run a local test server on loopback: IMAP 1143, IMAPS 1993, SMTP 1025, submission 1587 and 1465; one account postern@localhost, password \"postern\".")
        {
            dir, imapPort, imapsPort, smtpPort, submissionPort, submissionsPort, metricsPort, maxSize,
        };
        cmd.SetAction(async (parse, ct) => await RunAsync(parse.GetValue(dir)!, new Ports(parse.GetValue(imapPort), parse.GetValue(imapsPort),
            parse.GetValue(smtpPort), parse.GetValue(submissionPort), parse.GetValue(submissionsPort), parse.GetValue(maxSize), parse.GetValue(metricsPort)), ct).ConfigureAwait(false));
        return cmd;
    }

    private sealed record Ports(int Imap, int Imaps, int Smtp, int Submission, int Submissions, long MaxMessageSize, int Metrics);

    private static async Task<int> RunAsync(string dir, Ports ports, CancellationToken ct)
    {
        int imapPort = ports.Imap, imapsPort = ports.Imaps;
        string root = Path.GetFullPath(dir);
        Directory.CreateDirectory(root);
        using ILoggerFactory logs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
        ILogger logger = logs.CreateLogger("postern");

        X509Certificate2 certificate = LoadOrCreateCertificate(root);
        ServerThreads.RaisePoolMinimum();
        await using SqliteMailStore store = SqliteMailStore.Open(Path.Combine(root, "data"));
        if (await store.Directory.GetAccountAsync(AccountName, ct).ConfigureAwait(false) is null)
        {
            await store.Directory.CreateAccountAsync(AccountName, cancellationToken: ct).ConfigureAwait(false);
            await store.Directory.AddAddressAsync(Address, AccountName, ct).ConfigureAwait(false);
            await store.Directory.SetCredentialsAsync(AccountName,
                PasswordSecrets.Derive(Password, new PasswordSecretsOptions { IncludeCramMd5 = true }), ct).ConfigureAwait(false);
        }

        var options = new ImapServerOptions
        {
            Listeners =
            [
                new ImapListener(new IPEndPoint(IPAddress.Loopback, imapPort), ImplicitTls: false),
                new ImapListener(new IPEndPoint(IPAddress.Loopback, imapsPort), ImplicitTls: true),
            ],
            Certificate = certificate,
            HostName = "localhost",
            TempDirectory = Path.Combine(root, "tmp"),
            // Every client of a local test server comes from 127.0.0.1, so a per-IP limit would only
            // cap the total; the overall connection limit still applies.
            MaxConnectionsPerIp = 20_000,
        };
        Directory.CreateDirectory(options.TempDirectory);
        await using var server = new ImapServer(options, store, logger: logger);
        server.Start();

        // The outgoing queue delivers everything back into the local account (DSNs, FUTURERELEASE
        // messages), through the same resolver as SMTP, so test addresses fail here too.
        string data = Path.Combine(root, "data");
        await using SqliteQueueStore queueStore = SqliteQueueStore.Open(data);
        var localServeResolver = new LocalServeRecipientResolver(AccountName);
        // Reports sent to dmarc-reports@ or tls-reports@ any domain are stored in DATA/reports.db after delivery.
        await using var incomingReports = new IncomingReportReceiver(SqliteIncomingReportStore.Open(data), directory: null, logger);
        await using var queue = new OutgoingQueue(new QueueOptions { DataDirectory = data, HostName = "localhost" }, queueStore,
            new LocalDeliveryTransport(store, localServeResolver, "localhost", incomingReports), new FileDkimKeySource(data), logger);
        queue.Start();

        // The junk filter as in `serve` (docs/junk.md): it classifies once the account has marked enough messages.
        var junkFilter = new JunkFilter(new JunkFilterOptions());
        await using var junkTrainer = new JunkTrainer(store, junkFilter, logger);
        junkTrainer.Start([AccountName]);

        var smtpOptions = new SmtpServerOptions
        {
            Listeners =
            [
                new SmtpListener(new IPEndPoint(IPAddress.Loopback, ports.Smtp), SmtpListenerKind.Mx),
                new SmtpListener(new IPEndPoint(IPAddress.Loopback, ports.Submission), SmtpListenerKind.Submission),
                new SmtpListener(new IPEndPoint(IPAddress.Loopback, ports.Submissions), SmtpListenerKind.Submissions),
            ],
            Certificate = certificate,
            HostName = "localhost",
            TempDirectory = options.TempDirectory,
            ConnectionIdKey = CidCommand.LoadOrCreateKey(Path.Combine(root, "data")),
            RecipientResolver = localServeResolver,
            OutgoingQueue = queue,
            DeliveredObserver = incomingReports,
            JunkFilter = junkFilter,
            // All clients of a local test server share 127.0.0.1: no per-IP limits.
            RateLimits = SmtpRateLimits.Unlimited,
            Limits = Smtp.Protocol.SmtpLimits.Default with { MaxMessageSize = ports.MaxMessageSize },
        };
        await using var smtp = new SmtpServer(smtpOptions, store, logger: logger);
        smtp.Start();
        using var metrics = ports.Metrics > 0 ? new PrometheusExporter() : null;
        await using var web = metrics is null ? null : new WebServer(new WebServerOptions
        {
            MetricsEndPoints = [new IPEndPoint(IPAddress.Loopback, ports.Metrics)],
            Metrics = metrics,
            Content = new MailSiteContent { IsLocalDomain = (_, _) => ValueTask.FromResult(false) },
        }, logger);
        if (web is not null) await web.StartAsync(ct).ConfigureAwait(false);
        string metricsLine = ports.Metrics > 0 ? $"\n  METRICS http://127.0.0.1:{ports.Metrics}/metrics (Prometheus)" : "";
        string testAddresses = string.Join("\n", LocalServeRecipientResolver.TestAddresses.Select(t => $"    {t.Example,-26} {t.Effect}"));

        Console.Out.WriteLine($"""
            postern localserve: data in {root}
              IMAP   127.0.0.1:{imapPort} (STARTTLS; plaintext login allowed on loopback)
              IMAPS  127.0.0.1:{imapsPort} (implicit TLS, self-signed certificate)
              SMTP   127.0.0.1:{ports.Smtp} (incoming mail: any recipient, no AUTH)
              SUBMIT 127.0.0.1:{ports.Submission} (STARTTLS; AUTH, plaintext allowed on loopback)
              SUBMIT 127.0.0.1:{ports.Submissions} (implicit TLS; AUTH){metricsLine}
              user     {Address}
              password {Password}
            Every recipient address is delivered to this account, except test addresses:
            {testAddresses}
            Press Ctrl-C to stop.
            """);
        await Console.Out.FlushAsync(ct).ConfigureAwait(false);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        Console.Out.WriteLine("postern localserve: stopping");
        await Task.WhenAll(server.StopAsync(TimeSpan.FromSeconds(5)), smtp.StopAsync(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        await queue.StopAsync().ConfigureAwait(false);
        return 0;
    }

    private static X509Certificate2 LoadOrCreateCertificate(string root)
    {
        string certPath = Path.Combine(root, "localserve-cert.pem");
        string keyPath = Path.Combine(root, "localserve-key.pem");
        if (File.Exists(certPath) && File.Exists(keyPath))
            return TlsCertificates.LoadPem(certPath, keyPath);
        using X509Certificate2 created = TlsCertificates.CreateSelfSigned();
        TlsCertificates.SavePem(created, certPath, keyPath);
        return TlsCertificates.LoadPem(certPath, keyPath);
    }
}
