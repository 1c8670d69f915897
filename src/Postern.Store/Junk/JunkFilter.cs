// The junk filter of an account: classifying incoming mail, and training from what the user says.
//
// The user says it with the IMAP keywords $Junk and $NotJunk (RFC 5788's registry; Thunderbird,
// Apple Mail and others set them, and Postern's IMAP server sets them when a message is moved
// into or out of the Junk mailbox). Training follows the keywords, it does not record events:
// JunkWordStore remembers how each message content was trained, and TrainAsync compares that
// with the keywords of the contents changed since the MODSEQ it last looked at. Training is
// therefore idempotent and can always be rebuilt from the mailboxes (RetrainAsync), and a copy
// in a second mailbox is not trained twice. Mail the filter itself put in Junk carries no
// keyword and trains nothing: only the user's decisions teach it.
using Microsoft.Extensions.Logging;

namespace Postern.Store.Junk;

/// <summary>Classifies messages for an account and trains the account's filter from its messages' keywords.</summary>
public sealed class JunkFilter(JunkFilterOptions options)
{
    /// <summary>Messages trained per transaction when catching up.</summary>
    public const int TrainingBatch = 200;

    /// <summary>The settings.</summary>
    public JunkFilterOptions Options { get; } = options;

    /// <summary>An address as contacts are kept and compared: local part and A-label domain, lower-cased.</summary>
    public static string ContactKey(Postern.Mail.MailAddress address) => (address.LocalPart + "@" + address.DomainAscii).ToLowerInvariant();

    /// <summary>
    /// Scores a message (its bytes as received, without the headers Postern adds; only the first
    /// <see cref="JunkTokenizerLimits.MaxBytes"/> are read) against the account's threshold (its own, or
    /// <see cref="JunkFilterOptions.Threshold"/>). The probability is null while the account has not trained enough of
    /// both kinds. Whether the account wants its mail classified at all (<see cref="JunkTotals.Enabled"/>) is the
    /// caller's to check.
    /// </summary>
    public async Task<JunkScore> ClassifyAsync(IAccountStore account, ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default) =>
        await ClassifyAsync(account, await account.JunkWords.GetTotalsAsync(cancellationToken).ConfigureAwait(false), message, cancellationToken).ConfigureAwait(false);

    /// <summary>As <see cref="ClassifyAsync(IAccountStore, ReadOnlyMemory{byte}, CancellationToken)"/>, with the account's totals already read (delivery reads them first).</summary>
    public async Task<JunkScore> ClassifyAsync(IAccountStore account, JunkTotals totals, ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        if (!JunkClassifier.HasEnoughTraining(totals.JunkMessages, totals.HamMessages, Options)) return new JunkScore(null, false, []);
        var tokens = JunkTokenizer.Tokenize(message.Span, Options.Tokenizer);
        var counts = await account.JunkWords.GetCountsAsync(tokens, cancellationToken).ConfigureAwait(false);
        var options = totals.Threshold is { } threshold ? Options with { Threshold = threshold } : Options;
        return JunkClassifier.Classify(counts, totals.JunkMessages, totals.HamMessages, options);
    }

    /// <summary>Reads the first bytes of a message (without the delivery prefix) as the tokenizer sees them.</summary>
    public async Task<byte[]> ReadMessageStartAsync(Stream content, CancellationToken cancellationToken = default)
    {
        var buffer = new byte[(int)Math.Min(Options.Tokenizer.MaxBytes, Math.Max(0, content.CanSeek ? content.Length - content.Position : Options.Tokenizer.MaxBytes))];
        int read = await content.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        return read == buffer.Length ? buffer : buffer[..read];
    }

    /// <summary>
    /// Brings the account's training up to date with the $Junk/$NotJunk keywords of messages changed since it last
    /// looked. Returns how many message contents were trained or untrained.
    /// </summary>
    public async Task<int> TrainAsync(IAccountStore account, CancellationToken cancellationToken = default)
    {
        var totals = await account.JunkWords.GetTotalsAsync(cancellationToken).ConfigureAwait(false);
        if (totals.ModSeq == await account.GetHighestModSeqAsync(cancellationToken).ConfigureAwait(false)) return 0; // nothing changed
        var trained = await account.JunkWords.GetTrainedAsync(cancellationToken).ConfigureAwait(false);
        var changes = await account.GetJunkFlagChangesAsync(totals.ModSeq, trained.Keys, cancellationToken).ConfigureAwait(false);
        var steps = new List<JunkTrainingStep>();
        var rescued = new List<string>();
        int done = 0;
        foreach (var c in changes.Contents)
        {
            var from = trained.GetValueOrDefault(c.ContentId, JunkClass.None);
            if (from == c.Class) continue;
            var read = await ReadTokensAsync(account, c.MailboxId, c.Uid, cancellationToken).ConfigureAwait(false);
            if (read is not var (tokens, sender)) continue; // expunged meanwhile: stays as trained
            steps.Add(new JunkTrainingStep(c.ContentId, from, c.Class, tokens));
            // The sender of mail the user says is not junk is trusted as if the user had written to them (still only
            // when DMARC passes for a later message: see MessageDelivery.ApplyJunkFilterAsync).
            if (c.Class == JunkClass.Ham && sender is not null) rescued.Add(sender);
            done++;
            if (steps.Count >= TrainingBatch)
            {
                await account.JunkWords.ApplyAsync(steps, null, cancellationToken).ConfigureAwait(false);
                steps.Clear();
            }
        }
        await account.JunkWords.AddContactsAsync(rescued, DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
        await account.JunkWords.ApplyAsync(steps, changes.ModSeq, cancellationToken).ConfigureAwait(false);
        return done;
    }

    /// <summary>Forgets the account's training and trains again from the keywords of all its messages.</summary>
    public async Task<int> RetrainAsync(IAccountStore account, CancellationToken cancellationToken = default)
    {
        await account.JunkWords.ResetAsync(cancellationToken).ConfigureAwait(false);
        return await TrainAsync(account, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Trains a message from outside the store (counted, not remembered: it cannot be untrained).</summary>
    public Task TrainExternalAsync(IAccountStore account, ReadOnlySpan<byte> message, JunkClass junkClass, CancellationToken cancellationToken = default)
    {
        var tokens = JunkTokenizer.Tokenize(message, Options.Tokenizer);
        return account.JunkWords.ApplyAsync([new JunkTrainingStep(0, JunkClass.None, junkClass, tokens)], null, cancellationToken);
    }

    private async Task<(HashSet<string> Tokens, string? Sender)?> ReadTokensAsync(IAccountStore account, long mailboxId, uint uid, CancellationToken cancellationToken)
    {
        try
        {
            var details = await account.GetMessageDetailsAsync(mailboxId, uid, cancellationToken).ConfigureAwait(false);
            if (details is null) return null;
            await using var content = await account.OpenContentAsync(mailboxId, uid, cancellationToken).ConfigureAwait(false);
            content.Seek(details.PrefixLength, SeekOrigin.Begin);
            byte[] bytes = await ReadMessageStartAsync(content, cancellationToken).ConfigureAwait(false);
            var from = Postern.Mail.MessageStructure.Parse(bytes).Root.ParseHeaders(bytes).GetAll("From").ToList();
            var senders = from.Count == 1 ? Postern.Mail.AddressParser.ParseMailboxes(from[0].Value) : [];
            string? sender = senders.Count == 1 && senders[0].Domain.Length > 0 ? ContactKey(senders[0]) : null;
            return (JunkTokenizer.Tokenize(bytes, Options.Tokenizer), sender);
        }
        catch (MessageNotFoundException)
        {
            return null;
        }
    }
}

/// <summary>
/// Keeps every account's junk training up to date while the server runs: when an account's keywords change (IMAP
/// STORE, MOVE, APPEND with flags), its filter is trained a moment later, once per burst of changes.
/// </summary>
public sealed class JunkTrainer : IAsyncDisposable
{
    private readonly IMailStore _store;
    private readonly JunkFilter _filter;
    private readonly ILogger _logger;
    private readonly TimeSpan _delay;
    private readonly Lock _lock = new();
    private readonly HashSet<string> _pending = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private int _running;

    /// <summary>Follows <paramref name="store"/>'s changes; <paramref name="delay"/> gathers a burst of changes into one training.</summary>
    public JunkTrainer(IMailStore store, JunkFilter filter, ILogger logger, TimeSpan? delay = null)
    {
        _store = store;
        _filter = filter;
        _logger = logger;
        _delay = delay ?? TimeSpan.FromSeconds(1);
    }

    /// <summary>Starts following changes, and first trains every account in <paramref name="accounts"/> (changes made while the server was stopped).</summary>
    public void Start(IEnumerable<string> accounts)
    {
        _store.AccountChanged += OnAccountChanged;
        foreach (string a in accounts) Schedule(a);
        _loop = Task.Run(() => LoopAsync(_stop.Token));
    }

    private void OnAccountChanged(string account, IReadOnlyList<StoreChange> changes)
    {
        foreach (var c in changes)
        {
            // A flag change may have removed a junk keyword, so every one counts; a new message only with one.
            if (c is FlagsChanged || (c is MessageAdded a && a.Keywords.Any(IsJunkKeyword)))
            {
                Schedule(account);
                return;
            }
        }
    }

    private static bool IsJunkKeyword(string k) =>
        k.TrimStart('$').ToLowerInvariant() is "junk" or "notjunk" or "nonjunk";

    private void Schedule(string account)
    {
        lock (_lock)
        {
            if (!_pending.Add(account)) return;
        }
        _wake.Release();
    }

    private async Task LoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(stop).ConfigureAwait(false);
                await Task.Delay(_delay, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            string[] accounts;
            lock (_lock)
            {
                _running = 1;
                accounts = [.. _pending];
                _pending.Clear();
            }
            foreach (string name in accounts)
            {
                try
                {
                    await using var account = await _store.OpenAccountAsync(name, stop).ConfigureAwait(false);
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    int trained = await _filter.TrainAsync(account, stop).ConfigureAwait(false);
                    if (trained > 0)
                    {
                        var totals = await account.JunkWords.GetTotalsAsync(stop).ConfigureAwait(false);
                        _logger.LogInformation("junk trained account={Account} messages={Messages} junk={Junk} ham={Ham} words={Words} ms={Ms}",
                            name, trained, totals.JunkMessages, totals.HamMessages, totals.Words, (int)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (AccountNotFoundException)
                {
                    // removed meanwhile
                }
                catch (Exception e) when (e is StoreException or IOException or Microsoft.Data.Sqlite.SqliteException)
                {
                    _logger.LogWarning("junk training failed account={Account} error={Error}", name, e.Message);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Never let one account's surprise end the trainer for all.
                    _logger.LogError(e, "junk training failed account={Account}", name);
                }
            }
            Interlocked.Exchange(ref _running, 0);
        }
    }

    /// <summary>Waits until nothing is pending (for tests and `postern stop`).</summary>
    public async Task WhenIdleAsync(TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            lock (_lock)
            {
                if (_pending.Count == 0 && Volatile.Read(ref _running) == 0) return;
            }
            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        _store.AccountChanged -= OnAccountChanged;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        _stop.Dispose();
        _wake.Dispose();
    }
}
