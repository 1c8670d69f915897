using System.Text;
using Postern.Dns;
using Postern.Queue.Reports;
using Postern.Security.Dkim;
using Postern.Smtp.Client;
using Postern.Smtp.Delivery;
using Postern.Store.Reports;
using Postern.Store.Sqlite;

namespace Postern.Queue.Tests.Reports;

/// <summary>Captures https: report uploads and answers with a chosen status.</summary>
public sealed class RecordingHttpHandler : HttpMessageHandler
{
    public List<(Uri Uri, string? ContentType, byte[] Body)> Posts { get; } = [];
    public System.Net.HttpStatusCode Status { get; set; } = System.Net.HttpStatusCode.OK;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        byte[] body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        lock (Posts) Posts.Add((request.RequestUri!, request.Content?.Headers.ContentType?.MediaType, body));
        return new HttpResponseMessage(Status);
    }
}

/// <summary>
/// A data folder with a mail store (example.org is local: account "reports" receives the report
/// addresses), DKIM keys for example.org, the queue delivering locally or to a fake remote
/// transport, the reports database and a report sender on a manual clock and in-memory DNS.
/// </summary>
public sealed class ReportSetup : IAsyncDisposable
{
    public static readonly DateTimeOffset Day1 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    public QueueFixture F { get; }
    public SqliteMailStore Mail { get; }
    public FakeTransport Remote { get; }
    public InMemoryDnsResolver Dns { get; } = new();
    public SqliteTlsResultStore Tls { get; }
    public SqliteDmarcEvaluationStore Dmarc { get; }
    public SqliteReportLog Log { get; }
    public RecordingHttpHandler Http { get; } = new();
    public ReportSender Sender { get; private set; } = null!;
    public ManualClock Clock => F.Clock;

    private readonly HttpClient _client;

    private ReportSetup(QueueFixture f, SqliteMailStore mail, FakeTransport remote)
    {
        F = f;
        Mail = mail;
        Remote = remote;
        Tls = SqliteTlsResultStore.Open(f.Dir);
        Dmarc = SqliteDmarcEvaluationStore.Open(f.Dir);
        Log = SqliteReportLog.Open(f.Dir);
        _client = new HttpClient(Http);
    }

    /// <param name="configure">Changes the sender's options.</param>
    /// <param name="remote">The transport of remote domains instead of <see cref="Remote"/> (which then sees nothing).</param>
    public static async Task<ReportSetup> CreateAsync(Func<OutgoingReportOptions, OutgoingReportOptions>? configure = null, IOutboundTransport? remote = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-reports-out-" + Guid.NewGuid().ToString("N"));
        string keys = Path.Combine(dir, "dkim", "example.org");
        Directory.CreateDirectory(keys);
        using (var ed = DkimPrivateKey.GenerateEd25519())
            File.WriteAllText(Path.Combine(keys, "2603e.pem"), ed.ToPem());
        var mail = SqliteMailStore.Open(dir);
        await mail.Directory.CreateAccountAsync("reports");
        foreach (string a in new[] { "tlsrpt@example.org", "dmarc@example.org", "postmaster@example.org" })
            await mail.Directory.AddAddressAsync(a, "reports");
        var fake = new FakeTransport();
        var transport = new LocalFirstTransport(mail.Directory,
            new LocalDeliveryTransport(mail, new DirectoryRecipientResolver(mail.Directory), "mail.example.org"), remote ?? fake);
        var f = new QueueFixture(dir, null, transport, new FileDkimKeySource(dir));
        f.Clock.Now = Day1;
        var setup = new ReportSetup(f, mail, fake);
        setup.UseOptions(configure);
        return setup;
    }

    public OutgoingReportOptions Options { get; private set; } = null!;

    public void UseOptions(Func<OutgoingReportOptions, OutgoingReportOptions>? configure)
    {
        var o = new OutgoingReportOptions
        {
            OrganizationName = "Example Org",
            FromAddress = "postmaster@example.org",
            HostName = "mail.example.org",
            TimeProvider = Clock,
        };
        Options = configure?.Invoke(o) ?? o;
        Sender = new ReportSender(Options, Dns, F.Queue, Tls, Dmarc, Log, _client);
    }

    /// <summary>The messages in the reports account's inbox, raw.</summary>
    public async Task<List<byte[]>> InboxAsync()
    {
        await using var acc = await Mail.OpenAccountAsync("reports");
        var inbox = (await acc.GetMailboxAsync("INBOX"))!;
        var list = new List<byte[]>();
        foreach (var m in await acc.ListMessagesAsync(inbox.Id))
        {
            await using var s = await acc.OpenContentAsync(inbox.Id, m.Uid);
            using var ms = new MemoryStream();
            await s.CopyToAsync(ms);
            list.Add(ms.ToArray());
        }
        return list;
    }

    public static string Text(byte[] raw) => Encoding.ASCII.GetString(raw);

    public async ValueTask DisposeAsync()
    {
        await Sender.DisposeAsync();
        _client.Dispose();
        await Tls.DisposeAsync();
        await Dmarc.DisposeAsync();
        await Log.DisposeAsync();
        await Mail.DisposeAsync();
        await F.DisposeAsync();
    }
}
