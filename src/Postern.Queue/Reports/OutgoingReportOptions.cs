namespace Postern.Queue.Reports;

/// <summary>Settings of the report sender, handed over by the executable (config section <c>reports:</c>).</summary>
public sealed record OutgoingReportOptions
{
    /// <summary>Send daily TLS reports (RFC 8460).</summary>
    public bool TlsEnabled { get; init; } = true;

    /// <summary>Only report domains where at least one session failed (the default); false reports every domain with a TLSRPT record.</summary>
    public bool TlsOnlyFailures { get; init; } = true;

    /// <summary>Send DMARC aggregate reports (RFC 7489 §7.2).</summary>
    public bool DmarcEnabled { get; init; } = true;

    /// <summary>organization-name / org_name of the reports.</summary>
    public required string OrganizationName { get; init; }

    /// <summary>The From address and envelope sender of report messages, and the reports' contact address.</summary>
    public required string FromAddress { get; init; }

    /// <summary>This server's host name: TLS-Report-Submitter and the sender part of TLS report file names.</summary>
    public required string HostName { get; init; }

    /// <summary>Our domain as DMARC reports name the receiver (Submitter, file names): the From address's domain by default.</summary>
    public string ReceiverDomain => FromAddress[(FromAddress.LastIndexOf('@') + 1)..];

    /// <summary>Most time an https: report upload may take.</summary>
    public TimeSpan HttpTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest compressed report Postern sends (a rua size limit "!" can only lower it).</summary>
    public int MaxReportBytes { get; init; } = 10 * 1024 * 1024;

    /// <summary>Most rows in one DMARC report period (the largest groups are kept, the rest is counted in an error element).</summary>
    public int MaxDmarcRecords { get; init; } = 20_000;

    /// <summary>How long a report address that bounced is not sent to.</summary>
    public TimeSpan SuppressionPeriod { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Days of TLS results kept after they were reported.</summary>
    public int TlsRetentionDays { get; init; } = 7;

    /// <summary>Days that DMARC evaluations are kept when DMARC reporting is off (for <c>postern dmarc evaluations</c>).</summary>
    public int DmarcRetentionDaysWhenOff { get; init; } = 7;

    /// <summary>The clock (a manual one in tests).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
