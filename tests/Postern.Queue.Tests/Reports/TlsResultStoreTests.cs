using Postern.Store.Reports;

namespace Postern.Queue.Tests.Reports;

/// <summary>The TLS result counters in reports.db and the recorder in front of them.</summary>
public sealed class TlsResultStoreTests : IAsyncDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "postern-tlsresults-" + Guid.NewGuid().ToString("N"));
    private static readonly DateTimeOffset T = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    private static TlsSessionResult Failure(string helo, DateTimeOffset? t = null, string domain = "remote.example") => new()
    {
        Time = t ?? T,
        PolicyDomain = domain,
        PolicyType = TlsSessionResult.Tlsa,
        PolicyStrings = ["3 1 1 0123456789abcdef"],
        Success = false,
        ResultType = "tlsa-invalid",
        ReceivingMxHostname = "mx.remote.example",
        ReceivingMxHelo = helo,
        ReceivingIp = "192.0.2.9",
    };

    [Fact]
    public async Task SessionsAreCountedNotStoredOneByOne()
    {
        await using SqliteTlsResultStore store = SqliteTlsResultStore.Open(_dir);
        var batch = new List<TlsSessionResult>();
        for (int i = 0; i < 100; i++)
            batch.Add(new TlsSessionResult { Time = T.AddSeconds(i), PolicyDomain = "Remote.Example.", PolicyType = TlsSessionResult.NoPolicyFound, Success = true });
        batch.Add(Failure("mx.remote.example"));
        batch.Add(Failure("mx.remote.example"));
        batch.Add(Failure("mx.remote.example", T.AddDays(1)));
        await store.AddAsync(batch);
        await store.AddAsync([Failure("mx.remote.example")]);

        Assert.Equal(["remote.example"], await store.ListPolicyDomainsAsync(DateOnly.FromDateTime(T.UtcDateTime)));
        IReadOnlyList<TlsPolicyDaySummary> day = await store.GetDayAsync(DateOnly.FromDateTime(T.UtcDateTime), "remote.example");
        Assert.Equal(2, day.Count);
        TlsPolicyDaySummary none = Assert.Single(day, d => d.PolicyType == "no-policy-found");
        Assert.Equal((100L, 0L), (none.SuccessCount, none.FailureCount));
        Assert.Empty(none.PolicyStrings);
        TlsPolicyDaySummary tlsa = Assert.Single(day, d => d.PolicyType == "tlsa");
        Assert.Equal(3, tlsa.FailureCount);
        Assert.Equal(3, Assert.Single(tlsa.Failures).FailedSessionCount);
        Assert.Equal(["3 1 1 0123456789abcdef"], tlsa.PolicyStrings);

        Assert.True(await store.DeleteBeforeAsync(DateOnly.FromDateTime(T.UtcDateTime).AddDays(1)) > 0);
        Assert.Empty(await store.ListPolicyDomainsAsync(DateOnly.FromDateTime(T.UtcDateTime)));
        Assert.Single(await store.ListPolicyDomainsAsync(DateOnly.FromDateTime(T.UtcDateTime).AddDays(1)));
    }

    [Fact]
    public async Task HostileVariationIsCountedButDetailRowsAreCapped()
    {
        await using SqliteTlsResultStore store = SqliteTlsResultStore.Open(_dir);
        // An MX that greets with a new name on every connection, and an absurdly long one.
        var batch = Enumerable.Range(0, 1000).Select(i => Failure($"mx-{i}.remote.example")).ToList();
        batch.Add(Failure(new string('x', 100_000) + "\r\n\0"));
        await store.AddAsync(batch);
        TlsPolicyDaySummary s = Assert.Single(await store.GetDayAsync(DateOnly.FromDateTime(T.UtcDateTime), "remote.example"));
        Assert.Equal(1001, s.FailureCount);
        Assert.Equal(SqliteTlsResultStore.MaxFailureDetailsPerDomainDay, s.Failures.Count);
        Assert.All(s.Failures, f => Assert.True(f.ReceivingMxHelo!.Length <= SqliteTlsResultStore.MaxFieldLength));
    }

    private sealed class GatedStore : ITlsResultStore
    {
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _added;

        public int Added => _added;

        public async Task AddAsync(IReadOnlyList<TlsSessionResult> results, CancellationToken cancellationToken = default)
        {
            await Gate.Task;
            Interlocked.Add(ref _added, results.Count);
        }

        public Task<IReadOnlyList<string>> ListPolicyDomainsAsync(DateOnly utcDay, CancellationToken cancellationToken = default) => Task.FromResult<IReadOnlyList<string>>([]);
        public Task<IReadOnlyList<TlsPolicyDaySummary>> GetDayAsync(DateOnly utcDay, string policyDomain, CancellationToken cancellationToken = default) => Task.FromResult<IReadOnlyList<TlsPolicyDaySummary>>([]);
        public Task<long> DeleteBeforeAsync(DateOnly utcDay, CancellationToken cancellationToken = default) => Task.FromResult(0L);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task RecorderNeverWaitsForAStuckStoreItDropsAndCounts()
    {
        var store = new GatedStore();
        var recorder = new TlsResultRecorder(store, capacity: 1);
        for (int i = 0; i < 3; i++) recorder.Record(Failure("mx")); // returns at once although the store is stuck
        recorder.Record(null!); // the contract: never throws on the delivery path
        Assert.True(recorder.Dropped >= 1);
        store.Gate.SetResult();
        await recorder.FlushAsync();
        await recorder.DisposeAsync();
        Assert.Equal(3, store.Added + recorder.Dropped);
    }

    public ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dir, true);
        }
        catch (IOException)
        {
        }
        return ValueTask.CompletedTask;
    }
}
