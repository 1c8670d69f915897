namespace Postern.Smtp.Delivery;

/// <summary>A message that has just been stored durably in local accounts.</summary>
/// <param name="Recipients">The envelope recipients it was delivered for (as given in RCPT TO, before alias expansion).</param>
/// <param name="MailFrom">The envelope sender ("" for the null path).</param>
/// <param name="Content">The message as received (without the delivery headers); valid only during the observer call.</param>
public sealed record DeliveredMessage(IReadOnlyList<string> Recipients, string MailFrom, DeliveryContent Content);

/// <summary>
/// Looks at messages after their delivery is committed (incoming reports, see IncomingReportReceiver).
/// The SMTP server sends its reply first and only then calls <see cref="DeliveredAsync"/>, and only
/// when <see cref="Wants"/> says so; nothing an observer does can fail or delay a delivery.
/// </summary>
public interface IDeliveredMessageObserver
{
    /// <summary>Whether a message for these envelope recipients is of interest (cheap: no I/O).</summary>
    bool Wants(IReadOnlyList<string> recipients);

    /// <summary>
    /// Called once per delivered message that <see cref="Wants"/> accepted. Must copy what it keeps
    /// (the content is gone after the call), must not wait for slow work, and must not throw.
    /// </summary>
    ValueTask DeliveredAsync(DeliveredMessage message, CancellationToken cancellationToken);
}
