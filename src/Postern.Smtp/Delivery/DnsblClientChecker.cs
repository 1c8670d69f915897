// DNS blocklists (RFC 5782) for the MX listener. The client's address is looked up in each
// configured zone once per connection, at its first MAIL FROM: a listing refuses the
// transaction with 554 5.7.1 naming the zone and the list's TXT reason (so the sender's
// postmaster sees why), which is what Postfix's reject_rbl_client answers too. Error answers
// (127.255.255.x, 127.0.0.1, outside 127/8) and DNS failures are not listings: they are logged
// and the mail goes on, so a broken or unreachable list never stops mail. RFC 8601 registers
// no Authentication-Results method for DNSBLs, so the results appear in the log only.
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Postern.Dns;
using Postern.Security.Dnsbl;

namespace Postern.Smtp.Delivery;

/// <summary>A refusal of a client before its transaction: the reply to send.</summary>
/// <param name="Code">Reply code (4xx or 5xx).</param>
/// <param name="Enhanced">Enhanced status code (RFC 3463).</param>
/// <param name="Text">Reply text.</param>
public sealed record ClientRefusal(int Code, string Enhanced, string Text);

/// <summary>
/// A check of the connecting client on the MX listener, run at the first MAIL FROM of a
/// connection (never for submission); a refusal answers every MAIL FROM of that connection.
/// </summary>
public interface ISmtpClientChecker
{
    /// <summary>Checks a client; null lets it go on.</summary>
    ValueTask<ClientRefusal?> CheckClientAsync(IPAddress remote, string helo, CancellationToken cancellationToken);
}

/// <summary>Refuses clients listed in any of the configured DNSBL zones (RFC 5782).</summary>
public sealed class DnsblClientChecker : ISmtpClientChecker
{
    private readonly DnsblChecker _checker;
    private readonly IReadOnlyList<string> _zones;
    private readonly ILogger _logger;

    /// <summary>Checks <paramref name="zones"/> through <paramref name="dns"/>.</summary>
    public DnsblClientChecker(IDnsResolver dns, IReadOnlyList<string> zones, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(dns);
        ArgumentNullException.ThrowIfNull(zones);
        _checker = new DnsblChecker(dns);
        _zones = [.. zones.Select(z => z.Trim().TrimEnd('.').ToLowerInvariant()).Where(z => z.Length > 0).Distinct(StringComparer.Ordinal)];
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The zones asked.</summary>
    public IReadOnlyList<string> Zones => _zones;

    /// <inheritdoc/>
    public async ValueTask<ClientRefusal?> CheckClientAsync(IPAddress remote, string helo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(remote);
        if (_zones.Count == 0) return null;
        IReadOnlyList<DnsblResult> results = await _checker.CheckAllAsync(remote, _zones, cancellationToken).ConfigureAwait(false);
        ClientRefusal? refusal = null;
        foreach (DnsblResult r in results)
        {
            switch (r.Status)
            {
                case DnsblStatus.Listed:
                    _logger.LogInformation("dnsbl listed remote={Remote} zone={Zone} codes={Codes} reason={Reason}",
                        remote, r.Zone, string.Join(',', r.Codes), r.Text ?? "");
                    // RFC 5782 §2.1: the TXT record explains the listing; it goes into the reply, made safe for one reply line.
                    refusal ??= new ClientRefusal(554, "5.7.1", $"Client host [{remote}] blocked using {r.Zone}" + (r.Text is { Length: > 0 } t ? ": " + ReplyText(t) : ""));
                    break;
                case DnsblStatus.TempError:
                    _logger.LogWarning("dnsbl temperror remote={Remote} zone={Zone} detail={Detail}; accepting", remote, r.Zone, r.Detail ?? "");
                    break;
                case DnsblStatus.Error:
                    _logger.LogWarning("dnsbl error remote={Remote} zone={Zone} detail={Detail}; not a listing, accepting", remote, r.Zone, r.Detail ?? "");
                    break;
            }
        }
        return refusal;
    }

    /// <summary>Printable ASCII only, at most 200 characters: the text comes from someone else's DNS.</summary>
    private static string ReplyText(string text)
    {
        var chars = text.Where(c => c is >= ' ' and <= '~').Take(200).ToArray();
        return new string(chars);
    }
}
