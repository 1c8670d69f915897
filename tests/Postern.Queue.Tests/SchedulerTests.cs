using Postern.Queue.Sqlite;
using Postern.Smtp.Client;

namespace Postern.Queue.Tests;

public class SchedulerTests
{
    [Fact]
    public async Task Enqueue_is_committed_and_the_file_written_before_it_returns()
    {
        await using var f = new QueueFixture();
        long id = await f.EnqueueAsync(["bob@remote.example", "carol@remote.example", "dave@other.example"]);
        // A second, independent connection sees the rows: they were committed, not just buffered.
        await using (var other = SqliteQueueStore.Open(f.Dir))
        {
            var d = await other.GetAsync(id);
            Assert.NotNull(d);
            Assert.Equal(2, d.Deliveries.Count);
            Assert.Equal(3, d.Recipients.Count);
            Assert.True(File.Exists(Path.Combine(other.MessageDirectory, d.Message.File)));
            Assert.Equal(new FileInfo(Path.Combine(other.MessageDirectory, d.Message.File)).Length, d.Message.Size);
            Assert.StartsWith("postern-", d.Message.EnvelopeId, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task First_attempt_is_at_once_and_delivered_recipients_finish_the_delivery()
    {
        await using var f = new QueueFixture();
        long id = await f.EnqueueAsync(["bob@remote.example", "carol@remote.example"]);
        await f.Queue.RunDueAsync();
        var req = Assert.Single(f.Transport.Requests);
        Assert.Equal("remote.example", req.RecipientDomain);
        Assert.Equal(2, req.Recipients.Count);
        Assert.Equal(1, req.Attempt);
        var d = (await f.Store.GetAsync(id))!;
        Assert.Equal(DeliveryState.Delivered, d.Deliveries[0].State);
        Assert.All(d.Recipients, r => Assert.Equal(DeliveryState.Delivered, r.State));
        Assert.Single(d.Attempts);
        Assert.Empty(await f.Store.ListAsync(new QueueListFilter()));
    }

    [Fact]
    public async Task Temporary_failures_are_retried_with_doubling_backoff_until_max_attempts()
    {
        await using var f = new QueueFixture(o => o with { MaxAttempts = 5 });
        f.Transport.Answer = r => new OutboundRecipientResult(r.Address, 451, "4.4.1", "try later", false);
        long id = await f.EnqueueAsync(["bob@remote.example"], notify: "NEVER");
        TimeSpan expected = TimeSpan.FromMinutes(7.5);
        for (int attempt = 1; attempt <= 5; attempt++)
        {
            await f.Queue.RunDueAsync();
            Assert.Equal(attempt, f.Transport.Requests.Count);
            Assert.Equal(attempt, f.Transport.Requests[^1].Attempt);
            var d = (await f.Store.GetAsync(id))!.Deliveries[0];
            if (attempt == 5)
            {
                Assert.Equal(DeliveryState.Failed, d.State);
                break;
            }
            Assert.Equal(DeliveryState.Queued, d.State);
            TimeSpan wait = d.NextAttempt - f.Clock.Now;
            Assert.InRange(wait.TotalSeconds, expected.TotalSeconds * 0.89, expected.TotalSeconds * 1.11);
            // Not due before its time.
            f.Clock.Advance(wait - TimeSpan.FromSeconds(1));
            await f.Queue.RunDueAsync();
            Assert.Equal(attempt, f.Transport.Requests.Count);
            f.Clock.Advance(TimeSpan.FromSeconds(1));
            expected *= 2;
        }
        var r = (await f.Store.GetAsync(id))!.Recipients[0];
        Assert.Equal(DeliveryState.Failed, r.State);
        Assert.Equal("4.4.1", r.Enhanced);
    }

    [Fact]
    public async Task Default_schedule_of_8_attempts_spans_about_16_hours()
    {
        await using var f = new QueueFixture();
        var s = new DeliveryScheduler(f.Queue, f.Transport);
        double total = Enumerable.Range(1, 7).Sum(a => s.RetryDelay(a).TotalHours);
        Assert.InRange(total, 15.87 * 0.9, 15.87 * 1.1);
    }

    [Fact]
    public async Task A_permanent_failure_is_not_retried()
    {
        await using var f = new QueueFixture();
        f.Transport.Answer = r => new OutboundRecipientResult(r.Address, 554, "5.7.1", "no", true);
        long id = await f.EnqueueAsync(["bob@remote.example"], notify: "NEVER");
        await f.Queue.RunDueAsync();
        f.Clock.Advance(TimeSpan.FromDays(1));
        await f.Queue.RunDueAsync();
        Assert.Single(f.Transport.Requests);
        Assert.Equal(DeliveryState.Failed, (await f.Store.GetAsync(id))!.Deliveries[0].State);
    }

    [Fact]
    public async Task Hold_unhold_schedule_fail_and_drop()
    {
        await using var f = new QueueFixture();
        long id = await f.EnqueueAsync(["bob@remote.example"], notify: "NEVER");
        Assert.Equal(1, await f.Queue.HoldAsync(id));
        await f.Queue.RunDueAsync();
        Assert.Empty(f.Transport.Requests);
        Assert.Single(await f.Store.ListAsync(new QueueListFilter(Held: true)));
        Assert.Equal(1, await f.Queue.UnholdAsync(id));
        Assert.Equal(1, await f.Queue.ScheduleAsync(id, f.Clock.Now + TimeSpan.FromHours(1)));
        await f.Queue.RunDueAsync();
        Assert.Empty(f.Transport.Requests);
        f.Clock.Advance(TimeSpan.FromHours(1));
        f.Transport.Answer = r => new OutboundRecipientResult(r.Address, 421, "4.3.2", "busy", false);
        await f.Queue.RunDueAsync();
        Assert.Single(f.Transport.Requests);

        Assert.Equal(1, await f.Queue.FailAsync(id));
        var d = (await f.Store.GetAsync(id))!;
        Assert.Equal(DeliveryState.Failed, d.Deliveries[0].State);
        Assert.Contains(d.Events, e => e.Kind == "fail");

        string file = Path.Combine(f.Store.MessageDirectory, d.Message.File);
        Assert.True(await f.Queue.DropAsync(id));
        Assert.Null(await f.Store.GetAsync(id));
        Assert.False(File.Exists(file));
        Assert.False(await f.Queue.DropAsync(id));
    }

    [Fact]
    public async Task Futurerelease_holds_the_message_until_its_time()
    {
        await using var f = new QueueFixture();
        await f.EnqueueAsync(["bob@remote.example"], holdUntil: QueueFixture.Start + TimeSpan.FromHours(2));
        await f.Queue.RunDueAsync();
        Assert.Empty(f.Transport.Requests);
        f.Clock.Advance(TimeSpan.FromHours(2));
        await f.Queue.RunDueAsync();
        Assert.Single(f.Transport.Requests);
    }

    [Fact]
    public async Task Concurrency_per_domain_is_bounded()
    {
        var gate = new TaskCompletionSource();
        int running = 0, max = 0;
        var transport = new BlockingTransport(async () =>
        {
            int n = Interlocked.Increment(ref running);
            lock (gate) max = Math.Max(max, n);
            await gate.Task;
            Interlocked.Decrement(ref running);
        });
        await using var f = new QueueFixture(o => o with { MaxConcurrentPerDomain = 3, MaxConcurrentDeliveries = 10 }, transport);
        for (int i = 0; i < 10; i++) await f.EnqueueAsync(["bob@remote.example"]);
        Task all = f.Queue.RunDueAsync();
        while (Volatile.Read(ref running) < 3) await Task.Delay(10);
        await Task.Delay(100);
        Assert.Equal(3, Volatile.Read(ref running));
        gate.SetResult();
        await all;
        Assert.Equal(3, max);
        Assert.Equal(10, transport.Calls);
    }

    private sealed class BlockingTransport(Func<Task> during) : IOutboundTransport
    {
        private int _calls;
        public int Calls => _calls;

        public async Task<OutboundResult> DeliverAsync(OutboundRequest request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            await during();
            return new OutboundResult(request.Recipients.Select(r => new OutboundRecipientResult(r.Address, 250, "2.0.0", "ok", false)).ToList(),
                null, null, TlsOutcome.None, "blocking", "");
        }
    }

    [Fact]
    public async Task A_throwing_transport_fails_the_attempt_temporarily()
    {
        await using var f = new QueueFixture(transport: new ThrowingTransport());
        long id = await f.EnqueueAsync(["bob@remote.example"]);
        await f.Queue.RunDueAsync();
        var d = (await f.Store.GetAsync(id))!;
        Assert.Equal(DeliveryState.Queued, d.Deliveries[0].State);
        Assert.Equal(1, d.Deliveries[0].Attempts);
        Assert.Contains("boom", d.Attempts[0].Result, StringComparison.Ordinal);
    }

    private sealed class ThrowingTransport : IOutboundTransport
    {
        public Task<OutboundResult> DeliverAsync(OutboundRequest request, CancellationToken cancellationToken) => throw new InvalidOperationException("boom");
    }

    [Fact]
    public async Task Retention_purges_finished_messages_and_their_files()
    {
        await using var f = new QueueFixture(o => o with { Retention = TimeSpan.FromDays(2) });
        long done = await f.EnqueueAsync(["bob@remote.example"]);
        await f.Queue.RunDueAsync();
        f.Transport.Answer = r => new OutboundRecipientResult(r.Address, 451, "4.0.0", "later", false);
        long waiting = await f.EnqueueAsync(["carol@remote.example"]);
        await f.Queue.RunDueAsync();
        string file = Path.Combine(f.Store.MessageDirectory, (await f.Store.GetAsync(done))!.Message.File);
        f.Clock.Advance(TimeSpan.FromDays(1));
        Assert.Equal(0, await f.Queue.PurgeAsync());
        f.Clock.Advance(TimeSpan.FromDays(1.5));
        Assert.Equal(1, await f.Queue.PurgeAsync());
        Assert.Null(await f.Store.GetAsync(done));
        Assert.False(File.Exists(file));
        Assert.NotNull(await f.Store.GetAsync(waiting));
    }

    [Fact]
    public async Task Leasing_takes_only_as_many_due_entries_as_asked()
    {
        await using var f = new QueueFixture();
        byte[] m = QueueFixture.Message();
        var tasks = new List<Task<long>>();
        for (int i = 0; i < 2000; i++)
        {
            tasks.Add(f.Store.AddMessageAsync(new NewQueueMessage(null, "a@example.org", m.Length, 0, null, null, null, "none",
                null, [new NewQueueRecipient($"r{i}@d{i % 50}.example", null, null)]), f.Clock.Now));
        }
        await Task.WhenAll(tasks);
        // Group commit: 2000 concurrent adds took far fewer than 2000 transactions.
        Assert.True(f.Store.Commits < 2000, $"commits {f.Store.Commits}");
        var leased = await f.Store.LeaseDueAsync(f.Clock.Now, TimeSpan.FromMinutes(15), 10, ["d0.example"]);
        Assert.Equal(10, leased.Count);
        Assert.DoesNotContain(leased, l => l.Delivery.Domain == "d0.example");
        var again = await f.Store.LeaseDueAsync(f.Clock.Now, TimeSpan.FromMinutes(15), 10, []);
        Assert.Empty(again.Select(a => a.Delivery.Id).Intersect(leased.Select(l => l.Delivery.Id)));
        Assert.Equal(f.Clock.Now, await f.Store.NextDueAsync());
    }
}
