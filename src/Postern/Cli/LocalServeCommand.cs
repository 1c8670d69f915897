// `postern localserve`: a local test server for mail clients. Creates (if missing) a data
// folder with one account postern@localhost (password "postern", documented in README) and a
// self-signed certificate, and serves IMAP on loopback only until Ctrl-C or SIGTERM.
using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Postern.Imap.Server;
using Postern.Security.Passwords;
using Postern.Security.Tls;
using Postern.Store.Sqlite;

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
        var cmd = new Command("localserve", "Run a local test server on loopback: IMAP 1143, IMAPS 1993; one account postern@localhost, password \"postern\".")
        {
            dir, imapPort, imapsPort,
        };
        cmd.SetAction(async (parse, ct) => await RunAsync(parse.GetValue(dir)!, parse.GetValue(imapPort), parse.GetValue(imapsPort), ct).ConfigureAwait(false));
        return cmd;
    }

    private static async Task<int> RunAsync(string dir, int imapPort, int imapsPort, CancellationToken ct)
    {
        string root = Path.GetFullPath(dir);
        Directory.CreateDirectory(root);
        using ILoggerFactory logs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
        ILogger logger = logs.CreateLogger("postern");

        X509Certificate2 certificate = LoadOrCreateCertificate(root);
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

        Console.Out.WriteLine($"""
            postern localserve: data in {root}
              IMAP   127.0.0.1:{imapPort} (STARTTLS; plaintext login allowed on loopback)
              IMAPS  127.0.0.1:{imapsPort} (implicit TLS, self-signed certificate)
              user     {Address}
              password {Password}
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
        await server.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
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
