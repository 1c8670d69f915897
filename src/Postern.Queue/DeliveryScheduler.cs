// How the queue retries.
//
// A message is stored with one delivery per recipient domain; each delivery has a next-attempt
// time, an attempt count and a lease. The worker below wakes when something is enqueued (or
// unheld, rescheduled, or an attempt ends) and otherwise sleeps until the earliest next attempt:
// it never polls and never loads the queue into memory. When it wakes it leases due deliveries
// (a short query with LIMIT, at most as many as free delivery slots; domains already at their
// concurrency limit are skipped), and runs one transport attempt per leased delivery.
//
// After an attempt each recipient is delivered, failed (a permanent reply), or still waiting
// (a temporary one). A delivery with waiting recipients is attempted again after
//   first-retry-interval × 2^(attempts−1), ±10 % jitter
// (7.5 min, 15 min, 30 min, ... 8 h by default: 8 attempts span about 16 hours), until
// max-attempts is reached and the waiting recipients fail with their last reply. The first
// attempt is made at once (or at the FUTURERELEASE time, RFC 4865).
//
// Senders learn what happened through DSNs (RFC 3464) sent to the envelope sender, never to
// the null sender: a "failed" DSN for recipients that failed in an attempt, and once a
// "delayed" DSN when a message is still waiting delayed-dsn-after (4 h) after it was queued;
// each honours the recipient's NOTIFY (RFC 3461 §4.1: NEVER suppresses both, and without NOTIFY
// Postern sends both, as §4.1 permits). Hard bounces (5.1.x) of submitted mail add the address
// to the account's suppression list.
//
// Crash safety: an attempt's result is recorded after the transport returns. If Postern dies
// in between, the lease is released at the next start and the delivery is attempted again, so
// a peer that had just accepted the message receives it a second time. That is the only
// duplicate a crash can cause; nothing is lost.
using System.Globalization;
using Microsoft.Extensions.Logging;
using Postern.Smtp.Client;

namespace Postern.Queue;

/// <summary>The delivery worker: leases due deliveries, runs attempts with concurrency limits, records results, reschedules.</summary>
internal sealed class DeliveryScheduler
{
    private static readonly TimeSpan MaxSleep = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);

    private readonly OutgoingQueue _queue;
    private readonly IOutboundTransport? _transport;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _perDomain = new(StringComparer.Ordinal);
    private readonly HashSet<Task> _running = [];
    private Task? _loop;

    public DeliveryScheduler(OutgoingQueue queue, IOutboundTransport? transport)
    {
        _queue = queue;
        _transport = transport;
    }

    private QueueOptions Options => _queue.Options;

    public void Start()
    {
        if (_loop is not null) throw new InvalidOperationException("already started");
        if (_transport is null) throw new InvalidOperationException("the queue has no transport");
        _loop = Task.Run(LoopAsync);
    }

    public void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0) _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    private async Task LoopAsync()
    {
        CancellationToken ct = _stop.Token;
        DateTimeOffset lastPurge = DateTimeOffset.MinValue;
        try
        {
            await _queue.Store.ReleaseAllLeasesAsync(ct).ConfigureAwait(false);
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    if (_queue.Now - lastPurge >= PurgeInterval)
                    {
                        lastPurge = _queue.Now;
                        int purged = await _queue.PurgeAsync(ct).ConfigureAwait(false);
                        if (purged > 0) _queue.Logger.LogInformation("queue purged finished messages count={Count}", purged);
                    }
                    if (await StartDueAsync(ct).ConfigureAwait(false)) continue;
                    TimeSpan sleep = MaxSleep;
                    if (FreeSlots > 0 && await _queue.Store.NextDueAsync(ct).ConfigureAwait(false) is { } next)
                        sleep = next - _queue.Now;
                    if (sleep > MaxSleep) sleep = MaxSleep;
                    if (sleep > TimeSpan.Zero) await _wake.WaitAsync(sleep, ct).ConfigureAwait(false);
                }
                catch (Exception e) when (!ct.IsCancellationRequested && e is not OperationCanceledException)
                {
                    _queue.Logger.LogError("queue worker error={Error}; retrying in a minute", e.Message);
                    await _wake.WaitAsync(TimeSpan.FromMinutes(1), ct).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private int FreeSlots
    {
        get
        {
            lock (_lock) return Options.MaxConcurrentDeliveries - _running.Count;
        }
    }

    /// <summary>Leases and starts due deliveries into the free slots; true when it started any (there may be more).</summary>
    private async Task<bool> StartDueAsync(CancellationToken ct)
    {
        int free;
        List<string> busy;
        lock (_lock)
        {
            free = Options.MaxConcurrentDeliveries - _running.Count;
            busy = _perDomain.Where(kv => kv.Value >= Options.MaxConcurrentPerDomain).Select(kv => kv.Key).ToList();
        }
        if (free <= 0) return false;
        IReadOnlyList<LeasedDelivery> leased = await _queue.Store.LeaseDueAsync(_queue.Now, Options.LeaseTime,
            Math.Min(free, Options.MaxConcurrentPerDomain), busy, ct).ConfigureAwait(false);
        if (leased.Count == 0) return false;
        var release = new List<long>();
        int started = 0;
        foreach (LeasedDelivery d in leased)
        {
            lock (_lock)
            {
                int n = _perDomain.GetValueOrDefault(d.Delivery.Domain);
                if (n >= Options.MaxConcurrentPerDomain || _running.Count >= Options.MaxConcurrentDeliveries)
                {
                    release.Add(d.Delivery.Id);
                    continue;
                }
                _perDomain[d.Delivery.Domain] = n + 1;
                var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Task task = tcs.Task;
                _running.Add(task);
                _ = RunAttemptAsync(d, tcs, task);
                started++;
            }
        }
        if (release.Count > 0) await _queue.Store.ReleaseLeasesAsync(release, ct).ConfigureAwait(false);
        return started > 0;
    }

    private async Task RunAttemptAsync(LeasedDelivery d, TaskCompletionSource done, Task self)
    {
        await Task.Yield();
        try
        {
            await AttemptAsync(d, _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Stopping: the lease is released at the next start and the attempt made again.
        }
        catch (Exception e)
        {
            _queue.Logger.LogError("queue attempt failed to record id={Id} domain={Domain} error={Error}", d.Message.Id, d.Delivery.Domain, e.Message);
        }
        finally
        {
            lock (_lock)
            {
                _running.Remove(self);
                int n = _perDomain.GetValueOrDefault(d.Delivery.Domain) - 1;
                if (n <= 0) _perDomain.Remove(d.Delivery.Domain);
                else _perDomain[d.Delivery.Domain] = n;
            }
            done.TrySetResult();
            Wake();
        }
    }

    /// <summary>Runs every due delivery, waiting for each round of attempts, until nothing is due (tests and offline commands).</summary>
    public async Task RunDueAsync(CancellationToken ct)
    {
        if (_transport is null) throw new InvalidOperationException("the queue has no transport");
        while (true)
        {
            bool started = await StartDueAsync(ct).ConfigureAwait(false);
            Task[] running;
            lock (_lock) running = [.. _running];
            if (!started && running.Length == 0) return;
            if (running.Length > 0) await Task.WhenAny(running).ConfigureAwait(false);
        }
    }

    private async Task AttemptAsync(LeasedDelivery d, CancellationToken ct)
    {
        QueueMessage m = d.Message;
        List<QueueRecipient> pending = d.Recipients.Where(r => r.State == DeliveryState.Queued).ToList();
        int attempt = d.Delivery.Attempts + 1;
        OutboundResult result;
        if (pending.Count == 0)
        {
            result = new OutboundResult([], null, null, TlsOutcome.None, "none", "no recipients left");
        }
        else
        {
            var request = new OutboundRequest(d.Delivery.Domain, m.MailFrom,
                pending.Select(r => new OutboundRecipient(r.Address, r.Notify, r.OriginalRecipient)).ToList(),
                () => _queue.OpenMessage(m), m.Size, m.Flags.HasFlag(QueueMessageFlags.EightBit), m.Flags.HasFlag(QueueMessageFlags.SmtpUtf8),
                m.Flags.HasFlag(QueueMessageFlags.RequireTls), m.EnvelopeId, m.Return, attempt, SenderDomain(m),
                TlsRequiredNo: m.Flags.HasFlag(QueueMessageFlags.TlsRequiredNo), TlsReport: m.Flags.HasFlag(QueueMessageFlags.TlsReport));
            try
            {
                result = await _transport!.DeliverAsync(request, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // A transport must not throw; if one does, the attempt fails temporarily and is retried.
                result = new OutboundResult(pending.Select(r => new OutboundRecipientResult(r.Address, 451, "4.3.0", "Local error in transport: " + e.Message, false)).ToList(),
                    null, null, TlsOutcome.None, "error", e.GetType().Name + ": " + e.Message);
            }
        }
        await RecordAsync(d, pending, attempt, result, ct).ConfigureAwait(false);
    }

    private static string SenderDomain(QueueMessage m) => m.MailFrom.Length > 0 ? Sqlite.SqliteQueueStore.DomainOf(m.MailFrom) : "";

    private async Task RecordAsync(LeasedDelivery d, List<QueueRecipient> pending, int attempt, OutboundResult result, CancellationToken ct)
    {
        DateTimeOffset now = _queue.Now;
        QueueMessage m = d.Message;
        var updates = new List<(long, DeliveryState, int, string, string)>();
        var failedNow = new List<QueueRecipient>();
        var waiting = new List<QueueRecipient>();
        var suppress = new List<SuppressedAddress>();
        var results = new List<string>();
        var relayed = new List<QueueRecipient>();
        var deliveredFinal = new List<QueueRecipient>();
        for (int i = 0; i < pending.Count; i++)
        {
            QueueRecipient r = pending[i];
            OutboundRecipientResult rr = (i < result.Recipients.Count && result.Recipients[i].Address == r.Address ? result.Recipients[i] : null)
                ?? result.Recipients.FirstOrDefault(x => string.Equals(x.Address, r.Address, StringComparison.OrdinalIgnoreCase))
                ?? new OutboundRecipientResult(r.Address, 451, "4.3.0", "The transport gave no result for this recipient", false);
            DeliveryState state = rr.Delivered ? DeliveryState.Delivered
                : rr.Permanent || attempt >= Options.MaxAttempts ? DeliveryState.Failed : DeliveryState.Queued;
            string text = Clip(rr.Text, 2000);
            updates.Add((r.Id, state, rr.Code, rr.Enhanced, text));
            var updated = r with { State = state, Code = rr.Code, Enhanced = rr.Enhanced, Text = text };
            if (state == DeliveryState.Failed) failedNow.Add(updated);
            else if (state == DeliveryState.Queued) waiting.Add(updated);
            // RFC 3461 §5.2.2, §5.2.3: NOTIFY=SUCCESS is answered here unless the next hop took the request over (it offers DSN).
            else if (rr.FinalDelivery) deliveredFinal.Add(updated);
            else if (!rr.DsnPassedOn) relayed.Add(updated);
            // RFC 3463 X.1.x: the address itself is bad; sending to it again can only bounce again.
            if (rr.Permanent && rr.Enhanced.StartsWith("5.1.", StringComparison.Ordinal) && m.Account is not null)
                suppress.Add(new SuppressedAddress(m.Account, r.Address, $"{rr.Code} {rr.Enhanced} {Clip(rr.Text, 200)}", now));
            results.Add(string.Create(CultureInfo.InvariantCulture, $"{r.Address}: {rr.Code} {rr.Enhanced} {Clip(rr.Text, 300)}"));
        }
        bool anyFailedBefore = d.Recipients.Any(r => r.State == DeliveryState.Failed);
        DeliveryState deliveryState = waiting.Count > 0 ? DeliveryState.Queued
            : failedNow.Count > 0 || anyFailedBefore ? DeliveryState.Failed : DeliveryState.Delivered;
        DateTimeOffset next = deliveryState == DeliveryState.Queued ? now + RetryDelay(attempt) : now;
        bool sendDelayed = deliveryState == DeliveryState.Queued && !d.Delivery.DelayedDsnSent && now - m.Created >= Options.DelayedDsnAfter;
        string tls = result.Tls.Used ? $"{result.Tls.Version} {result.Tls.Cipher} verified={result.Tls.CertificateVerified} policy={result.Tls.Policy}"
            : "none" + (result.Tls.Error is null ? "" : " (" + result.Tls.Error + ")");
        var outcome = new AttemptOutcome(d.Delivery.Id, deliveryState, attempt, next, d.Delivery.DelayedDsnSent || sendDelayed,
            waiting.Count > 0 ? Clip(waiting[0].Code + " " + waiting[0].Enhanced + " " + waiting[0].Text, 500) : null,
            updates, new QueueAttempt(d.Delivery.Id, now, result.Transport, result.RemoteHost, result.RemoteIp, tls, string.Join("\n", results), Clip(result.Log, 8000)),
            suppress);
        await _queue.Store.RecordAttemptAsync(outcome, ct).ConfigureAwait(false);
        QueueMetrics.Attempts.Add(1, new KeyValuePair<string, object?>("state", deliveryState.ToString().ToLowerInvariant()));
        QueueMetrics.Recipients.Add(updates.Count(u => u.Item2 == DeliveryState.Delivered), new KeyValuePair<string, object?>("result", "delivered"));
        QueueMetrics.Recipients.Add(waiting.Count, new KeyValuePair<string, object?>("result", "deferred"));
        QueueMetrics.Recipients.Add(failedNow.Count, new KeyValuePair<string, object?>("result", "failed"));
        _queue.Logger.LogInformation("queue attempt id={Id} domain={Domain} attempt={Attempt} state={State} host={Host} next={Next}",
            m.Id, d.Delivery.Domain, attempt, deliveryState, result.RemoteHost ?? "", deliveryState == DeliveryState.Queued ? next.ToString("u", CultureInfo.InvariantCulture) : "");
        if (failedNow.Count > 0)
            await _queue.Reports.SendAsync(m, failedNow, DsnKind.Failed, result.RemoteHost, ct).ConfigureAwait(false);
        if (sendDelayed)
            await _queue.Reports.SendAsync(m, waiting, DsnKind.Delayed, result.RemoteHost, ct, willRetryUntil: EstimateLastAttempt(m)).ConfigureAwait(false);
        // Only recipients whose NOTIFY has SUCCESS are reported (DeliveryReports filters).
        if (relayed.Count > 0)
            await _queue.Reports.SendAsync(m, relayed, DsnKind.Relayed, result.RemoteHost, ct).ConfigureAwait(false);
        if (deliveredFinal.Count > 0)
            await _queue.Reports.SendAsync(m, deliveredFinal, DsnKind.Delivered, null, ct).ConfigureAwait(false);
    }

    /// <summary>The wait after attempt <paramref name="attemptsMade"/>: first-retry-interval × 2^(attempts−1), ±10 % jitter.</summary>
    public TimeSpan RetryDelay(int attemptsMade)
    {
        double factor = Math.Pow(2, Math.Max(0, attemptsMade - 1));
        double jitter = 0.9 + Random.Shared.NextDouble() * 0.2;
        return TimeSpan.FromTicks((long)(Options.FirstRetryInterval.Ticks * factor * jitter));
    }

    private DateTimeOffset EstimateLastAttempt(QueueMessage m)
    {
        double total = 0;
        for (int a = 1; a < Options.MaxAttempts; a++) total += Options.FirstRetryInterval.TotalSeconds * Math.Pow(2, a - 1);
        return m.Created + TimeSpan.FromSeconds(total);
    }

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..max] + "...";

    public async Task StopAsync()
    {
        if (!_stop.IsCancellationRequested) await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        Task[] running;
        lock (_lock) running = [.. _running];
        await Task.WhenAll(running).ConfigureAwait(false);
    }
}
