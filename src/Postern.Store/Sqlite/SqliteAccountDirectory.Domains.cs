// Domains, alias membership changes and account removal: the administration writes of the global
// database. Each is one transaction, so a running server (which reads the directory at every
// message) sees either the old or the new state, never a half-done change.
using Microsoft.Data.Sqlite;

namespace Postern.Store.Sqlite;

internal sealed partial class SqliteAccountDirectory
{
    /// <summary>Longest domain name (RFC 1035 §2.3.4).</summary>
    public const int MaxDomainLength = 253;

    // Same expression as the address_domain and alias_domain indexes, so lookups by domain use them.
    private const string AddressDomain = "substr(address, instr(address, '@') + 1)";

    private static string NormalizeDomain(string domain)
    {
        string d = domain.Trim().TrimEnd('.').ToLowerInvariant();
        if (d.Length == 0 || d.Length > MaxDomainLength || d.Contains('@', StringComparison.Ordinal) || d.Any(char.IsWhiteSpace))
            throw new StoreException($"invalid domain {domain}");
        return d;
    }

    /// <summary>Adding an address or alias makes its domain local (store API callers need no separate step).</summary>
    private static void EnsureDomain(SqliteConnection c, SqliteTransaction tx, string normalizedAddress)
    {
        string d = normalizedAddress[(normalizedAddress.IndexOf('@', StringComparison.Ordinal) + 1)..];
        Db.Exec(c, tx, "INSERT OR IGNORE INTO domain (name, created) VALUES ($d, $t)", ("$d", d), ("$t", Db.ToUnixMs(DateTimeOffset.UtcNow)));
    }

    public Task<bool> AddDomainAsync(string domain, CancellationToken cancellationToken = default)
    {
        string d = NormalizeDomain(domain);
        return WriteAsync((c, tx) =>
            Db.Exec(c, tx, "INSERT OR IGNORE INTO domain (name, created) VALUES ($d, $t)", ("$d", d), ("$t", Db.ToUnixMs(DateTimeOffset.UtcNow))) > 0,
            cancellationToken);
    }

    public Task<DomainRemoval> RemoveDomainAsync(string domain, bool removeAddresses, CancellationToken cancellationToken = default)
    {
        string d = NormalizeDomain(domain);
        return WriteAsync((c, tx) =>
        {
            if (Db.Scalar(c, tx, "SELECT 1 FROM domain WHERE name = $d", ("$d", d)) is null)
                return new DomainRemoval(false, 0, 0);
            int addresses = Convert.ToInt32(Db.Scalar(c, tx, $"SELECT count(*) FROM address WHERE {AddressDomain} = $d", ("$d", d)), System.Globalization.CultureInfo.InvariantCulture);
            int aliases = Convert.ToInt32(Db.Scalar(c, tx, $"SELECT count(*) FROM alias WHERE {AddressDomain} = $d", ("$d", d)), System.Globalization.CultureInfo.InvariantCulture);
            if ((addresses > 0 || aliases > 0) && !removeAddresses)
                throw new DomainInUseException(d, addresses, aliases);
            Db.Exec(c, tx, $"DELETE FROM address WHERE {AddressDomain} = $d", ("$d", d));
            Db.Exec(c, tx, $"DELETE FROM alias WHERE {AddressDomain} = $d", ("$d", d));
            Db.Exec(c, tx, "DELETE FROM domain WHERE name = $d", ("$d", d));
            return new DomainRemoval(true, addresses, aliases);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<DomainInfo>> ListDomainsAsync(CancellationToken cancellationToken = default)
    {
        using var conn = OpenReader();
        using var cmd = Db.Command(conn, null, $"""
            SELECT name, created,
                (SELECT count(*) FROM address WHERE {AddressDomain} = domain.name),
                (SELECT count(*) FROM alias WHERE {AddressDomain} = domain.name)
            FROM domain ORDER BY name
            """);
        using var r = cmd.ExecuteReader();
        var list = new List<DomainInfo>();
        while (r.Read()) list.Add(new DomainInfo(r.GetString(0), Db.FromUnixMs(r.GetInt64(1)), r.GetInt32(2), r.GetInt32(3)));
        return Task.FromResult<IReadOnlyList<DomainInfo>>(list);
    }

    public Task<bool> IsLocalDomainAsync(string domain, CancellationToken cancellationToken = default)
    {
        string d = domain.Trim().TrimEnd('.').ToLowerInvariant();
        if (d.Length == 0)
            return Task.FromResult(false);
        return Task.FromResult(Cache.Get(CachedLocalDomain, d, key =>
        {
            using var conn = OpenReader();
            return Db.Scalar(conn, null, "SELECT 1 FROM domain WHERE name = $d", ("$d", key)) is not null;
        }));
    }

    public Task<AliasInfo> AddAliasMembersAsync(string address, IReadOnlyList<string> members, CancellationToken cancellationToken = default)
    {
        string a = NormalizeAddress(address);
        var add = members.Select(NormalizeAddress).ToList();
        return WriteAsync((c, tx) =>
        {
            var alias = ReadAliasIn(c, tx, a) ?? throw new AliasNotFoundException(a);
            var list = alias.Members.ToList();
            foreach (var m in add)
            {
                if (!list.Contains(m, StringComparer.Ordinal)) list.Add(m);
            }
            Db.Exec(c, tx, "UPDATE alias SET members = $m WHERE address = $a", ("$m", string.Join('\n', list)), ("$a", a));
            return alias with { Members = list };
        }, cancellationToken);
    }

    public Task<AliasInfo> RemoveAliasMembersAsync(string address, IReadOnlyList<string> members, CancellationToken cancellationToken = default)
    {
        string a = NormalizeAddress(address);
        var remove = members.Select(NormalizeAddress).ToHashSet(StringComparer.Ordinal);
        return WriteAsync((c, tx) =>
        {
            var alias = ReadAliasIn(c, tx, a) ?? throw new AliasNotFoundException(a);
            if (remove.FirstOrDefault(m => !alias.Members.Contains(m, StringComparer.Ordinal)) is { } missing)
                throw new StoreException($"{missing} is not a member of {a}");
            var list = alias.Members.Where(m => !remove.Contains(m)).ToList();
            if (list.Count == 0)
                throw new StoreException($"an alias needs at least one member; remove the alias {a} instead");
            Db.Exec(c, tx, "UPDATE alias SET members = $m WHERE address = $a", ("$m", string.Join('\n', list)), ("$a", a));
            return alias with { Members = list };
        }, cancellationToken);
    }

    private static AliasInfo? ReadAliasIn(SqliteConnection c, SqliteTransaction tx, string address)
    {
        using var cmd = Db.Command(c, tx, "SELECT address, members, members_may_send FROM alias WHERE address = $a", ("$a", address));
        using var r = cmd.ExecuteReader();
        return r.Read() ? ReadAlias(r) : null;
    }

    public async Task<string?> RemoveAccountAsync(string accountName, CancellationToken cancellationToken = default)
    {
        await WriteAsync((c, tx) =>
        {
            if (Db.Scalar(c, tx, "SELECT 1 FROM account WHERE name = $n", ("$n", accountName)) is null)
                throw new AccountNotFoundException(accountName);
            // An alias member that would point nowhere: the operator decides (rmmember) rather than the store.
            var addresses = new HashSet<string>(StringComparer.Ordinal);
            using (var cmd = Db.Command(c, tx, "SELECT address FROM address WHERE account = $n", ("$n", accountName)))
            using (var r = cmd.ExecuteReader())
            {
                while (r.Read()) addresses.Add(r.GetString(0));
            }
            var used = new List<string>();
            using (var cmd = Db.Command(c, tx, "SELECT address, members, members_may_send FROM alias"))
            using (var r = cmd.ExecuteReader())
            {
                while (r.Read())
                {
                    var alias = ReadAlias(r);
                    used.AddRange(alias.Members.Where(addresses.Contains).Select(m => $"{m} (member of {alias.Address})"));
                }
            }
            if (used.Count > 0)
                throw new StoreException($"account {accountName} has addresses that are alias members: {string.Join(", ", used)}; remove them from the aliases first");
            Db.Exec(c, tx, "DELETE FROM address WHERE account = $n", ("$n", accountName));
            Db.Exec(c, tx, "DELETE FROM delivery_rule WHERE account = $n", ("$n", accountName));
            Db.Exec(c, tx, "DELETE FROM account WHERE name = $n", ("$n", accountName));
            return 0;
        }, cancellationToken).ConfigureAwait(false);

        // The mail is never deleted here: the folder moves aside, for the operator to archive or delete.
        string folder = owner.AccountDirectory(accountName);
        if (!Directory.Exists(folder))
            return null;
        string removedRoot = Path.Combine(owner.DataDirectory, "removed-accounts");
        Directory.CreateDirectory(removedRoot);
        string target = Path.Combine(removedRoot, accountName + "-" + DateTime.UtcNow.ToString("yyyyMMddTHHmmssZ", System.Globalization.CultureInfo.InvariantCulture));
        Directory.Move(folder, target);
        return target;
    }
}
