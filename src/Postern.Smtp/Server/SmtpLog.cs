// The SMTP server's log lines that are written for every connection or message, defined once
// with the logging source generator: no template parsing or boxing per line. With a new
// connection per message (how most MTAs deliver) these lines are a measurable part of the
// per-connection cost, so a connection writes one line: "smtp delivered" for each message it
// delivered, or "smtp connection" when it ends without delivering anything.
using System.Net;
using Microsoft.Extensions.Logging;

namespace Postern.Smtp.Server;

internal static partial class SmtpLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "smtp delivered id={Id} remote={Remote} listener={Listener} helo={Helo} from={From} rcpts={Rcpts} size={Size} auth={Auth}")]
    public static partial void Delivered(ILogger logger, long id, IPAddress remote, SmtpListenerKind listener, string helo, string from, int rcpts, long size, string auth);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "smtp connection id={Id} remote={Remote} listener={Listener} helo={Helo} messages={Messages} tls={Tls} seconds={Seconds}")]
    public static partial void ConnectionWithoutDelivery(ILogger logger, long id, IPAddress remote, SmtpListenerKind listener, string helo, int messages, bool tls, double seconds);
}
