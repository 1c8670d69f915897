// Message data: DATA (dot-stuffed, RFC 5321 §4.1.1.4) and BDAT (RFC 3030 CHUNKING, with
// BINARYMIME), then the acceptance pipeline of a complete message:
//   1. spool (memory, then a temporary file past SmtpLimits.InMemoryMessageThreshold) while
//      the SIZE limit, line rules and smuggling rules are enforced as bytes arrive;
//   2. submission rules (one From that belongs to the account; Message-ID and Date added);
//   3. the IIncomingMessageChecker steps (sender authentication will plug in here);
//   4. quota, then delivery into each account: durable before the 250 is sent.
// Bare CR or LF under DATA is answered with 500 and the connection is closed: once a peer
// disagrees with us about where data ends, nothing it sends after can be trusted as commands.
using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Security.Authentication;
using System.Text;
using Microsoft.Extensions.Logging;
using Postern.Mail;
using Postern.Smtp.Delivery;
using Postern.Smtp.Protocol;
using Postern.Store;

namespace Postern.Smtp.Server;

internal sealed partial class SmtpSession
{
    // BDAT state: the message being assembled from chunks, and its line checker (null for BINARYMIME).
    private MessageSpool? _bdat;
    private BdatLineChecker? _bdatChecker;
    private bool _bdatFailed;

    private string TempDirectory => Options.TempDirectory ?? Path.GetTempPath();

    private MessageSpool NewSpool()
    {
        // A big message is written straight into a temporary file of the (first) local account it is
        // for, which the store renames into place: no spool file and copy (see MessageSpool).
        string? account = _recipients.SelectMany(r => r.Targets).Select(t => t.Account).FirstOrDefault();
        return new(Limits.MaxMessageSize, Limits.InMemoryMessageThreshold, TempDirectory, account is null ? null : (_server.Store, account));
    }

    private async Task DataAsync(string argument)
    {
        if (argument.Length > 0)
            throw new SmtpCommandException(501, "5.5.4", "DATA takes no argument");
        if (_bdat is not null || _bdatFailed)
            throw new SmtpCommandException(503, "5.5.1", "DATA not allowed after BDAT");
        if (_mail is null)
            throw new SmtpCommandException(503, "5.5.1", "Need MAIL before DATA");
        if (!HasRecipients)
            // RFC 5321 §3.3: no valid recipients.
            throw new SmtpCommandException(554, "5.5.1", "No valid recipients");
        if (_mail.Body == BodyType.BinaryMime)
            // RFC 3030 §3: BINARYMIME messages are sent with BDAT only.
            throw new SmtpCommandException(503, "5.5.1", "BODY=BINARYMIME needs BDAT");

        _w.Reply(354, null, "Start mail input; end with <CRLF>.<CRLF>");
        await FlushAsync(default).ConfigureAwait(false);

        MessageSpool spool = NewSpool();
        await using (spool.ConfigureAwait(false))
        {
            var decoder = new DotDataDecoder(Limits.MaxTextLineLength);
            DataStatus status;
            while (true)
            {
                ReadResult r;
                try
                {
                    r = await _pipe.ReadAsync(BeginWait(Options.DataTimeout)).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _w.Reply(421, "4.4.2", "Timeout waiting for message data; closing");
                    _quit = true;
                    return;
                }
                finally
                {
                    EndWait();
                }
                ReadOnlySequence<byte> buffer = r.Buffer;
                status = decoder.Decode(ref buffer, spool);
                _pipe.AdvanceTo(buffer.Start, status == DataStatus.NeedMore ? r.Buffer.End : buffer.Start);
                if (status != DataStatus.NeedMore)
                    break;
                await spool.SpillAsync(default).ConfigureAwait(false);
                if (r.IsCompleted)
                {
                    _quit = true;
                    return;
                }
            }
            if (status is DataStatus.BareLineFeed or DataStatus.BareCarriageReturn)
            {
                _server.Logger.LogInformation("smtp bare line ending in data id={Id} remote={Remote} kind={Kind}", _id, _remote, status);
                _w.Reply(500, "5.5.2", (status == DataStatus.BareLineFeed ? "Bare LF" : "Bare CR")
                    + " in message data refused: lines must end with CRLF and only <CRLF>.<CRLF> ends the data (RFC 5321 §2.3.8, §4.1.1.4); closing");
                _quit = true;
                await ResetTransactionAsync().ConfigureAwait(false);
                return;
            }
            await FinishMessageAsync(spool, decoder.LineTooLong).ConfigureAwait(false);
        }
    }

    private async Task BdatAsync(string argument)
    {
        // RFC 3030 §2: BDAT chunk-size [SP "LAST"]. Without a valid size the stream cannot be
        // framed any more, so the connection is closed.
        string[] parts = argument.Split(' ');
        bool last = parts.Length == 2 && parts[1].Equals("LAST", StringComparison.OrdinalIgnoreCase);
        if (parts.Length is < 1 or > 2 || (parts.Length == 2 && !last) || parts[0].Length is 0 or > 19 || !parts[0].All(char.IsAsciiDigit))
        {
            _w.Reply(501, "5.5.4", "Syntax: BDAT size [LAST]; cannot continue without a valid size; closing");
            _quit = true;
            return;
        }
        long size = long.Parse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture);
        long already = _bdat?.Length ?? 0;
        if (size > Limits.MaxMessageSize - already && size > Limits.MaxMessageSize)
        {
            // Reading past the maximum just to stay in step is not worth it: refuse and close.
            _w.Reply(552, "5.3.4", "Chunk exceeds the maximum message size; closing");
            _quit = true;
            return;
        }

        string? refusal = null;
        if (_mail is null)
            refusal = "Need MAIL before BDAT";
        else if (!HasRecipients)
            refusal = "No valid recipients";
        else if (_bdatFailed)
            refusal = "Transaction already failed; send RSET";
        if (refusal is not null)
        {
            // RFC 3030 §2: the chunk is still read (and dropped) so that the stream stays framed.
            await ReadChunkAsync(size, null, null).ConfigureAwait(false);
            if (!_quit)
                _w.Reply(_mail is null ? 503 : 554, "5.5.1", refusal);
            return;
        }

        if (_bdat is null)
        {
            _bdat = NewSpool();
            _bdatChecker = _mail!.Body == BodyType.BinaryMime ? null : new BdatLineChecker(Limits.MaxTextLineLength);
        }
        DataStatus status = await ReadChunkAsync(size, _bdat, _bdatChecker).ConfigureAwait(false);
        if (_quit)
            return;
        if (status == DataStatus.NeedMore && last && _bdatChecker is not null)
            status = _bdatChecker.Finish();
        if (status is DataStatus.BareLineFeed or DataStatus.BareCarriageReturn)
        {
            _server.Logger.LogInformation("smtp bare line ending in bdat id={Id} remote={Remote} kind={Kind}", _id, _remote, status);
            _w.Reply(554, "5.6.0", (status == DataStatus.BareLineFeed ? "Bare LF" : "Bare CR")
                + " in message refused: without BODY=BINARYMIME lines must end with CRLF (RFC 3030 §3, RFC 5321 §2.3.8)");
            await ResetTransactionAsync().ConfigureAwait(false);
            _bdatFailed = true;
            return;
        }
        if (!last)
        {
            _w.Reply(250, "2.0.0", $"{size} octets received");
            return;
        }
        MessageSpool spool = _bdat;
        bool tooLong = _bdatChecker?.LineTooLong == true;
        _bdat = null;
        _bdatChecker = null;
        await using (spool.ConfigureAwait(false))
            await FinishMessageAsync(spool, tooLong).ConfigureAwait(false);
    }

    /// <summary>Reads exactly <paramref name="size"/> bytes into the spool (or drops them), checking lines when asked.</summary>
    private async Task<DataStatus> ReadChunkAsync(long size, MessageSpool? spool, BdatLineChecker? checker)
    {
        DataStatus status = DataStatus.NeedMore;
        long left = size;
        while (left > 0)
        {
            ReadResult r;
            try
            {
                r = await _pipe.ReadAsync(BeginWait(Options.DataTimeout)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _w.Reply(421, "4.4.2", "Timeout waiting for chunk data; closing");
                _quit = true;
                return status;
            }
            finally
            {
                EndWait();
            }
            ReadOnlySequence<byte> chunk = r.Buffer.Slice(0, Math.Min(left, r.Buffer.Length));
            foreach (ReadOnlyMemory<byte> m in chunk)
            {
                if (status == DataStatus.NeedMore && checker is not null)
                    status = checker.Check(m.Span);
                if (status == DataStatus.NeedMore)
                    spool?.Write(m.Span);
            }
            left -= chunk.Length;
            _pipe.AdvanceTo(chunk.End);
            if (spool is not null && status == DataStatus.NeedMore)
                await spool.SpillAsync(default).ConfigureAwait(false);
            if (left > 0 && r.IsCompleted)
            {
                _quit = true;
                return status;
            }
        }
        return status;
    }

    /// <summary>The acceptance pipeline for a complete message; replies and resets the transaction.</summary>
    private async Task FinishMessageAsync(MessageSpool spool, bool lineTooLong)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            _messages++;
            _server.RateLimiter.AddBytes(_remote, spool.Length);
            if (spool.TooLarge)
            {
                // RFC 1870 §6.3 / RFC 3463 X.3.4
                _w.Reply(552, "5.3.4", $"Message size exceeds fixed maximum message size ({Limits.MaxMessageSize})");
                return;
            }
            if (lineTooLong)
            {
                _w.Reply(554, "5.6.0", $"Message has a line longer than {Limits.MaxTextLineLength} octets");
                return;
            }
            if (spool.StartsWithFoldedLine)
            {
                // RFC 5322 §2.2.3: a folded line continues a field; before any field it is malformed, and stored
                // as it is it would join the trace header put in front of it.
                _w.Reply(554, "5.6.0", "Message starts with a folded line (space or tab) before any header field");
                return;
            }
            SpooledMessage message = await spool.CompleteAsync(default).ConfigureAwait(false);
            await AcceptAsync(message).ConfigureAwait(false);
        }
        finally
        {
            var service = new KeyValuePair<string, object?>("service", SmtpMetrics.Service(_kind));
            SmtpMetrics.Messages.Add(1, service, new KeyValuePair<string, object?>("result", SmtpMetrics.Result(_w.LastCode)));
            SmtpMetrics.MessageSeconds.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, service);
            await ResetTransactionAsync().ConfigureAwait(false);
        }
    }

    private async Task AcceptAsync(SpooledMessage message)
    {
        MailCommand mail = _mail!;
        string envelopeFrom = mail.From?.ToString() ?? "";
        var extraHeaders = new StringBuilder();
        if (IsSubmission)
        {
            string? problem = await CheckSubmissionAsync(message.Headers, extraHeaders).ConfigureAwait(false);
            if (problem is not null)
            {
                _w.Reply(550, "5.7.1", problem);
                return;
            }
        }

        var incoming = new IncomingMessage(_remote, _helo ?? "", envelopeFrom, _recipients.Select(r => r.Address.ToString()).Concat(_queued.Select(q => q.Address)).ToList(),
            message.Headers, IsSecure, _authAccount, message.OpenRead);
        var checkerHeaders = new StringBuilder();
        var receivedComments = new List<string>();
        string? clientName = null;
        string? verifiedFrom = null;
        bool junk = false;
        foreach (IIncomingMessageChecker checker in Options.MessageCheckers)
        {
            IncomingVerdict verdict = await checker.CheckAsync(incoming, default).ConfigureAwait(false);
            if (verdict.Rejection is { } rej)
            {
                _w.Reply(rej.Code, rej.Enhanced, rej.Text);
                return;
            }
            checkerHeaders.Append(verdict.AddHeaders);
            if (verdict.ReceivedComment is { Length: > 0 } comment) receivedComments.Add(comment);
            clientName ??= verdict.ClientHostName;
            verifiedFrom ??= verdict.VerifiedFrom;
            junk |= verdict.Junk;
        }

        var content = new DeliveryContent(message.Structure, message.Headers, message.Memory, message.File is null ? null : message.OpenRead, message.Length)
        {
            AccountFile = message.AccountFile,
        };
        IReadOnlyList<RecipientTarget> targets = _recipients.SelectMany(r => r.Targets).ToList();
        if (junk)
            targets = targets.Select(t => t with { Mailbox = MessageDelivery.JunkMailbox }).ToList();
        else if (!IsSubmission)
            targets = await _server.Delivery.ApplyJunkFilterAsync(content, targets, verifiedFrom, (account, score) =>
            {
                if (score is null)
                    _server.Logger.LogInformation("junk skipped id={Id} account={Account} from={From}: a verified sender the account has written to", _id, account, verifiedFrom);
                else
                    _server.Logger.LogInformation("junk classified id={Id} account={Account} probability={Probability:0.000} junk={Junk} tokens={Tokens}",
                        _id, account, score.Probability, score.IsJunk, score.Evidence.Count);
            },
                (account, e) => _server.Logger.LogWarning("junk filter failed id={Id} account={Account} error={Error}; delivered without it", _id, account, e.Message),
                default).ConfigureAwait(false);
        foreach (string account in targets.Select(t => t.Account).Distinct(StringComparer.Ordinal))
        {
            if (!await _server.Delivery.HasRoomAsync(account, message.Length, default).ConfigureAwait(false))
            {
                // RFC 3463 X.2.2 mailbox full; permanent for this message size.
                _w.Reply(552, "5.2.2", "Mailbox full");
                return;
            }
        }

        string received = ReceivedHeader(mail, targets.Count == 1 ? _recipients[0].Address.ToString() : null, clientName, receivedComments);
        // The queue failed after these copies were stored and the client retries: not stored twice (SmtpSession.Queue.cs).
        string? partialKey = await PartialDeliveryKeyAsync(message, envelopeFrom, targets.Count).ConfigureAwait(false);
        if (partialKey is not null && _server.PartialDeliveries.Contains(partialKey))
            targets = [];
        try
        {
            await _server.Delivery.DeliverAsync(content, targets, envelopeFrom, t =>
                // RFC 5321 §4.4: Return-Path is added at final delivery; Delivered-To marks the recipient (loop detection).
                "Return-Path: <" + envelopeFrom + ">\r\n"
                + "Delivered-To: " + t.DeliveredTo + "\r\n"
                + checkerHeaders
                + received
                + extraHeaders, default).ConfigureAwait(false);
        }
        catch (OverQuotaException)
        {
            _w.Reply(552, "5.2.2", "Mailbox full");
            return;
        }
        catch (StoreException e)
        {
            _server.Logger.LogWarning("smtp delivery failed id={Id} error={Error}", _id, e.Message);
            _w.Reply(451, "4.3.0", "Temporary storage failure; try again later");
            return;
        }
        string? queueId = null;
        if (_queued.Count > 0)
        {
            string queuedReceived = ReceivedHeader(mail, _recipients.Count + _queued.Count == 1 ? _queued[0].Address : null, clientName, receivedComments);
            queueId = await EnqueueSubmittedAsync(message, mail, envelopeFrom, queuedReceived + extraHeaders, partialKey).ConfigureAwait(false);
            if (queueId is null)
                return;
        }
        await QueueSuccessDsnAsync(message, mail, envelopeFrom).ConfigureAwait(false);
        _delivered++;
        SmtpLog.Delivered(_server.Logger, _id, _remote, _kind, _helo ?? "", envelopeFrom, _recipients.Count, message.Length, _authAccount ?? "");
        _w.Reply(250, "2.0.0", "Message accepted for delivery, id=" + Cid + (queueId is null ? "" : ", queued as " + queueId));
        if (targets.Count > 0)
            await NotifyDeliveredAsync(content, envelopeFrom).ConfigureAwait(false);
        if (IsSubmission && _authAccount is not null)
            await RecordContactsAsync(_authAccount, incoming.Recipients).ConfigureAwait(false);
    }

    /// <summary>The junk filter trusts replies from whom an account writes to (docs/junk.md); after the 250, never failing the message.</summary>
    private async Task RecordContactsAsync(string account, IReadOnlyList<string> recipients)
    {
        try
        {
            await _server.Delivery.RecordContactsAsync(account, recipients, default).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StoreException or IOException or System.Data.Common.DbException)
        {
            _server.Logger.LogWarning("junk contacts not recorded id={Id} account={Account} error={Error}", _id, account, e.Message);
        }
    }

    /// <summary>
    /// Hands a delivered message to the observer (incoming reports) once the 250 is on its way:
    /// the reply is flushed first, and whatever the observer does cannot change or delay it.
    /// </summary>
    private async Task NotifyDeliveredAsync(DeliveryContent content, string envelopeFrom)
    {
        if (Options.DeliveredObserver is not { } observer)
            return;
        List<string> recipients = _recipients.Select(r => r.Address.ToString()).ToList();
        if (!observer.Wants(recipients))
            return;
        await TryFlushAsync().ConfigureAwait(false);
        try
        {
            await observer.DeliveredAsync(new DeliveredMessage(recipients, envelopeFrom, content), default).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // an observer's failure must never reach the SMTP session
        catch (Exception e)
#pragma warning restore CA1031
        {
            _server.Logger.LogWarning("smtp delivered-message observer failed id={Id} error={Error}", _id, e.Message);
        }
    }

    /// <summary>RFC 6409 rules for submitted mail; returns a refusal text, or null with headers to add.</summary>
    private async Task<string?> CheckSubmissionAsync(HeaderList headers, StringBuilder add)
    {
        var froms = headers.GetAll("From").ToList();
        if (froms.Count == 0)
            return "Message has no From header";
        // RFC 5322 §3.6: exactly one From field.
        if (froms.Count > 1)
            return "Message has several From headers";
        IReadOnlyList<MailAddress> addresses = AddressParser.ParseMailboxes(froms[0].Value);
        if (addresses.Count == 0)
            return "From header has no valid address";
        foreach (MailAddress a in addresses)
        {
            if (!await _server.Resolver.MaySendAsAsync(_authAccount!, new SmtpAddress(a.LocalPart, a.Domain), default).ConfigureAwait(false))
                return $"From address {a.Address} does not belong to you";
        }
        // RFC 6409 §8.3, §8.1: the MSA may add a missing Message-ID and Date.
        if (headers.Get("Message-ID") is null)
            add.Append("Message-ID: <").Append(Guid.NewGuid().ToString("N")).Append('@').Append(Options.HostName).Append(">\r\n");
        if (headers.Get("Date") is null)
            add.Append("Date: ").Append(MailDate.Format(DateTimeOffset.UtcNow)).Append("\r\n");
        return null;
    }

    /// <summary>RFC 5321 §4.4 trace field, with the TLS version and cipher and the encrypted connection id.</summary>
    private string ReceivedHeader(MailCommand mail, string? singleRecipient, string? clientName, List<string> fromComments)
    {
        // RFC 3848 / RFC 6531 §3.7.3 "with" protocol names.
        string with = !_esmtp ? "SMTP" : (mail.SmtpUtf8 ? "UTF8SMTP" : "ESMTP") + (IsSecure ? "S" : "") + (_authAccount is not null ? "A" : "");
        var sb = new StringBuilder("Received: from ");
        // RFC 5321 §4.4 TCP-info: the address literal, after the client's name when DNS confirmed it.
        sb.Append(_helo).Append(" (");
        if (clientName is not null)
            sb.Append(clientName).Append(' ');
        // RFC 5321 §4.1.3: an IPv6 address literal is tagged "IPv6:".
        sb.Append(_remote.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !_remote.IsIPv4MappedToIPv6 ? "[IPv6:" : "[")
          .Append(_remote.IsIPv4MappedToIPv6 ? _remote.MapToIPv4() : _remote).Append("])");
        // The checkers' notes on the sender (whether its DNS is DNSSEC-signed), as RFC 5322 §3.6.7 comments.
        foreach (string c in fromComments)
            sb.Append(" (").Append(c.Replace('(', '[').Replace(')', ']').Replace('\r', ' ').Replace('\n', ' ')).Append(')');
        sb.Append("\r\n\tby ").Append(Options.HostName).Append(" (Postern) with ").Append(with)
          .Append(" id ").Append(Cid);
        if (_tls is not null)
        {
            string version = _tls.SslProtocol switch
            {
                SslProtocols.Tls13 => "TLS1.3",
                SslProtocols.Tls12 => "TLS1.2",
                var p => p.ToString(),
            };
            sb.Append("\r\n\t(version=").Append(version).Append(" cipher=").Append(_tls.NegotiatedCipherSuite);
            // RFC 8689: REQUIRETLS is recorded with the message, here in its trace field.
            if (mail.RequireTls)
                sb.Append(" requiretls");
            sb.Append(')');
        }
        if (singleRecipient is not null)
            sb.Append("\r\n\tfor <").Append(singleRecipient).Append('>');
        sb.Append("; ").Append(MailDate.Format(DateTimeOffset.UtcNow)).Append("\r\n");
        return sb.ToString();
    }
}
