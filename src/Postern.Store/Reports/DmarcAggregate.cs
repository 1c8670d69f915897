namespace Postern.Store.Reports;

/// <summary>A policy domain with evaluations waiting to be reported.</summary>
/// <param name="PolicyDomain">The domain.</param>
/// <param name="Oldest">The oldest evaluation's time.</param>
/// <param name="Latest">The newest evaluation (its record text carries rua= and ri=).</param>
public sealed record DmarcPendingDomain(string PolicyDomain, DateTimeOffset Oldest, DmarcEvaluationRecord Latest);

/// <summary>One aggregate-report row: messages with the same source and results (RFC 7489 Appendix C, RecordType).</summary>
public sealed record DmarcAggregateRow
{
    /// <summary>The sending IP (row/source_ip).</summary>
    public required string SourceIp { get; init; }
    /// <summary>How many messages.</summary>
    public required long Count { get; init; }
    /// <summary>none, quarantine or reject.</summary>
    public required string Disposition { get; init; }
    /// <summary>policy_evaluated/dkim.</summary>
    public required bool DkimAligned { get; init; }
    /// <summary>policy_evaluated/spf.</summary>
    public required bool SpfAligned { get; init; }
    /// <summary>none, sampled_out or local_policy.</summary>
    public required string Override { get; init; }
    /// <summary>identifiers/envelope_to (space separated domains as stored).</summary>
    public required string EnvelopeTo { get; init; }
    /// <summary>identifiers/envelope_from.</summary>
    public required string EnvelopeFrom { get; init; }
    /// <summary>identifiers/header_from.</summary>
    public required string HeaderFrom { get; init; }
    /// <summary>auth_results/spf/domain.</summary>
    public required string SpfDomain { get; init; }
    /// <summary>auth_results/spf/result.</summary>
    public required string SpfResult { get; init; }
    /// <summary>auth_results/dkim.</summary>
    public required IReadOnlyList<DmarcDkimEntry> Dkim { get; init; }
}

/// <summary>A domain's evaluations of a period, grouped.</summary>
/// <param name="Rows">The rows, largest first.</param>
/// <param name="TotalMessages">Messages in the period (also those in rows cut by the limit).</param>
/// <param name="Truncated">Whether rows were cut at the limit.</param>
/// <param name="Latest">The newest evaluation of the period (its published policy), or null when there were none.</param>
public sealed record DmarcAggregate(IReadOnlyList<DmarcAggregateRow> Rows, long TotalMessages, bool Truncated, DmarcEvaluationRecord? Latest);
