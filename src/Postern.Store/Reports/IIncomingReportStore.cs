using Postern.Mail.Reports;

namespace Postern.Store.Reports;

/// <summary>
/// Where reports other organisations send to this server's reporting addresses are kept: DMARC
/// aggregate reports (RFC 7489 §7.2) and TLS reports (RFC 8460). A report is identified by its
/// organisation and report id; a second copy of the same report is not stored again. The embedded
/// backend is <see cref="SqliteIncomingReportStore"/> (DATA/reports.db); the command line reads it
/// with <see cref="IncomingReportQueries"/>.
/// </summary>
public interface IIncomingReportStore : IAsyncDisposable
{
    /// <summary>Stores a DMARC aggregate report that arrived for <paramref name="recipient"/>; false when the same organisation's report with that id is already stored.</summary>
    Task<bool> AddDmarcReportAsync(DmarcAggregateReport report, string recipient, DateTimeOffset received, CancellationToken cancellationToken = default);

    /// <summary>Stores a TLS report that arrived for <paramref name="recipient"/>; false when the same organisation's report with that id is already stored.</summary>
    Task<bool> AddTlsReportAsync(TlsReport report, string recipient, DateTimeOffset received, CancellationToken cancellationToken = default);
}
