using System.Text;
using Postern.Queue;
using Postern.Queue.Sqlite;
using Postern.Smtp.Client;
using Postern.Smtp.Delivery;

namespace Postern.Queue.Tests;

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;
    public override DateTimeOffset GetUtcNow() => Now;
    public void Advance(TimeSpan t) => Now += t;
}

/// <summary>A transport that records requests and answers with a function of the request.</summary>
public sealed class FakeTransport : IOutboundTransport
{
    public List<OutboundRequest> Requests { get; } = [];
    public List<byte[]> Messages { get; } = [];
    public Func<OutboundRecipient, OutboundRecipientResult> Answer { get; set; } = r => new OutboundRecipientResult(r.Address, 250, "2.0.0", "ok", false);

    public Task<OutboundResult> DeliverAsync(OutboundRequest request, CancellationToken cancellationToken)
    {
        using var s = request.OpenMessage();
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        lock (Requests)
        {
            Requests.Add(request);
            Messages.Add(ms.ToArray());
        }
        return Task.FromResult(new OutboundResult(request.Recipients.Select(Answer).ToList(), "mx." + request.RecipientDomain, "192.0.2.1", TlsOutcome.None, "fake", "fake attempt"));
    }
}

/// <summary>A temporary data folder with a queue over a fake transport and a manual clock.</summary>
public sealed class QueueFixture : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "postern-queue-test-" + Guid.NewGuid().ToString("N"));
    public ManualClock Clock { get; } = new(Start);
    public FakeTransport Transport { get; } = new();
    public SqliteQueueStore Store { get; }
    public OutgoingQueue Queue { get; }

    public QueueFixture(Func<QueueOptions, QueueOptions>? configure = null, IOutboundTransport? transport = null, IDkimKeySource? dkim = null)
        : this(null, configure, transport, dkim)
    {
    }

    public QueueFixture(string? dir, Func<QueueOptions, QueueOptions>? configure = null, IOutboundTransport? transport = null, IDkimKeySource? dkim = null)
    {
        if (dir is not null) Dir = dir;
        Directory.CreateDirectory(Dir);
        Store = SqliteQueueStore.Open(Dir);
        var options = new QueueOptions { DataDirectory = Dir, HostName = "mail.example.org", TimeProvider = Clock };
        Queue = new OutgoingQueue(configure?.Invoke(options) ?? options, Store, transport ?? Transport, dkim);
    }

    public static byte[] Message(string from = "alice@example.org", string to = "bob@remote.example", string subject = "hello", string body = "Hi Bob.\r\n") =>
        Encoding.ASCII.GetBytes($"From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@example.org>\r\nDate: Sun, 1 Mar 2026 12:00:00 +0000\r\n\r\n{body}");

    public async Task<long> EnqueueAsync(string[] recipients, string? account = "alice", string mailFrom = "alice@example.org", byte[]? message = null,
        string? notify = null, string? ret = null, DateTimeOffset? holdUntil = null, string? envid = null)
    {
        byte[] m = message ?? Message();
        string id = await Queue.EnqueueAsync(new OutgoingMessage(account, mailFrom, recipients.Select(r => new OutboundRecipient(r, notify)).ToList(),
            () => new MemoryStream(m, false), m.Length, false, false, false, envid, ret, holdUntil, 1), default);
        return long.Parse(id, System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await Queue.DisposeAsync();
        await Store.DisposeAsync();
        try
        {
            Directory.Delete(Dir, true);
        }
        catch (IOException)
        {
        }
    }
}
