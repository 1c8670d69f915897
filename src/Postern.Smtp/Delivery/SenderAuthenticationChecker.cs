// Sender authentication in the acceptance pipeline: SPF, DKIM, DMARC and iprev for mail from
// other servers (submissions by our own authenticated users are not checked). The verdict adds
// Received-SPF and Authentication-Results (RFC 8601) to the stored message, refuses a message
// whose DMARC policy is reject (RFC 7489 §6.6.2: 550 5.7.1 at DATA), and files a quarantined one
// into Junk.
using Postern.Security.AuthResults;
using Postern.Security.Dmarc;

using Postern.Mail;

namespace Postern.Smtp.Delivery;

/// <summary>Runs <see cref="MessageAuthenticator"/> on each incoming message.</summary>
public sealed class SenderAuthenticationChecker(MessageAuthenticator authenticator) : IIncomingMessageChecker
{
    /// <summary>Called with each evaluation, for DMARC aggregate reports and logs.</summary>
    public Action<IncomingMessage, MessageAuthentication>? Evaluated { get; init; }

    /// <inheritdoc/>
    public async ValueTask<IncomingVerdict> CheckAsync(IncomingMessage message, CancellationToken cancellationToken)
    {
        if (message.AuthenticatedAccount is not null)
            return IncomingVerdict.Accept;
        SenderAuthentication sender = await authenticator.CheckSenderAsync(message.RemoteIp, message.Helo, message.MailFrom, cancellationToken).ConfigureAwait(false);
        MessageAuthentication result;
        Stream content = message.OpenContent();
        await using (content.ConfigureAwait(false))
        {
            if (!content.CanSeek)
            {
                var copy = new MemoryStream();
                await content.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
                copy.Position = 0;
                content = copy;
            }
            result = await authenticator.CheckMessageAsync(sender, content, cancellationToken).ConfigureAwait(false);
        }
        Evaluated?.Invoke(message, result);
        SmtpMetrics.SenderChecks.Add(1, new("method", "spf"), new("result", sender.Spf.MailFrom.Result.ToString().ToLowerInvariant()));
        string dkim = result.Dkim.Count == 0 ? "none"
            : result.Dkim.Any(d => d.Result == Postern.Security.Dkim.DkimResult.Pass) ? "pass" : result.Dkim[0].Result.ToString().ToLowerInvariant();
        SmtpMetrics.SenderChecks.Add(1, new("method", "dkim"), new("result", dkim));
        SmtpMetrics.SenderChecks.Add(1, new("method", "dmarc"), new("result", result.Dmarc.Result.ToString().ToLowerInvariant()));
        string headers = result.ReceivedSpf + "\r\n" + result.AuthenticationResults + "\r\n";
        string? received = ReceivedComment(sender);
        string? clientName = ConfirmedClientName(sender);
        return result.Disposition switch
        {
            DmarcPolicy.Reject => new IncomingVerdict
            {
                Rejection = (550, "5.7.1", $"DMARC policy of {result.Dmarc.FromDomain} rejects this message (SPF and DKIM do not align with the From domain)"),
            },
            DmarcPolicy.Quarantine => new IncomingVerdict { AddHeaders = headers, Junk = true, ReceivedComment = received, ClientHostName = clientName },
            _ => new IncomingVerdict { AddHeaders = headers, ReceivedComment = received, ClientHostName = clientName, VerifiedFrom = VerifiedFrom(message, result) },
        };
    }

    /// <summary>The single From address when DMARC passed for its domain (RFC 7489 §3.1: the From domain is then authenticated).</summary>
    internal static string? VerifiedFrom(IncomingMessage message, MessageAuthentication result)
    {
        if (result.Dmarc.Result != Postern.Security.Dmarc.DmarcResult.Pass) return null;
        var from = message.Headers.GetAll("From").ToList();
        if (from.Count != 1) return null;
        var addresses = AddressParser.ParseMailboxes(from[0].Value);
        if (addresses.Count != 1 || addresses[0].Domain.Length == 0) return null;
        var a = addresses[0];
        if (!string.Equals(a.DomainAscii, result.Dmarc.FromDomain, StringComparison.OrdinalIgnoreCase)) return null;
        return Postern.Store.Junk.JunkFilter.ContactKey(a);
    }

    /// <summary>
    /// The Received header's note on the sender's DNS (as mox records it): whether the SPF policy of
    /// the MAIL FROM domain (or the HELO name, for bounces) came from DNSSEC-signed answers. Null
    /// when no domain could be looked up.
    /// </summary>
    public static string? ReceivedComment(SenderAuthentication sender)
    {
        ArgumentNullException.ThrowIfNull(sender);
        Postern.Security.Spf.SpfCheckResult spf = sender.Spf.MailFrom;
        if (spf.Domain.Length == 0) return null;
        return sender.SenderDnssecSigned ? $"sender DNS {spf.Domain} DNSSEC-signed" : $"sender DNS {spf.Domain} not DNSSEC-signed";
    }

    /// <summary>
    /// The client's name when iprev passed, lower-cased and without a trailing dot; null otherwise, and for a
    /// name that is not a plain host name (letters, digits, hyphens, dots): whoever controls the reverse zone
    /// chooses it, and it goes into a header field.
    /// </summary>
    public static string? ConfirmedClientName(SenderAuthentication sender)
    {
        ArgumentNullException.ThrowIfNull(sender);
        if (sender.Iprev is not { Result: Postern.Security.Iprev.IprevResult.Pass, Name: { } name }) return null;
        name = name.TrimEnd('.').ToLowerInvariant();
        // RFC 5321 §4.1.2 Domain, ASCII only: the same parser as for paths and HELO.
        try
        {
            int pos = 0;
            Postern.Smtp.Protocol.SmtpPath.ParseDomain(name, ref pos, utf8: false);
            return pos == name.Length ? name : null;
        }
        catch (Postern.Smtp.Protocol.SmtpSyntaxException)
        {
            return null;
        }
    }
}
