// Delivery into local accounts: DSNs to local senders, and in localserve every outgoing message
// ("delivered back into the local account"). The recipient resolver and the store's delivery
// path are the SMTP server's own (DirectoryRecipientResolver / LocalServeRecipientResolver and
// MessageDelivery), so aliases, catch-alls and delivery rules apply as for incoming mail.
using System.Globalization;
using Postern.Mail;
using Postern.Smtp.Client;
using Postern.Smtp.Delivery;
using Postern.Smtp.Protocol;
using Postern.Store;

namespace Postern.Queue;

/// <summary>An <see cref="IOutboundTransport"/> that stores messages in local accounts.</summary>
/// <param name="store">The accounts.</param>
/// <param name="resolver">Recipient to account.</param>
/// <param name="hostName">This server's name, for the Received field.</param>
/// <param name="deliveredObserver">Told about each message once it is stored (incoming reports), or null.</param>
public sealed class LocalDeliveryTransport(IMailStore store, IRecipientResolver resolver, string hostName, IDeliveredMessageObserver? deliveredObserver = null) : IOutboundTransport
{
    private readonly MessageDelivery _delivery = new(store);

    /// <inheritdoc/>
    public async Task<OutboundResult> DeliverAsync(OutboundRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var results = new OutboundRecipientResult[request.Recipients.Count];
        var targets = new List<(int Index, RecipientTarget Target)>();
        for (int i = 0; i < request.Recipients.Count; i++)
        {
            string address = request.Recipients[i].Address;
            int at = address.LastIndexOf('@');
            if (at <= 0)
            {
                results[i] = new OutboundRecipientResult(address, 550, "5.1.3", "Bad recipient address syntax", true);
                continue;
            }
            RecipientResolution res = await resolver.ResolveAsync(new SmtpAddress(address[..at], address[(at + 1)..]), cancellationToken).ConfigureAwait(false);
            results[i] = res.Status switch
            {
                RecipientStatus.Local => null!,
                RecipientStatus.UnknownAddress => new OutboundRecipientResult(address, 550, "5.1.1", "No such local user", true),
                RecipientStatus.Refused => new OutboundRecipientResult(address, res.Code, res.Enhanced, res.Text, res.Code >= 500),
                _ => new OutboundRecipientResult(address, 550, "5.1.2", "Not a local domain", true),
            };
            if (res.Status == RecipientStatus.Local)
                targets.AddRange(res.Targets.Select(t => (i, t)));
        }
        string log = "";
        if (targets.Count > 0)
        {
            try
            {
                MessageStructure structure;
                HeaderList headers;
                using (Stream s = request.OpenMessage())
                {
                    var parser = new MessageParser();
                    var buffer = new byte[64 * 1024];
                    int n;
                    while ((n = await s.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0) parser.Append(buffer.AsSpan(0, n));
                    structure = parser.Complete();
                    headers = parser.RootHeaders ?? HeaderList.Empty;
                }
                var content = new DeliveryContent(structure, headers, ReadOnlyMemory<byte>.Empty, request.OpenMessage, request.Size);
                string date = MailDate.Format(DateTimeOffset.UtcNow);
                await _delivery.DeliverAsync(content, targets.Select(t => t.Target).ToList(), request.MailFrom, t =>
                    // RFC 5321 §4.4: Return-Path at final delivery; a Received field for the local hop.
                    "Return-Path: <" + request.MailFrom + ">\r\n"
                    + "Delivered-To: " + t.DeliveredTo + "\r\n"
                    + "Received: by " + hostName + " (Postern) with local id queue; " + date + "\r\n", cancellationToken).ConfigureAwait(false);
                foreach (var (i, _) in targets)
                    results[i] ??= new OutboundRecipientResult(request.Recipients[i].Address, 250, "2.0.0", "Delivered to the local mailbox", false) { FinalDelivery = true };
                await NotifyDeliveredAsync(content, targets.Select(t => request.Recipients[t.Index].Address).Distinct(StringComparer.Ordinal).ToList(), request.MailFrom, cancellationToken).ConfigureAwait(false);
            }
            catch (OverQuotaException)
            {
                foreach (var (i, _) in targets)
                    results[i] ??= new OutboundRecipientResult(request.Recipients[i].Address, 452, "4.2.2", "Mailbox full", false);
            }
            catch (Exception e) when (e is StoreException or IOException)
            {
                log = "local delivery failed: " + e.Message;
                foreach (var (i, _) in targets)
                    results[i] ??= new OutboundRecipientResult(request.Recipients[i].Address, 451, "4.3.0", "Temporary local storage failure", false);
            }
        }
        return new OutboundResult(results, hostName, null, TlsOutcome.None, "local",
            log.Length > 0 ? log : string.Create(CultureInfo.InvariantCulture, $"{targets.Count} local delivery target(s)"));
    }

    /// <summary>Tells the observer (incoming reports) about a stored message; its failures never affect the delivery result.</summary>
    private async Task NotifyDeliveredAsync(DeliveryContent content, List<string> recipients, string mailFrom, CancellationToken ct)
    {
        if (deliveredObserver is null || !deliveredObserver.Wants(recipients))
            return;
        try
        {
            await deliveredObserver.DeliveredAsync(new DeliveredMessage(recipients, mailFrom, content), ct).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // the message is delivered; what the observer does with it cannot change that
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}

/// <summary>Delivers to local domains with one transport and to all others with another.</summary>
/// <param name="directory">Tells which domains are local.</param>
/// <param name="local">The transport for local domains.</param>
/// <param name="remote">The transport for every other domain.</param>
public sealed class LocalFirstTransport(IAccountDirectory directory, IOutboundTransport local, IOutboundTransport remote) : IOutboundTransport
{
    /// <inheritdoc/>
    public async Task<OutboundResult> DeliverAsync(OutboundRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        string domain = request.RecipientDomain;
        bool isLocal = await directory.IsLocalDomainAsync(domain, cancellationToken).ConfigureAwait(false)
            || (MailAddress.ToUnicodeDomain(domain) is var u && u != domain && await directory.IsLocalDomainAsync(u, cancellationToken).ConfigureAwait(false))
            || (MailAddress.ToAsciiDomain(domain) is var a && a != domain && await directory.IsLocalDomainAsync(a, cancellationToken).ConfigureAwait(false));
        return await (isLocal ? local : remote).DeliverAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
