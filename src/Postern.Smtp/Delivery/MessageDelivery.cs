// Storing an accepted message: one copy per (account, mailbox), with the delivery headers
// (Return-Path, Delivered-To, checker headers, Received) kept as the message's prefix so the
// received bytes are never rewritten. The account's delivery rules may pick another mailbox.
// Each append is durable when it returns (the store fsyncs and commits), so the 250 that
// follows never acknowledges anything that could be lost.
using System.Text;
using System.Text.RegularExpressions;
using Postern.Mail;
using Postern.Store;
using Postern.Store.Junk;

namespace Postern.Smtp.Delivery;

/// <summary>A message to deliver: the parsed structure and a way to read its bytes.</summary>
/// <param name="Structure">The parsed MIME structure.</param>
/// <param name="Headers">The top-level header fields.</param>
/// <param name="Memory">The message bytes when held in memory (empty when <paramref name="OpenFile"/> is set).</param>
/// <param name="OpenFile">Opens the message bytes from the start, or null when they are in <paramref name="Memory"/>.</param>
/// <param name="Length">The message size in octets.</param>
public sealed record DeliveryContent(MessageStructure Structure, HeaderList Headers, ReadOnlyMemory<byte> Memory, Func<Stream>? OpenFile, long Length)
{
    /// <summary>
    /// A temporary file of this account that already holds the message bytes: the last copy delivered into
    /// that account takes it (the store renames it into place) instead of copying the bytes once more.
    /// The caller still disposes it (which deletes it if it was not taken).
    /// </summary>
    public (string Account, TempMessageFile File)? AccountFile { get; init; }
}

/// <summary>Delivers messages into account stores (the SMTP server, and the outgoing queue's local delivery).</summary>
public sealed class MessageDelivery(IMailStore store)
{
    /// <summary>Target mailbox meaning "the account's \\Junk mailbox" (RFC 6154), whatever its name; rules do not apply.</summary>
    public const string JunkMailbox = "\\Junk";

    /// <summary>The junk filter for incoming mail, or null when it is turned off.</summary>
    public JunkFilter? JunkFilter { get; init; }

    /// <summary>Longest a rule's regular expression may run on one value.</summary>
    public static readonly TimeSpan RuleMatchTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>Delivers one copy per distinct account and mailbox; <paramref name="prefixFor"/> builds the delivery headers of a target.</summary>
    public async Task DeliverAsync(DeliveryContent content, IReadOnlyList<RecipientTarget> targets, string envelopeFrom,
        Func<RecipientTarget, string> prefixFor, CancellationToken ct)
    {
        byte[] structure = content.Structure.ToBytes();
        MessageMeta meta = MessageMeta.FromStructure(content.Structure);
        var done = new HashSet<(string, long)>();
        int handOver = -1;
        if (content.AccountFile is { } file)
        {
            // The account whose temporary file holds the message goes last, and its last copy takes the file.
            targets = [.. targets.Where(t => t.Account != file.Account), .. targets.Where(t => t.Account == file.Account)];
            if (targets.Count > 0 && targets[^1].Account == file.Account)
                handOver = targets.Count - 1;
        }
        for (int i = 0; i < targets.Count; i++)
        {
            RecipientTarget target = targets[i];
            IAccountStore account = await store.OpenAccountAsync(target.Account, ct).ConfigureAwait(false);
            await using (account.ConfigureAwait(false))
            {
                // Both lookups are answered from the account's cached mailbox list (no query per message).
                long? mailboxId = target.Mailbox == JunkMailbox
                    ? await account.FindSpecialUseMailboxAsync(SpecialUse.Junk, ct).ConfigureAwait(false)
                    : await account.FindSelectableMailboxAsync(await ChooseMailboxAsync(target, content.Headers, envelopeFrom, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
                mailboxId ??= await account.FindSelectableMailboxAsync("INBOX", ct).ConfigureAwait(false) ?? throw new MailboxNotFoundException("INBOX");
                if (!done.Add((target.Account, mailboxId.Value)))
                    continue;
                byte[] prefix = Encoding.UTF8.GetBytes(prefixFor(target));
                TempMessageFile? temp = null;
                try
                {
                    MessageSource source;
                    if (content.OpenFile is null)
                        source = MessageSource.FromMemory(content.Memory);
                    else if (i == handOver)
                        source = MessageSource.FromTempFile(content.AccountFile!.Value.File);
                    else
                    {
                        temp = account.CreateTempFile();
                        using (Stream input = content.OpenFile())
                            await input.CopyToAsync(temp.Stream, 64 * 1024, ct).ConfigureAwait(false);
                        source = MessageSource.FromTempFile(temp);
                    }
                    await account.AppendAsync(mailboxId.Value, [new NewMessage(source, structure, meta) { Prefix = prefix }], ct).ConfigureAwait(false);
                }
                finally
                {
                    if (temp is not null)
                        await temp.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>
    /// Runs each target account's junk filter on the message: the targets of an account that scores it junk go to its
    /// Junk mailbox instead (before delivery rules). Accounts that have not trained enough, or turned their filter off,
    /// are left alone.
    /// Mail whose DMARC-verified From (<paramref name="verifiedFrom"/>) is an address the account has sent mail to is not
    /// judged: <paramref name="classified"/> is told a null score for it, and every score otherwise; <paramref name="failed"/> every account whose filter could not
    /// be asked (its mail is then delivered as if it had no filter: a broken junk.db must not hold mail back).
    /// </summary>
    public async Task<IReadOnlyList<RecipientTarget>> ApplyJunkFilterAsync(DeliveryContent content, IReadOnlyList<RecipientTarget> targets,
        string? verifiedFrom, Action<string, JunkScore?> classified, Action<string, Exception> failed, CancellationToken ct)
    {
        if (JunkFilter is not { } filter || targets.Count == 0) return targets;
        ReadOnlyMemory<byte> start = default;
        bool read = false;
        var junkAccounts = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in targets.Where(t => t.Mailbox != JunkMailbox).Select(t => t.Account).Distinct(StringComparer.Ordinal))
        {
            IAccountStore account = await store.OpenAccountAsync(name, ct).ConfigureAwait(false);
            await using (account.ConfigureAwait(false))
            try
            {
                var totals = await account.JunkWords.GetTotalsAsync(ct).ConfigureAwait(false);
                if (!totals.Enabled || !JunkClassifier.HasEnoughTraining(totals.JunkMessages, totals.HamMessages, filter.Options)) continue;
                if (verifiedFrom is not null && await account.JunkWords.IsContactAsync(verifiedFrom, ct).ConfigureAwait(false))
                {
                    classified(name, null);
                    SmtpMetrics.Junk.Add(1, new KeyValuePair<string, object?>("result", "contact"));
                    continue;
                }
                if (!read)
                {
                    if (content.OpenFile is null) start = content.Memory[..(int)Math.Min(content.Memory.Length, filter.Options.Tokenizer.MaxBytes)];
                    else
                    {
                        using Stream input = content.OpenFile();
                        start = await filter.ReadMessageStartAsync(input, ct).ConfigureAwait(false);
                    }
                    read = true;
                }
                JunkScore score = await filter.ClassifyAsync(account, totals, start, ct).ConfigureAwait(false);
                classified(name, score);
                SmtpMetrics.Junk.Add(1, new KeyValuePair<string, object?>("result", score.IsJunk ? "junk" : "notjunk"));
                if (score.IsJunk) junkAccounts.Add(name);
            }
            catch (Exception e) when (e is StoreException or IOException or System.Data.Common.DbException)
            {
                failed(name, e);
            }
        }
        return junkAccounts.Count == 0 ? targets : targets.Select(t => junkAccounts.Contains(t.Account) ? t with { Mailbox = JunkMailbox } : t).ToList();
    }

    /// <summary>
    /// Remembers that <paramref name="account"/> sent mail to <paramref name="recipients"/>, so that their replies (with a
    /// DMARC-verified From) are never judged junk. Failures are the caller's to log: the message is sent anyway.
    /// </summary>
    public async Task RecordContactsAsync(string account, IReadOnlyCollection<string> recipients, CancellationToken ct)
    {
        if (JunkFilter is null || recipients.Count == 0) return;
        IAccountStore a = await store.OpenAccountAsync(account, ct).ConfigureAwait(false);
        await using (a.ConfigureAwait(false))
            await a.JunkWords.AddContactsAsync(recipients.Select(ContactKey).ToList(), DateTimeOffset.UtcNow, ct).ConfigureAwait(false);
    }

    /// <summary>An address as contacts are kept: local part and A-label domain, lower-cased (as <see cref="IncomingVerdict.VerifiedFrom"/>).</summary>
    public static string ContactKey(string address) =>
        MailAddress.TryParse(address) is { Domain.Length: > 0 } a ? JunkFilter.ContactKey(a) : address.ToLowerInvariant();

    /// <summary>Whether every target account has room for <paramref name="size"/> more bytes.</summary>
    public async Task<bool> HasRoomAsync(string accountName, long size, CancellationToken ct)
    {
        IAccountStore account = await store.OpenAccountAsync(accountName, ct).ConfigureAwait(false);
        await using (account.ConfigureAwait(false))
        {
            QuotaInfo q = await account.GetQuotaAsync(ct).ConfigureAwait(false);
            return q.LimitBytes is not long limit || q.UsedBytes + size <= limit;
        }
    }

    private async Task<string> ChooseMailboxAsync(RecipientTarget target, HeaderList headers, string envelopeFrom, CancellationToken ct)
    {
        IReadOnlyList<DeliveryRule> rules = await store.Directory.ListDeliveryRulesAsync(target.Account, ct).ConfigureAwait(false);
        foreach (DeliveryRule rule in rules)
        {
            if (RuleMatches(rule, headers, envelopeFrom, target.DeliveredTo))
                return rule.Mailbox;
        }
        return target.Mailbox ?? "INBOX";
    }

    internal static bool RuleMatches(DeliveryRule rule, HeaderList headers, string envelopeFrom, string envelopeTo)
    {
        IEnumerable<string> values = rule.Field switch
        {
            DeliveryRuleField.Header => headers.GetAll(rule.Header ?? "").Select(h => h.DecodedValue),
            DeliveryRuleField.From => headers.GetAll("From").SelectMany(h => AddressParser.ParseMailboxes(h.Value)).Select(a => a.Address),
            DeliveryRuleField.EnvelopeFrom => [envelopeFrom],
            DeliveryRuleField.EnvelopeTo => [envelopeTo],
            _ => [],
        };
        foreach (string v in values)
        {
            try
            {
                if (Regex.IsMatch(v, rule.Pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, RuleMatchTimeout))
                    return true;
            }
            catch (RegexMatchTimeoutException)
            {
            }
            catch (ArgumentException)
            {
                return false;
            }
        }
        return false;
    }
}
