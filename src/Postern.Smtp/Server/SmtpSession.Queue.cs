// The outgoing queue as seen from a session (RFC 3461 DSN parameters, RFC 4865 FUTURERELEASE):
//   - On submission with an OutgoingQueue, a remote recipient is checked with the queue at RCPT
//     (its refusal is the reply) and remembered with its NOTIFY/ORCPT. After the message is
//     complete and the local copies are stored, the message (with our Received header and any
//     added Message-ID/Date) goes to IOutgoingQueue.EnqueueAsync; only then is 250 sent, with
//     the queue id. EnqueueAsync failing gives 451 4.3.0. The MX listener never queues (no relay).
//   - With HOLDFOR/HOLDUNTIL every recipient, local ones too, is queued: the hold applies to the
//     whole message (RFC 4865 §1), so nothing is delivered before the release time.
//   - When the queue fails after the local copies were stored, the transaction is remembered
//     (by a hash of account, envelope and content) for an hour, so that the client's retry of
//     the same message does not store the local copies a second time.
//   - NOTIFY=SUCCESS on a recipient delivered locally: a "delivered" DSN (RFC 3461 §6.2) is
//     built and queued from the null sender to the envelope sender; never when that is the null
//     path. A failure to queue it is logged: the message itself was delivered and acknowledged.
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Postern.Mail;
using Postern.Mail.Dsn;
using Postern.Smtp.Client;
using Postern.Smtp.Delivery;
using Postern.Smtp.Protocol;

namespace Postern.Smtp.Server;

internal sealed partial class SmtpSession
{
    // Recipients of the current transaction that go to the outgoing queue.
    private readonly List<OutboundRecipient> _queued = [];
    // Local recipients that asked for a success DSN (NOTIFY=SUCCESS).
    private readonly List<RcptCommand> _notifySuccess = [];
    // FUTURERELEASE: the release time of the current transaction, or null.
    private DateTimeOffset? _holdUntil;

    private bool DsnOffered => Options.OutgoingQueue is not null;

    private bool FutureReleaseOffered => IsSubmission && Options.OutgoingQueue is not null;

    private bool HasRecipients => _recipients.Count > 0 || _queued.Count > 0;

    private void ResetQueueState()
    {
        _queued.Clear();
        _notifySuccess.Clear();
        _holdUntil = null;
    }

    /// <summary>The FUTURERELEASE EHLO keyword (RFC 4865 §3): max interval in seconds and max date-time.</summary>
    private string FutureReleaseKeyword()
    {
        long seconds = (long)Options.MaxFutureRelease.TotalSeconds;
        DateTimeOffset max = DateTimeOffset.UtcNow.AddSeconds(seconds);
        return "FUTURERELEASE " + seconds.ToString(CultureInfo.InvariantCulture) + " " + max.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    }

    /// <summary>Checks HOLDFOR/HOLDUNTIL against the allowed range; returns the release time, or null when none was asked.</summary>
    private DateTimeOffset? CheckHold(MailCommand mail)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        long max = (long)Options.MaxFutureRelease.TotalSeconds;
        if (mail.HoldFor is long seconds)
        {
            // RFC 4865 §3: no more than the advertised max-future-release-interval; a value out of
            // range is refused with 554 5.5.4 (RFC 4865 §4), syntax errors with 501 5.5.4 (the parser).
            if (seconds > max)
                throw new SmtpCommandException(554, "5.5.4", $"HOLDFOR exceeds the maximum of {max} seconds");
            return now.AddSeconds(seconds);
        }
        if (mail.HoldUntil is DateTimeOffset until)
        {
            // A time in the past is most likely a mistake: refused rather than sent at once.
            if (until <= now)
                throw new SmtpCommandException(554, "5.5.4", "HOLDUNTIL is in the past");
            // RFC 4865 §4: later than max-future-release-date-time is out of range, 554 5.5.4.
            if (until > now.AddSeconds(max))
                throw new SmtpCommandException(554, "5.5.4", "HOLDUNTIL is later than the advertised maximum");
            return until.ToUniversalTime();
        }
        return null;
    }

    /// <summary>A remote recipient on submission: asks the queue, then remembers it (or replies with the queue's refusal).</summary>
    private async Task QueueRemoteRecipientAsync(SmtpAddress to, RcptCommand rcpt)
    {
        IOutgoingQueue queue = Options.OutgoingQueue!;
        var recipient = new OutboundRecipient(to.ToString(), rcpt.Notify, rcpt.OriginalRecipientParameter);
        QueueRecipientCheck check = await queue.CheckRecipientAsync(_authAccount!, _mail!.From?.ToString() ?? "", recipient, _server.Stopping).ConfigureAwait(false);
        if (!check.Accepted)
        {
            _server.Logger.LogInformation("smtp queue refused recipient id={Id} account={Account} rcpt={Rcpt} code={Code}", _id, _authAccount, to, check.Code);
            _w.Reply(check.Code, check.Enhanced, check.Text);
            return;
        }
        _queued.Add(recipient);
        _w.Reply(250, "2.1.5", "Recipient OK, queued for delivery");
    }

    /// <summary>A local recipient: queued with the message when it is held, else remembered for a success DSN.</summary>
    private bool HandleLocalRecipient(SmtpAddress to, RcptCommand rcpt)
    {
        if (_holdUntil is not null)
        {
            _queued.Add(new OutboundRecipient(to.ToString(), rcpt.Notify, rcpt.OriginalRecipientParameter));
            _w.Reply(250, "2.1.5", "Recipient OK, held until " + _holdUntil.Value.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            return true;
        }
        if (rcpt.NotifyOn("SUCCESS"))
            _notifySuccess.Add(rcpt with { To = to });
        return false;
    }

    /// <summary>
    /// True when the local copies of this transaction were already stored by an earlier attempt
    /// whose enqueue failed (the client retries the same message): they are not stored again.
    /// </summary>
    private async Task<string?> PartialDeliveryKeyAsync(SpooledMessage message, string envelopeFrom, int localTargets)
    {
        if (_queued.Count == 0 || localTargets == 0)
            return null;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes((_authAccount ?? "") + "\n" + envelopeFrom + "\n"
            + string.Join(",", _recipients.Select(r => r.Address.ToString()).Concat(_queued.Select(q => q.Address))) + "\n"));
        using (Stream s = message.OpenRead())
        {
            byte[] buf = new byte[64 * 1024];
            int n;
            while ((n = await s.ReadAsync(buf).ConfigureAwait(false)) > 0)
                hash.AppendData(buf, 0, n);
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>Hands the message to the outgoing queue; returns the queue id, or null after replying 451.</summary>
    private async Task<string?> EnqueueSubmittedAsync(SpooledMessage message, MailCommand mail, string envelopeFrom, string prefix, string? partialKey)
    {
        IOutgoingQueue queue = Options.OutgoingQueue!;
        byte[] prefixBytes = Encoding.UTF8.GetBytes(prefix);
        bool eightBit = mail.Body != BodyType.SevenBit || !Ascii.IsValid(prefixBytes) || await HasEightBitAsync(message).ConfigureAwait(false);
        bool utf8 = mail.SmtpUtf8 || !Ascii.IsValid(envelopeFrom) || _queued.Any(q => !Ascii.IsValid(q.Address));
        var outgoing = new OutgoingMessage(
            _authAccount, envelopeFrom, _queued.ToList(),
            () => new PrefixedStream(prefixBytes, message.OpenRead()),
            prefixBytes.Length + message.Length,
            eightBit, utf8, mail.RequireTls, mail.EnvelopeId,
            mail.Return switch { DsnReturn.Full => "FULL", DsnReturn.Headers => "HDRS", _ => null },
            _holdUntil, _id);
        try
        {
            string id = await queue.EnqueueAsync(outgoing, _server.Stopping).ConfigureAwait(false);
            if (partialKey is not null)
                _server.PartialDeliveries.Forget(partialKey);
            _server.Logger.LogInformation("smtp queued id={Id} queueid={QueueId} from={From} rcpts={Rcpts} size={Size} hold={Hold}",
                _id, id, envelopeFrom, _queued.Count, outgoing.Size, _holdUntil);
            return id;
        }
#pragma warning disable CA1031 // Whatever the queue's failure, the client gets a temporary error and may retry.
        catch (Exception e) when (e is not OperationCanceledException || !_server.Stopping.IsCancellationRequested)
#pragma warning restore CA1031
        {
            if (partialKey is not null)
                _server.PartialDeliveries.Remember(partialKey);
            _server.Logger.LogWarning("smtp enqueue failed id={Id} error={Error}", _id, e.Message);
            _w.Reply(451, "4.3.0", "Temporary failure queueing the message; try again later");
            return null;
        }
    }

    private static async Task<bool> HasEightBitAsync(SpooledMessage message)
    {
        if (message.File is null)
            return !Ascii.IsValid(message.Memory.Span);
        using Stream s = message.OpenRead();
        byte[] buf = new byte[64 * 1024];
        int n;
        while ((n = await s.ReadAsync(buf).ConfigureAwait(false)) > 0)
        {
            if (!Ascii.IsValid(buf.AsSpan(0, n)))
                return true;
        }
        return false;
    }

    /// <summary>RFC 3461 §6.2: a "delivered" DSN for the local recipients that asked for one, queued to the envelope sender.</summary>
    private async Task QueueSuccessDsnAsync(SpooledMessage message, MailCommand mail, string envelopeFrom)
    {
        // Never to the null sender (RFC 3461 §6.1), and only through a queue.
        if (_notifySuccess.Count == 0 || envelopeFrom.Length == 0 || Options.OutgoingQueue is not { } queue)
            return;
        try
        {
            int headerLength = (int)Math.Min(message.Structure.Root.BodyStart, 256 * 1024);
            byte[] header = new byte[headerLength];
            using (Stream s = message.OpenRead())
                await s.ReadAtLeastAsync(header, headerLength, throwOnEndOfStream: false).ConfigureAwait(false);
            DateTimeOffset now = DateTimeOffset.UtcNow;
            var report = new DsnReport
            {
                ReportingMta = Options.HostName,
                To = envelopeFrom,
                EnvelopeId = mail.EnvelopeIdDecoded,
                ArrivalDate = now,
                Date = now,
                Utf8 = mail.SmtpUtf8,
                // A delivered DSN returns the header only (see docs/dsn.md); REQUIRETLS mail even more so.
                Return = DsnReturn.Headers,
                OriginalMessage = header,
                Recipients = _notifySuccess.Select(r => new DsnRecipient(DsnAddress.ForMailbox(r.To.ToString()), DsnAction.Delivered, "2.0.0")
                {
                    OriginalRecipient = r.OriginalRecipient,
                    LastAttemptDate = now,
                }).ToList(),
            };
            byte[] dsn = DsnBuilder.Build(report);
            var outgoing = new OutgoingMessage(null, "", [new OutboundRecipient(envelopeFrom)], () => new MemoryStream(dsn, false), dsn.Length,
                !Ascii.IsValid(dsn), mail.SmtpUtf8 || !Ascii.IsValid(envelopeFrom), mail.RequireTls, null, null, null, _id);
            string id = await queue.EnqueueAsync(outgoing, _server.Stopping).ConfigureAwait(false);
            _server.Logger.LogInformation("smtp success dsn queued id={Id} queueid={QueueId} to={To} rcpts={Rcpts}", _id, id, envelopeFrom, _notifySuccess.Count);
        }
#pragma warning disable CA1031 // The message is delivered; a DSN that cannot be queued is logged, not turned into an error.
        catch (Exception e) when (e is not OperationCanceledException || !_server.Stopping.IsCancellationRequested)
#pragma warning restore CA1031
        {
            _server.Logger.LogWarning("smtp success dsn not queued id={Id} to={To} error={Error}", _id, envelopeFrom, e.Message);
        }
    }

    /// <summary>The delivery headers followed by the received message, read once from the start.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream rest) : Stream
    {
        private int _prefixPos;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_prefixPos < prefix.Length)
                return CopyPrefix(buffer);
            return rest.Read(buffer);
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_prefixPos < prefix.Length)
                return ValueTask.FromResult(CopyPrefix(buffer.Span));
            return rest.ReadAsync(buffer, cancellationToken);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int CopyPrefix(Span<byte> buffer)
        {
            int n = Math.Min(buffer.Length, prefix.Length - _prefixPos);
            prefix.AsSpan(_prefixPos, n).CopyTo(buffer);
            _prefixPos += n;
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                rest.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// Transactions whose local copies were stored but whose enqueue failed, so that the client's
/// retry does not store them again. Bounded (oldest dropped) and kept for an hour.
/// </summary>
internal sealed class PartialDeliveryMemory
{
    private const int MaxEntries = 10_000;
    private static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _entries = new(StringComparer.Ordinal);

    public void Remember(string key)
    {
        if (_entries.Count >= MaxEntries)
        {
            foreach (var old in _entries.OrderBy(e => e.Value).Take(MaxEntries / 10).ToList())
                _entries.TryRemove(old.Key, out _);
        }
        _entries[key] = DateTimeOffset.UtcNow;
    }

    public bool Contains(string key) =>
        _entries.TryGetValue(key, out DateTimeOffset at) && DateTimeOffset.UtcNow - at < Lifetime;

    public void Forget(string key) => _entries.TryRemove(key, out _);
}
