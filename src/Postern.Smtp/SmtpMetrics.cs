using System.Diagnostics.Metrics;
using Postern.Smtp.Server;

namespace Postern.Smtp;

/// <summary>The SMTP server's metrics (served at /metrics, docs/operations.md). Tags are fixed words, never peer input.</summary>
internal static class SmtpMetrics
{
    private static readonly Meter Meter = new("Postern.Smtp");

    public static readonly Counter<long> Connections = Meter.CreateCounter<long>("postern.smtp.connections",
        description: "SMTP connections accepted, by service (mx, submission, submissions).");

    public static readonly UpDownCounter<long> Sessions = Meter.CreateUpDownCounter<long>("postern.smtp.sessions",
        description: "SMTP sessions open now, by service.");

    public static readonly Counter<long> Messages = Meter.CreateCounter<long>("postern.smtp.messages",
        description: "Messages whose data was received, by service and result: accepted (250), deferred (4xx) or refused (5xx).");

    public static readonly Histogram<double> MessageSeconds = Meter.CreateHistogram<double>("postern.smtp.message.seconds", unit: "s",
        description: "Time from the end of a message's data to the reply (checks, delivery, durable commit), by service.");

    public static readonly Counter<long> Auth = Meter.CreateCounter<long>("postern.smtp.auth",
        description: "AUTH attempts, by result (success, failure).");

    public static readonly Counter<long> SenderChecks = Meter.CreateCounter<long>("postern.smtp.incoming.auth",
        description: "Sender authentication of incoming mail, by method (spf, dkim, dmarc) and result (pass, fail, none, ...); dkim counts the best signature of each message.");

    public static readonly Counter<long> Junk = Meter.CreateCounter<long>("postern.smtp.incoming.junk",
        description: "Junk filter decisions on incoming mail per recipient account, by result (junk, notjunk); accounts still learning are not counted.");

    public static string Service(SmtpListenerKind kind) => kind switch
    {
        SmtpListenerKind.Mx => "mx",
        SmtpListenerKind.Submission => "submission",
        _ => "submissions",
    };

    public static string Result(int code) => code switch
    {
        >= 200 and < 300 => "accepted",
        >= 400 and < 500 => "deferred",
        _ => "refused",
    };
}
