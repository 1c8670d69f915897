namespace Postern.Store.Reports;

/// <summary>The evaluations of one policy domain in a period, as an aggregate report covers them.</summary>
/// <param name="PolicyDomain">The domain whose DMARC record applied.</param>
/// <param name="Evaluations">Its evaluations, oldest first.</param>
public sealed record DmarcDomainEvaluations(string PolicyDomain, IReadOnlyList<DmarcEvaluationRecord> Evaluations);

/// <summary>
/// Where DMARC evaluations of incoming mail are kept until the aggregate reports (RFC 7489 §7.2)
/// are sent. The embedded backend is <see cref="SqliteDmarcEvaluationStore"/>; writes come in
/// batches from one writer (<see cref="DmarcEvaluationRecorder"/>).
/// </summary>
public interface IDmarcEvaluationStore : IAsyncDisposable
{
    /// <summary>Stores evaluations in one transaction.</summary>
    Task AddAsync(IReadOnlyList<DmarcEvaluationRecord> evaluations, CancellationToken cancellationToken = default);

    /// <summary>Evaluations with <paramref name="from"/> ≤ time &lt; <paramref name="to"/>, optionally of one policy domain, oldest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<DmarcEvaluationRecord>> ListAsync(DateTimeOffset from, DateTimeOffset to, string? policyDomain = null, int limit = int.MaxValue, CancellationToken cancellationToken = default);

    /// <summary>Evaluations of one UTC day grouped per policy domain (ordered by domain), for that day's aggregate reports.</summary>
    Task<IReadOnlyList<DmarcDomainEvaluations>> ListByPolicyDomainAsync(DateOnly utcDay, CancellationToken cancellationToken = default);

    /// <summary>Deletes evaluations older than <paramref name="time"/> (after their reports went out); returns how many.</summary>
    Task<long> DeleteBeforeAsync(DateTimeOffset time, CancellationToken cancellationToken = default);

    /// <summary>The policy domains with evaluations before <paramref name="before"/>: oldest time and the newest evaluation's published policy.</summary>
    Task<IReadOnlyList<DmarcPendingDomain>> ListPendingDomainsAsync(DateTimeOffset before, CancellationToken cancellationToken = default);

    /// <summary>
    /// A domain's evaluations in a period grouped into aggregate-report rows (source IP, disposition,
    /// results, identifiers), largest first, at most <paramref name="maxRows"/> (RFC 7489 §7.2).
    /// </summary>
    Task<DmarcAggregate> AggregateAsync(string policyDomain, DateTimeOffset from, DateTimeOffset to, int maxRows, CancellationToken cancellationToken = default);

    /// <summary>Deletes one policy domain's evaluations older than <paramref name="before"/> (after its report went out); returns how many.</summary>
    Task<long> DeleteDomainBeforeAsync(string policyDomain, DateTimeOffset before, CancellationToken cancellationToken = default);
}

/// <summary>UTC day boundaries used by the report queries.</summary>
public static class DmarcReportDay
{
    /// <summary>The start of a UTC day.</summary>
    public static DateTimeOffset Start(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    /// <summary>The start of the next UTC day.</summary>
    public static DateTimeOffset End(DateOnly day) => Start(day.AddDays(1));
}
