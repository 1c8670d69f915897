// Recipient → account through the store's directory, in this order (first hit wins):
//   1. the exact address (case-insensitive), 2. an alias with that address (expanded to its
//   members, one level, local members only), 3. the same two with the "+tag" removed from the
//   local part, 4. the domain's catch-all "@domain". A domain with none of these is not local.
// Domains are looked up in the form the store holds (lower-case), trying the A-label and U-label
// forms of an IDN domain (RFC 6531 allows either on the wire).
using Postern.Mail;
using Postern.Smtp.Protocol;
using Postern.Store;

namespace Postern.Smtp.Delivery;

/// <summary>Resolves recipients through an <see cref="IAccountDirectory"/>.</summary>
public sealed class DirectoryRecipientResolver(IAccountDirectory directory, string localPartSeparators = "+") : IRecipientResolver
{
    /// <summary>Most members of an alias expanded for one recipient.</summary>
    public const int MaxAliasMembers = 1000;

    /// <inheritdoc/>
    public async ValueTask<RecipientResolution> ResolveAsync(SmtpAddress address, CancellationToken cancellationToken)
    {
        if (address.Domain.Length == 0 || address.Domain[0] == '[')
            return RecipientResolution.NotLocal;
        foreach (string domain in DomainForms(address.Domain))
        {
            string local = address.LocalPart.ToLowerInvariant();
            List<RecipientTarget>? found = await LookupAsync(local + "@" + domain, cancellationToken).ConfigureAwait(false);
            if (found is null && StripTag(local) is string untagged)
                found = await LookupAsync(untagged + "@" + domain, cancellationToken).ConfigureAwait(false);
            if (found is null)
            {
                AddressTarget? catchAll = await directory.LookupAddressTargetAsync("@" + domain, cancellationToken).ConfigureAwait(false);
                if (catchAll is not null)
                    found = [new RecipientTarget(catchAll.Account, catchAll.Mailbox, local + "@" + domain)];
            }
            if (found is not null)
                return new RecipientResolution(RecipientStatus.Local, found);
            if (await directory.IsLocalDomainAsync(domain, cancellationToken).ConfigureAwait(false))
                return RecipientResolution.Unknown;
        }
        return RecipientResolution.NotLocal;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> MaySendAsAsync(string account, SmtpAddress address, CancellationToken cancellationToken)
    {
        foreach (string domain in DomainForms(address.Domain))
        {
            string local = address.LocalPart.ToLowerInvariant();
            foreach (string candidate in StripTag(local) is string u ? [local, u] : new[] { local })
            {
                string full = candidate + "@" + domain;
                AddressTarget? t = await directory.LookupAddressTargetAsync(full, cancellationToken).ConfigureAwait(false);
                if (t is not null)
                    return t.Account == account;
                AliasInfo? alias = await directory.GetAliasAsync(full, cancellationToken).ConfigureAwait(false);
                if (alias is not null)
                {
                    if (!alias.MembersMaySend)
                        return false;
                    foreach (string m in alias.Members)
                    {
                        if ((await directory.LookupAddressTargetAsync(m, cancellationToken).ConfigureAwait(false))?.Account == account)
                            return true;
                    }
                    return false;
                }
            }
            // A catch-all makes every address of the domain the account's own.
            AddressTarget? catchAll = await directory.LookupAddressTargetAsync("@" + domain, cancellationToken).ConfigureAwait(false);
            if (catchAll is not null)
                return catchAll.Account == account;
        }
        return false;
    }

    private async Task<List<RecipientTarget>?> LookupAsync(string address, CancellationToken ct)
    {
        AddressTarget? t = await directory.LookupAddressTargetAsync(address, ct).ConfigureAwait(false);
        if (t is not null)
            return [new RecipientTarget(t.Account, t.Mailbox, address)];
        AliasInfo? alias = await directory.GetAliasAsync(address, ct).ConfigureAwait(false);
        if (alias is null)
            return null;
        var targets = new List<RecipientTarget>();
        foreach (string member in alias.Members.Take(MaxAliasMembers))
        {
            // Members are local addresses; an alias never expands to another alias (no loops) nor to a remote address (no relay).
            AddressTarget? m = await directory.LookupAddressTargetAsync(member, ct).ConfigureAwait(false);
            if (m is not null)
                targets.Add(new RecipientTarget(m.Account, m.Mailbox, member));
        }
        return targets.Count > 0 ? targets : null;
    }

    private string? StripTag(string local)
    {
        if (localPartSeparators.Length == 0)
            return null;
        int i = local.IndexOfAny(localPartSeparators.ToCharArray());
        return i > 0 ? local[..i] : null;
    }

    private static IEnumerable<string> DomainForms(string domain)
    {
        string lower = domain.TrimEnd('.').ToLowerInvariant();
        yield return lower;
        string ascii = MailAddress.ToAsciiDomain(lower);
        if (ascii != lower)
            yield return ascii;
        string unicode = MailAddress.ToUnicodeDomain(lower);
        if (unicode != lower && unicode != ascii)
            yield return unicode;
    }
}
