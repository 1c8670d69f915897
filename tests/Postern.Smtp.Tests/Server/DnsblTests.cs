using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Postern.Dns;
using Postern.Smtp.Delivery;
using Postern.Testing;

namespace Postern.Smtp.Tests.Server;

/// <summary>
/// DNSBLs on the MX listener (RFC 5782), against the DNS lab: nsd serves test lists in the lab
/// zone and unbound resolves them. The test client is 127.0.0.1, so its query name is
/// 1.0.0.127.ZONE.
/// </summary>
public sealed class DnsblTests(DnsblLabFixture fixture) : IClassFixture<DnsblLabFixture>
{
    private const string ListingZone = DnsblLabFixture.ListingZone;
    private const string ErrorZone = DnsblLabFixture.ErrorZone;
    private const string EmptyZone = DnsblLabFixture.EmptyZone;

    private DnsLab Lab => fixture.Lab;

    private static Task<SmtpTestServer> StartAsync(IDnsResolver dns, string[] zones, ILogger logger) => SmtpTestServer.StartAsync(o => o with
    {
        ClientCheckers = [new DnsblClientChecker(dns, zones, logger)],
    });

    [Fact]
    public async Task A_listed_client_is_refused_with_the_zone_and_its_reason()
    {
        var log = new ListLogger();
        await using var s = await StartAsync(Lab.CreateResolver(), [EmptyZone, ListingZone], log);
        await using var c = await s.ConnectAsync();
        await c.ExpectAsync("EHLO client.example", "250");
        string reply = await c.ExpectAsync("MAIL FROM:<someone@example.com>", "554");
        Assert.Contains("5.7.1", reply, StringComparison.Ordinal);
        Assert.Contains(ListingZone, reply, StringComparison.Ordinal);
        Assert.Contains("listed for testing", reply, StringComparison.Ordinal);
        // Every transaction of the connection gets the same answer.
        await c.ExpectAsync("MAIL FROM:<other@example.com>", "554");
        Assert.Contains(log.Lines, l => l.Contains("dnsbl listed", StringComparison.Ordinal) && l.Contains(ListingZone, StringComparison.Ordinal));
        Assert.Empty(await s.MessagesAsync("alice"));
    }

    [Fact]
    public async Task An_error_code_answer_is_not_a_listing()
    {
        var log = new ListLogger();
        await using var s = await StartAsync(Lab.CreateResolver(), [ErrorZone, EmptyZone], log);
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("someone@example.com", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync("Subject: t\r\n\r\nbody\r\n.", "250");
        Assert.Single(await s.MessagesAsync("alice"));
        Assert.Contains(log.Lines, l => l.Contains("dnsbl error", StringComparison.Ordinal) && l.Contains("127.255.255.254", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_list_that_does_not_answer_is_a_temporary_error_and_mail_is_accepted()
    {
        // A "nameserver" that reads nothing: every query times out.
        using var silent = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var dns = new DnsResolver(new DnsResolverOptions
        {
            Servers = [(IPEndPoint)silent.Client.LocalEndPoint!],
            Timeout = TimeSpan.FromMilliseconds(200),
            Attempts = 1,
            CacheMaxEntries = 0,
        });
        var log = new ListLogger();
        await using var s = await StartAsync(dns, [ListingZone], log);
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("someone@example.com", "alice@example.org");
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync("Subject: t\r\n\r\nbody\r\n.", "250");
        Assert.Single(await s.MessagesAsync("alice"));
        Assert.Contains(log.Lines, l => l.Contains("dnsbl temperror", StringComparison.Ordinal) && l.Contains(ListingZone, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Submission_is_never_checked()
    {
        await using var s = await StartAsync(Lab.CreateResolver(), [ListingZone], new ListLogger());
        await using var c = await s.ConnectAsync(s.SubmissionPort);
        await c.ExpectAsync("EHLO client.example", "250");
        await c.ExpectAsync("AUTH PLAIN " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("\0alice@example.org\0" + SmtpTestServer.Password)), "235");
        await c.ExpectAsync("MAIL FROM:<alice@example.org>", "250");
    }

    private sealed class ListLogger : ILogger
    {
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines) return [.. _lines];
            }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines) _lines.Add(formatter(state, exception));
        }
    }
}

/// <summary>One DNS lab for the DNSBL tests, with test lists in the signed lab zone.</summary>
public sealed class DnsblLabFixture : IAsyncLifetime
{
    public const string ListingZone = "bl." + DnsLab.SignedZone;
    public const string ErrorZone = "errbl." + DnsLab.SignedZone;
    public const string EmptyZone = "empty." + DnsLab.SignedZone;

    public DnsLab Lab { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Assert.True(DnsLab.IsAvailable, "DNS lab tools (nsd, unbound, ldnsutils) are not installed (scripts/test-packages.txt)");
        Lab = await DnsLab.StartAsync(new Dictionary<string, string>
        {
            [DnsLab.SignedZone] = """
                1.0.0.127.bl IN A 127.0.0.2
                1.0.0.127.bl IN TXT "listed for testing, see https://bl.example/127.0.0.1"
                2.0.0.127.bl IN A 127.0.0.2
                1.0.0.127.errbl IN A 127.255.255.254
                empty IN TXT "a list that lists nobody"
                """,
        });
    }

    public async Task DisposeAsync()
    {
        if (Lab is not null) await Lab.DisposeAsync();
    }
}
