using Postern.Smtp.Protocol;

namespace Postern.Smtp.Delivery;

/// <summary>One place a message is stored for a recipient.</summary>
/// <param name="Account">Account name.</param>
/// <param name="Mailbox">Destination mailbox, or null for INBOX (delivery rules may still choose one).</param>
/// <param name="DeliveredTo">The address written in Delivered-To.</param>
public sealed record RecipientTarget(string Account, string? Mailbox, string DeliveredTo);

/// <summary>What happens to one RCPT.</summary>
public enum RecipientStatus
{
    /// <summary>Local: deliver to <see cref="RecipientResolution.Targets"/>.</summary>
    Local,
    /// <summary>The domain is local but no such address: 550 5.1.1.</summary>
    UnknownAddress,
    /// <summary>The domain is not ours: relaying (refused on MX; on submission queued when there is an outgoing queue).</summary>
    Remote,
    /// <summary>Refused with the reply in <see cref="RecipientResolution.Code"/> (localserve's simulated failures).</summary>
    Refused,
}

/// <summary>Result of resolving a recipient.</summary>
public sealed record RecipientResolution(RecipientStatus Status, IReadOnlyList<RecipientTarget> Targets)
{
    /// <summary>Reply code for <see cref="RecipientStatus.Refused"/>.</summary>
    public int Code { get; init; }
    /// <summary>Enhanced code for <see cref="RecipientStatus.Refused"/>.</summary>
    public string Enhanced { get; init; } = "";
    /// <summary>Reply text for <see cref="RecipientStatus.Refused"/>.</summary>
    public string Text { get; init; } = "";
    /// <summary>How long to wait before replying (localserve's simulated timeouts).</summary>
    public TimeSpan Delay { get; init; }
    /// <summary>Whether the connection is closed after the reply (simulated timeouts).</summary>
    public bool CloseConnection { get; init; }

    /// <summary>Shared result for unknown addresses.</summary>
    public static RecipientResolution Unknown { get; } = new(RecipientStatus.UnknownAddress, []);

    /// <summary>Shared result for remote domains.</summary>
    public static RecipientResolution NotLocal { get; } = new(RecipientStatus.Remote, []);
}

/// <summary>Maps envelope addresses to accounts: for RCPT, and for checking the From of submitted mail.</summary>
public interface IRecipientResolver
{
    /// <summary>Where mail to <paramref name="address"/> goes.</summary>
    ValueTask<RecipientResolution> ResolveAsync(SmtpAddress address, CancellationToken cancellationToken);

    /// <summary>Whether an authenticated <paramref name="account"/> may send with <paramref name="address"/> as From (or MAIL FROM).</summary>
    ValueTask<bool> MaySendAsAsync(string account, SmtpAddress address, CancellationToken cancellationToken);
}
