// Mail transactions on an SmtpClientConnection: MAIL/RCPT pipelined when the peer offers
// PIPELINING (RFC 2920), the message by BDAT when it offers CHUNKING (RFC 3030) or else by
// DATA with dot-stuffing (RFC 5321 §4.5.2), recipients split into several transactions at the
// peer's LIMITS RCPTMAX (RFC 9422) or 100, and the parameters SIZE, BODY, SMTPUTF8, DSN and
// REQUIRETLS passed only when the peer announced them. Before anything is sent, a message that
// needs an extension the peer lacks is refused (permanently) instead of being corrupted.
using System.Text;
using Postern.Mail;

namespace Postern.Smtp.Client;

public sealed partial class SmtpClientConnection
{
    private int _transactions;

    /// <summary>
    /// The reason the message cannot be sent to this peer without corrupting it, as a permanent
    /// result (code, enhanced code, text), or null when it can.
    /// </summary>
    public (int Code, string Enhanced, string Text)? CheckMessageFits(OutboundRequest request)
    {
        EhloCapabilities caps = Capabilities;
        bool utf8Addresses = !IsAsciiOrDomainOnly(request.MailFrom) || request.Recipients.Any(r => !IsAsciiOrDomainOnly(r.Address));
        if ((request.NeedsSmtpUtf8 || utf8Addresses) && !caps.SmtpUtf8)
            return (553, "5.6.7", "the message needs SMTPUTF8 (RFC 6531) and the receiving server does not offer it");
        if (request.Needs8BitMime && !caps.EightBitMime && !caps.SmtpUtf8)
            return (554, "5.6.3", "the message has 8-bit content and the receiving server does not offer 8BITMIME (RFC 6152)");
        if (caps.Size && caps.MaxSize > 0 && request.Size > caps.MaxSize)
            return (552, "5.3.4", $"message of {request.Size} bytes is larger than the receiving server's limit of {caps.MaxSize}");
        return null;
    }

    /// <summary>
    /// Sends the message to the pending recipients of <paramref name="ledger"/>, in as many
    /// transactions as the peer's limits need. Recipients get results as replies arrive; on a
    /// connection failure the ones without a result stay pending and the exception propagates.
    /// </summary>
    /// <returns>True when the connection can still be used; false when MAILMAX was reached with recipients left.</returns>
    public async Task<bool> SendAsync(OutboundRequest request, RecipientLedger ledger, CancellationToken cancellationToken)
    {
        if (CheckMessageFits(request) is { } refusal)
        {
            ledger.SetPending(refusal.Code, refusal.Enhanced, refusal.Text, permanent: true);
            return true;
        }
        int perTransaction = Capabilities.RcptMax > 0 ? Capabilities.RcptMax : Limits.DefaultRecipientsPerTransaction;
        while (ledger.HasPending)
        {
            if (Capabilities.MailMax > 0 && _transactions >= Capabilities.MailMax)
                return false; // RFC 9422 §4.1: a new connection for the rest
            List<int> batch = ledger.Pending().Take(perTransaction).ToList();
            _transactions++;
            bool progress = await TransactionAsync(request, ledger, batch, cancellationToken).ConfigureAwait(false);
            if (!progress) break;
        }
        return true;
    }

    /// <summary>One transaction. Returns false when no recipient got a result (so the loop ends).</summary>
    private async Task<bool> TransactionAsync(OutboundRequest request, RecipientLedger ledger, List<int> batch, CancellationToken ct)
    {
        EhloCapabilities caps = Capabilities;
        bool pipelining = caps.Pipelining;
        QueueCommand(MailCommand(request));
        SmtpReply? mailReply = null;
        if (!pipelining)
        {
            await FlushAsync(Timeouts.Mail, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
            mailReply = await ReadReplyAsync(Timeouts.Mail, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
            if (!mailReply.IsPositive)
                return await MailRefusedAsync(mailReply, ledger, batch, ct).ConfigureAwait(false);
        }
        var rcptReplies = new SmtpReply[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            QueueCommand(RcptCommand(request, ledger[batch[i]]));
            if (!pipelining)
            {
                await FlushAsync(Timeouts.Rcpt, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
                rcptReplies[i] = await ReadReplyAsync(Timeouts.Rcpt, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
            }
        }
        // RFC 2920 §3.1: DATA may end a pipelined group; BDAT waits for the RCPT replies here.
        bool dataPipelined = pipelining && !caps.Chunking;
        if (dataPipelined) QueueCommand("DATA");
        if (pipelining)
        {
            await FlushAsync(Timeouts.Mail, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
            mailReply = await ReadReplyAsync(Timeouts.Mail, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
            for (int i = 0; i < batch.Count; i++)
                rcptReplies[i] = await ReadReplyAsync(Timeouts.Rcpt, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
        }
        var accepted = new List<int>();
        for (int i = 0; i < batch.Count; i++)
        {
            SmtpReply r = rcptReplies[i];
            if (r.IsPositive) accepted.Add(batch[i]);
            else if (mailReply!.IsPositive)
            {
                // RFC 5321 §4.5.3.1.10: 452 "too many recipients" after some were accepted: the
                // rest go in the next transaction rather than being deferred for the whole retry interval.
                if (!(IsTooManyRecipients(r) && accepted.Count > 0)) ledger.Set(batch[i], r, r.IsPermanent ? "1.0" : "0.0");
            }
        }
        if (!mailReply!.IsPositive)
        {
            if (dataPipelined)
            {
                SmtpReply data = await ReadReplyAsync(Timeouts.DataInitiation, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
                if (data.Code == 354) await AbandonDataAsync(ct).ConfigureAwait(false);
            }
            return await MailRefusedAsync(mailReply, ledger, batch, ct).ConfigureAwait(false);
        }
        if (accepted.Count == 0)
        {
            if (dataPipelined)
            {
                // RFC 2920 §3.1: with no valid recipient the server refuses DATA; a server that says 354 anyway gets an empty message.
                SmtpReply data = await ReadReplyAsync(Timeouts.DataInitiation, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
                if (data.Code == 354) await AbandonDataAsync(ct).ConfigureAwait(false);
            }
            await ResetAsync(ct).ConfigureAwait(false);
            return true;
        }
        SmtpReply final = caps.Chunking
            ? await SendBdatAsync(request, ct).ConfigureAwait(false)
            : await SendDataAsync(request, dataPipelined, ct).ConfigureAwait(false);
        foreach (int i in accepted)
            ledger.SetAfterMessage(i, final, caps.Dsn);
        return true;
    }

    /// <summary>RFC 5321 §4.5.3.1.10 / RFC 3463 4.5.3: the peer's per-transaction recipient limit, not a problem of the recipient.</summary>
    private static bool IsTooManyRecipients(SmtpReply r) =>
        r.Code == 452 && (r.Enhanced == "4.5.3" || (r.Enhanced is null && r.Text.Contains("too many recipients", StringComparison.OrdinalIgnoreCase)));

    private async Task<bool> MailRefusedAsync(SmtpReply reply, RecipientLedger ledger, List<int> batch, CancellationToken ct)
    {
        if (reply.IsPermanent)
        {
            // RFC 5321 §4.2.5 / §3.3: a 5xx to MAIL refuses the sender for every recipient.
            foreach (int i in batch) ledger.Set(i, reply, "1.0");
            await ResetAsync(ct).ConfigureAwait(false);
            return true;
        }
        throw new SmtpClientException("MAIL: " + reply, SmtpClientStage.Transaction, reply);
    }

    private async Task AbandonDataAsync(CancellationToken ct)
    {
        QueueBytes(".\r\n"u8);
        await FlushAsync(Timeouts.DataBlock, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
        await ReadReplyAsync(Timeouts.DataTermination, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
    }

    private async Task ResetAsync(CancellationToken ct)
    {
        SmtpReply r = await CommandAsync("RSET", Timeouts.Mail, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
        if (!r.IsPositive)
            throw new SmtpClientException("RSET: " + r, SmtpClientStage.Transaction, r);
    }

    private async Task<SmtpReply> SendDataAsync(OutboundRequest request, bool alreadySent, CancellationToken ct)
    {
        if (!alreadySent) QueueCommand("DATA");
        await FlushAsync(Timeouts.DataInitiation, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
        SmtpReply start = await ReadReplyAsync(Timeouts.DataInitiation, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
        if (start.Code != 354)
            return start;
        await using (Stream message = OpenMessage(request))
        {
            var stuffer = new DotStuffer();
            byte[] input = new byte[64 * 1024];
            while (true)
            {
                int n = await ReadMessageAsync(message, input, ct).ConfigureAwait(false);
                if (n == 0) break;
                stuffer.Append(input.AsSpan(0, n), this);
                if (QueuedBytes >= 64 * 1024)
                    await FlushAsync(Timeouts.DataBlock, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
            }
            stuffer.Finish(this);
        }
        await FlushAsync(Timeouts.DataBlock, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
        return await ReadReplyAsync(Timeouts.DataTermination, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
    }

    private async Task<SmtpReply> SendBdatAsync(OutboundRequest request, CancellationToken ct)
    {
        await using Stream message = OpenMessage(request);
        byte[] chunk = new byte[Limits.ChunkSize];
        while (true)
        {
            int filled = 0;
            while (filled < chunk.Length)
            {
                int n = await ReadMessageAsync(message, chunk.AsMemory(filled), ct).ConfigureAwait(false);
                if (n == 0) break;
                filled += n;
            }
            bool last = filled < chunk.Length;
            // RFC 3030 §2: BDAT <size> [LAST]; the data follows the command line directly.
            QueueCommand("BDAT " + Format(filled) + (last ? " LAST" : ""));
            await FlushAsync(Timeouts.DataBlock, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
            QueueBytes(chunk.AsSpan(0, filled));
            await FlushAsync(Timeouts.DataBlock, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
            SmtpReply reply = await ReadReplyAsync(last ? Timeouts.DataTermination : Timeouts.DataBlock, SmtpClientStage.Transaction, ct).ConfigureAwait(false);
            if (last || !reply.IsPositive)
            {
                if (!last)
                    await ResetAsync(ct).ConfigureAwait(false); // RFC 3030 §2: after a failed chunk the transaction is over; RSET makes it certain
                return reply;
            }
        }
    }

    private static Stream OpenMessage(OutboundRequest request)
    {
        try
        {
            return request.OpenMessage();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SmtpClientException("cannot read the message: " + e.Message, SmtpClientStage.Transaction, inner: e);
        }
    }

    private static async Task<int> ReadMessageAsync(Stream message, Memory<byte> buffer, CancellationToken ct)
    {
        try
        {
            return await message.ReadAsync(buffer, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new SmtpClientException("cannot read the message: " + e.Message, SmtpClientStage.Transaction, inner: e);
        }
    }

    private string MailCommand(OutboundRequest request)
    {
        EhloCapabilities caps = Capabilities;
        var sb = new StringBuilder("MAIL FROM:<").Append(FormatPath(request.MailFrom)).Append('>');
        if (caps.Size) sb.Append(" SIZE=").Append(Format(request.Size)); // RFC 1870 §6
        if (request.Needs8BitMime && caps.EightBitMime) sb.Append(" BODY=8BITMIME"); // RFC 6152 §3
        bool utf8 = request.NeedsSmtpUtf8 || !IsAscii(request.MailFrom) || request.Recipients.Any(r => !IsAscii(r.Address));
        if (utf8 && caps.SmtpUtf8 && (request.NeedsSmtpUtf8 || !IsAsciiOrDomainOnly(request.MailFrom) || request.Recipients.Any(r => !IsAsciiOrDomainOnly(r.Address))))
            sb.Append(" SMTPUTF8"); // RFC 6531 §3.4
        if (caps.Dsn)
        {
            // RFC 3461 §4.3, §4.4: passed on unchanged (they arrived as xtext).
            if (request.Return is { Length: > 0 } ret) sb.Append(" RET=").Append(ret);
            if (request.EnvelopeId is { Length: > 0 } envid) sb.Append(" ENVID=").Append(envid);
        }
        // RFC 8689 §4.2: only on a TLS connection to a server that offers it; enforcement is a policy step.
        if (request.RequireTls && caps.RequireTls && IsTls) sb.Append(" REQUIRETLS");
        return sb.ToString();
    }

    private string RcptCommand(OutboundRequest request, OutboundRecipient recipient)
    {
        var sb = new StringBuilder("RCPT TO:<").Append(FormatPath(recipient.Address)).Append('>');
        if (Capabilities.Dsn)
        {
            if (recipient.Notify is { Length: > 0 } notify) sb.Append(" NOTIFY=").Append(notify); // RFC 3461 §4.1
            if (recipient.OriginalRecipient is { Length: > 0 } orcpt) sb.Append(" ORCPT=").Append(orcpt); // RFC 3461 §4.2
        }
        return sb.ToString();
    }

    /// <summary>An address for MAIL/RCPT: as is with SMTPUTF8, else with its domain in A-labels (RFC 5890).</summary>
    private string FormatPath(string address)
    {
        if (address.Length == 0 || IsAscii(address) || Capabilities.SmtpUtf8) return address;
        int at = address.LastIndexOf('@');
        return at < 0 ? address : address[..(at + 1)] + MailAddress.ToAsciiDomain(address[(at + 1)..]);
    }

    private static bool IsAscii(string s) => System.Text.Ascii.IsValid(s);

    /// <summary>True when the address is ASCII apart from a domain that IDNA can convert (so SMTPUTF8 is not needed).</summary>
    private static bool IsAsciiOrDomainOnly(string address)
    {
        if (IsAscii(address)) return true;
        int at = address.LastIndexOf('@');
        return at >= 0 && IsAscii(address[..at]);
    }

    /// <summary>Dot-stuffing (RFC 5321 §4.5.2) and the final CRLF.CRLF, streaming.</summary>
    private sealed class DotStuffer
    {
        private bool _atLineStart = true;
        private byte _last = (byte)'\n';
        private bool _any;

        public void Append(ReadOnlySpan<byte> data, SmtpClientConnection c)
        {
            while (data.Length > 0)
            {
                if (_atLineStart && data[0] == (byte)'.')
                    c.QueueBytes("."u8);
                int lf = data.IndexOf((byte)'\n');
                ReadOnlySpan<byte> part = lf < 0 ? data : data[..(lf + 1)];
                c.QueueBytes(part);
                _atLineStart = lf >= 0;
                _last = part[^1];
                _any = true;
                data = data[part.Length..];
            }
        }

        public void Finish(SmtpClientConnection c)
        {
            if (_any && _last != (byte)'\n') c.QueueBytes("\r\n"u8);
            c.QueueBytes(".\r\n"u8);
        }
    }
}
