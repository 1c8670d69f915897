// The envelope: EHLO/HELO (with the extensions advertised), MAIL FROM and RCPT TO, RSET.
// Relaying is refused: on the MX listener only local recipients are accepted (550 5.7.1
// otherwise); on submission, remote recipients go to the outgoing queue (SmtpSession.Queue.cs),
// or are refused with 550 5.7.0 when there is none. "%" and "!" routing in local parts is refused outright, and source routes are
// ignored (RFC 5321 §C), so neither can turn a local address into a relay.
using System.Globalization;
using Microsoft.Extensions.Logging;
using Postern.Security.Sasl;
using Postern.Smtp.Delivery;
using Postern.Smtp.Protocol;

namespace Postern.Smtp.Server;

internal sealed partial class SmtpSession
{
    // The current transaction (RFC 5321 §3.3).
    private MailCommand? _mail;
    private readonly List<(SmtpAddress Address, IReadOnlyList<RecipientTarget> Targets)> _recipients = [];

    private async Task HelloAsync(string argument, bool esmtp)
    {
        string name = argument.Trim();
        if (name.Length == 0)
        {
            _w.Reply(501, "5.5.4", $"Syntax: {(esmtp ? "EHLO" : "HELO")} hostname");
            return;
        }
        // RFC 5321 §4.1.1.1: a domain or an address literal. Checked so the Received header only
        // carries a well-formed name.
        if (!IsValidHeloName(name))
        {
            _w.Reply(501, "5.5.4", "Invalid domain name or address literal");
            return;
        }
        // RFC 5321 §4.1.4: EHLO/HELO resets the transaction state.
        await ResetTransactionAsync().ConfigureAwait(false);
        _helo = name;
        _esmtp = esmtp;
        if (!esmtp)
        {
            _w.Reply(250, null, Options.HostName);
            return;
        }
        _w.Reply(250, null, EhloLines());
    }

    private static bool IsValidHeloName(string name)
    {
        if (name.StartsWith('['))
        {
            int pos = 0;
            try
            {
                SmtpPath.Parse("<x@" + name + ">", ref pos, false, false, out _);
                return true;
            }
            catch (SmtpSyntaxException)
            {
                return false;
            }
        }
        try
        {
            int pos = 0;
            SmtpPath.ParseDomain(name, ref pos, utf8: true);
            return pos == name.Length;
        }
        catch (SmtpSyntaxException)
        {
            return false;
        }
    }

    private List<string> EhloLines()
    {
        var lines = new List<string>
        {
            Options.HostName + " greets " + _helo,
            "PIPELINING",
            "SIZE " + Limits.MaxMessageSize.ToString(CultureInfo.InvariantCulture),
            "8BITMIME",
            "BINARYMIME",
            "CHUNKING",
            "SMTPUTF8",
            "ENHANCEDSTATUSCODES",
        };
        if (!IsSecure && Options.TlsAvailable)
            lines.Add("STARTTLS");
        if (IsSubmission && PasswordsAllowed && _authAccount is null)
            lines.Add("AUTH " + string.Join(' ', SaslServerMechanisms.Advertised(SaslOptions())));
        // RFC 8689 §4: REQUIRETLS only on a TLS connection.
        if (IsSecure)
            lines.Add("REQUIRETLS");
        // RFC 3461 §4: DSN needs the queue to send the notifications; RFC 4865 §3 FUTURERELEASE on submission.
        if (DsnOffered)
            lines.Add("DSN");
        if (FutureReleaseOffered)
            lines.Add(FutureReleaseKeyword());
        // RFC 9422 §4: LIMITS with the values we enforce.
        lines.Add($"LIMITS RCPTMAX={Limits.MaxRecipients} MAILMAX={Limits.MaxMessagesPerConnection}");
        return lines;
    }

    private async Task MailAsync(string argument)
    {
        if (_helo is null)
            throw new SmtpCommandException(503, "5.5.1", "Send EHLO or HELO first");
        if (_mail is not null || _bdat is not null)
            throw new SmtpCommandException(503, "5.5.1", "Nested MAIL command");
        if (IsSubmission && _authAccount is null)
            // RFC 4954 §6 / RFC 6409 §4.3: submission needs authentication.
            throw new SmtpCommandException(530, "5.7.0", "Authentication required");
        if (_messages >= Limits.MaxMessagesPerConnection)
        {
            // RFC 9422 §4.2: MAILMAX reached.
            _w.Reply(421, "4.5.3", "Too many messages on this connection; reconnect");
            _quit = true;
            return;
        }
        MailCommand mail = SmtpCommandParser.ParseMail(argument, new MailParameterSupport(RequireTls: IsSecure, FutureRelease: FutureReleaseOffered, Dsn: DsnOffered));
        if (!_esmtp && (mail.Size is not null || mail.Body != BodyType.SevenBit || mail.SmtpUtf8 || mail.RequireTls || mail.AuthParameter is not null
            || mail.Return is not null || mail.EnvelopeId is not null || mail.HoldFor is not null || mail.HoldUntil is not null))
            throw new SmtpCommandException(555, "5.5.4", "Parameters need EHLO");
        if (mail.Size > Limits.MaxMessageSize)
            // RFC 1870 §6.2
            throw new SmtpCommandException(552, "5.3.4", $"Message size exceeds fixed maximum message size ({Limits.MaxMessageSize})");
        if (mail.From is not null && IsSubmission && !await _server.Resolver.MaySendAsAsync(_authAccount!, mail.From, default).ConfigureAwait(false))
            throw new SmtpCommandException(550, "5.7.1", $"Sender address {mail.From} does not belong to you");
        DateTimeOffset? holdUntil = CheckHold(mail);
        if (!_server.RateLimiter.TryStartMessage(_remote))
        {
            _w.Reply(451, "4.7.1", "Too many messages from your address; try again later");
            return;
        }
        _mail = mail;
        _recipients.Clear();
        ResetQueueState();
        _holdUntil = holdUntil;
        _bdatFailed = false;
        _w.Reply(250, "2.1.0", "Sender OK");
    }

    private async Task RcptAsync(string argument)
    {
        if (_mail is null)
            throw new SmtpCommandException(503, "5.5.1", "Need MAIL before RCPT");
        if (_bdat is not null)
            throw new SmtpCommandException(503, "5.5.1", "RCPT not allowed during BDAT");
        RcptCommand rcpt = SmtpCommandParser.ParseRcpt(argument, _mail.SmtpUtf8, DsnOffered);
        if (!_esmtp && (rcpt.Notify is not null || rcpt.OriginalRecipient is not null))
            throw new SmtpCommandException(555, "5.5.4", "Parameters need EHLO");
        if (_recipients.Count + _queued.Count >= Limits.MaxRecipients)
        {
            // RFC 5321 §4.5.3.1.10: 452 for too many recipients; RFC 9422 RCPTMAX.
            _w.Reply(452, "4.5.3", "Too many recipients");
            return;
        }
        SmtpAddress to = rcpt.To;
        if (to.Domain.Length == 0)
            // <Postmaster> (RFC 5321 §4.1.1.3) is the postmaster of this host.
            to = to with { Domain = Options.HostName };
        // "%" and "!" hacks (user%remote@local, remote!user@local) ask a server to relay; an
        // address with "@" inside its quoted local part is the same trick. None is accepted.
        if (to.LocalPart.AsSpan().IndexOfAny("%!@") >= 0)
            throw new SmtpCommandException(550, "5.7.1", "Relaying through local-part routing (% ! @) is not allowed");
        RecipientResolution res = await _server.Resolver.ResolveAsync(to, default).ConfigureAwait(false);
        switch (res.Status)
        {
            case RecipientStatus.Refused:
                if (res.Delay > TimeSpan.Zero)
                    await Task.Delay(res.Delay, _server.Stopping).ConfigureAwait(false);
                _w.Reply(res.Code, res.Enhanced, res.Text);
                if (res.CloseConnection)
                    _quit = true;
                return;
            case RecipientStatus.Remote when IsSubmission && Options.OutgoingQueue is not null:
                await QueueRemoteRecipientAsync(to, rcpt).ConfigureAwait(false);
                return;
            case RecipientStatus.Remote when IsSubmission:
                // No outgoing queue yet: refused clearly, never accepted silently.
                throw new SmtpCommandException(550, "5.7.0", $"Delivery to remote domains is not available yet: {to.Domain}");
            case RecipientStatus.Remote:
                throw new SmtpCommandException(550, "5.7.1", "Relaying denied");
            case RecipientStatus.UnknownAddress:
                if (++_unknownRecipients > Options.RateLimits.FreeUnknownRecipients && Options.RateLimits.UnknownRecipientDelay > TimeSpan.Zero)
                    await Task.Delay(Options.RateLimits.UnknownRecipientDelay, _server.Stopping).ConfigureAwait(false);
                _server.Logger.LogInformation("smtp unknown recipient id={Id} remote={Remote} rcpt={Rcpt}", _id, _remote, to);
                throw new SmtpCommandException(550, "5.1.1", "No such user here");
        }
        // Quota: refuse now (temporary, RFC 5321 §4.2.2 452; RFC 3463 X.2.2 mailbox full) when the
        // declared size (or nothing) no longer fits.
        foreach (RecipientTarget t in res.Targets)
        {
            if (!await _server.Delivery.HasRoomAsync(t.Account, _mail.Size ?? 1, default).ConfigureAwait(false))
            {
                _w.Reply(452, "4.2.2", "Mailbox full");
                return;
            }
        }
        if (HandleLocalRecipient(to, rcpt))
            return;
        _recipients.Add((to, res.Targets));
        _w.Reply(250, "2.1.5", "Recipient OK");
    }

    private async Task RsetAsync(string argument)
    {
        if (argument.Length > 0)
            throw new SmtpCommandException(501, "5.5.4", "RSET takes no argument");
        await ResetTransactionAsync().ConfigureAwait(false);
        await OtherCommandAsync(250, "2.0.0", "Reset OK").ConfigureAwait(false);
    }

    /// <summary>Forgets the current transaction (MAIL, RCPTs, BDAT data so far).</summary>
    private async Task ResetTransactionAsync()
    {
        _mail = null;
        _recipients.Clear();
        ResetQueueState();
        _bdatFailed = false;
        if (_bdat is not null)
        {
            await _bdat.DisposeAsync().ConfigureAwait(false);
            _bdat = null;
            _bdatChecker = null;
        }
    }
}
