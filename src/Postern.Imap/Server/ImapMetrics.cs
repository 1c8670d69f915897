using System.Diagnostics.Metrics;

namespace Postern.Imap.Server;

/// <summary>The IMAP server's metrics (served at /metrics, docs/operations.md). Tags are fixed words, never peer input.</summary>
internal static class ImapMetrics
{
    private static readonly Meter Meter = new("Postern.Imap");

    public static readonly Counter<long> Connections = Meter.CreateCounter<long>("postern.imap.connections",
        description: "IMAP connections accepted.");

    public static readonly UpDownCounter<long> Sessions = Meter.CreateUpDownCounter<long>("postern.imap.sessions",
        description: "IMAP sessions open now.");

    public static readonly Counter<long> Commands = Meter.CreateCounter<long>("postern.imap.commands",
        description: "IMAP commands by name and result (ok, no, bad).");

    public static readonly Histogram<double> CommandSeconds = Meter.CreateHistogram<double>("postern.imap.command.seconds", unit: "s",
        description: "Time to execute an IMAP command, by name (IDLE counts its whole wait).");

    public static readonly Counter<long> Auth = Meter.CreateCounter<long>("postern.imap.auth",
        description: "LOGIN and AUTHENTICATE attempts, by result (success, failure).");

    /// <summary>The command name as a label: parsed commands have known names; anything else is "other".</summary>
    public static string CommandLabel(string name) =>
        name.Length is > 0 and <= 16 && name.All(char.IsAsciiLetterUpper) ? name.ToLowerInvariant() : "other";
}
