// The recipient policy of `postern localserve`: every address is local and goes to the one
// account, so application developers can send to anything. Addresses whose local part ends in
// "temperror", "permerror", "timeout" or a three-digit reply code (user550@example.com) simulate
// failures, so error handling can be tested.
using System.Globalization;
using Postern.Smtp.Protocol;

namespace Postern.Smtp.Delivery;

/// <summary>Accepts every address into one account, with simulated failures for test addresses.</summary>
public sealed class LocalServeRecipientResolver(string account) : IRecipientResolver
{
    /// <summary>How long a "timeout" address waits before the connection is closed.</summary>
    public TimeSpan SimulatedTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The test addresses, for localserve's banner and docs.</summary>
    public static IReadOnlyList<(string Example, string Effect)> TestAddresses { get; } =
    [
        ("anything@anywhere", "delivered to the account"),
        ("xtemperror@example.com", "451 4.0.0 simulated temporary error"),
        ("xpermerror@example.com", "550 5.0.0 simulated permanent error"),
        ("xtimeout@example.com", "no reply for 30 s, then 421 and the connection is closed"),
        ("user550@example.com", "that reply code: 4xx/5xx (e.g. 421, 452, 550, 552)"),
    ];

    /// <inheritdoc/>
    public ValueTask<RecipientResolution> ResolveAsync(SmtpAddress address, CancellationToken cancellationToken)
    {
        string local = address.LocalPart.ToLowerInvariant();
        RecipientResolution? simulated = Simulate(local);
        if (simulated is not null)
            return ValueTask.FromResult(simulated);
        return ValueTask.FromResult(new RecipientResolution(RecipientStatus.Local, [new RecipientTarget(account, null, address.ToString())]));
    }

    /// <inheritdoc/>
    public ValueTask<bool> MaySendAsAsync(string account1, SmtpAddress address, CancellationToken cancellationToken) => ValueTask.FromResult(true);

    private RecipientResolution? Simulate(string local)
    {
        if (local.EndsWith("temperror", StringComparison.Ordinal))
            return Refuse(451, "4.0.0", "Simulated temporary error");
        if (local.EndsWith("permerror", StringComparison.Ordinal))
            return Refuse(550, "5.0.0", "Simulated permanent error");
        if (local.EndsWith("timeout", StringComparison.Ordinal))
            return Refuse(421, "4.4.2", "Simulated timeout; closing connection") with { Delay = SimulatedTimeout, CloseConnection = true };
        if (local.Length >= 3 && local[^3..].All(char.IsAsciiDigit))
        {
            int code = int.Parse(local[^3..], CultureInfo.InvariantCulture);
            if (code is >= 400 and <= 599)
                return Refuse(code, code / 100 + ".0.0", "Simulated error " + code) with { CloseConnection = code == 421 };
        }
        return null;
    }

    private static RecipientResolution Refuse(int code, string enhanced, string text) =>
        new(RecipientStatus.Refused, []) { Code = code, Enhanced = enhanced, Text = text };
}
