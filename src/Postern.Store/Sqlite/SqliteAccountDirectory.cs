using Microsoft.Data.Sqlite;

namespace Postern.Store.Sqlite;

/// <summary>The global database (<c>postern.db</c>): accounts, credentials, quota limits, addresses, login attempts.</summary>
internal sealed partial class SqliteAccountDirectory(SqliteMailStore owner, string path) : IAccountDirectory
{
    /// <summary>Login attempts older than this are pruned.</summary>
    public static readonly TimeSpan LoginAttemptRetention = TimeSpan.FromDays(30);

    /// <summary>At most this many login attempts are kept.</summary>
    public const int MaxLoginAttempts = 100_000;

    /// <summary>Longest account name; names are also folder names.</summary>
    public const int MaxAccountNameLength = 64;

    /// <summary>Longest address accepted (RFC 5321 §4.5.3.1.3 path limit).</summary>
    public const int MaxAddressLength = 256;

    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly string _readConnectionString = Db.ConnectionString(path, readOnly: false);
    private SqliteConnection? _writer;
    private DirectoryCache? _cache;
    private int _attemptsSincePrune;

    // Kinds of cached answers (see DirectoryCache).
    private const int CachedAccount = 0, CachedAddressTarget = 1, CachedAlias = 2, CachedLocalDomain = 3, CachedRules = 4;

    public void Initialize()
    {
        _writer = Db.OpenWriter(path);
        Schema.EnsureGlobal(_writer);
        _cache = new DirectoryCache(_readConnectionString);
    }

    public void Close()
    {
        _cache?.Dispose();
        _cache = null;
        _writer?.Dispose();
        _writer = null;
    }

    private DirectoryCache Cache => _cache ?? throw new ObjectDisposedException(nameof(SqliteMailStore));

    private SqliteConnection Writer => _writer ?? throw new ObjectDisposedException(nameof(SqliteMailStore));

    internal SqliteConnection OpenReader()
    {
        var conn = new SqliteConnection(_readConnectionString);
        conn.Open();
        return conn;
    }

    internal async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> action, CancellationToken ct)
    {
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using var tx = Writer.BeginTransaction(deferred: false);
            var result = action(Writer, tx);
            tx.Commit();
            return result;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Account names are folder names: ASCII letters, digits, '.', '_', '-', not starting with '.'.</summary>
    public static void ValidateAccountName(string name)
    {
        if (name.Length == 0 || name.Length > MaxAccountNameLength || name[0] == '.' ||
            !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            throw new StoreException($"invalid account name {name}: use 1-{MaxAccountNameLength} of a-z A-Z 0-9 . _ -, not starting with a dot");
    }

    public async Task<AccountInfo> CreateAccountAsync(string name, long? quotaBytes = null, CancellationToken cancellationToken = default)
    {
        ValidateAccountName(name);
        var created = DateTimeOffset.UtcNow;
        await WriteAsync((c, tx) =>
        {
            if (Db.Scalar(c, tx, "SELECT 1 FROM account WHERE name = $n COLLATE NOCASE", ("$n", name)) is not null) throw new AccountExistsException(name);
            return Db.Exec(c, tx, "INSERT INTO account (name, created, quota) VALUES ($n, $c, $q)", ("$n", name), ("$c", Db.ToUnixMs(created)), ("$q", quotaBytes));
        }, cancellationToken).ConfigureAwait(false);
        // The account database is created on first open; doing it now gives the default mailboxes at once.
        await owner.InitializeAccountAsync(name).ConfigureAwait(false);
        return new AccountInfo(name, Db.FromUnixMs(Db.ToUnixMs(created)), quotaBytes);
    }

    private static AccountInfo ReadAccount(SqliteDataReader r) => new(r.GetString(0), Db.FromUnixMs(r.GetInt64(1)), r.IsDBNull(2) ? null : r.GetInt64(2));

    public Task<IReadOnlyList<AccountInfo>> ListAccountsAsync(CancellationToken cancellationToken = default)
    {
        using var conn = OpenReader();
        using var cmd = Db.Command(conn, null, "SELECT name, created, quota FROM account ORDER BY name");
        using var r = cmd.ExecuteReader();
        var list = new List<AccountInfo>();
        while (r.Read()) list.Add(ReadAccount(r));
        return Task.FromResult<IReadOnlyList<AccountInfo>>(list);
    }

    public Task<AccountInfo?> GetAccountAsync(string name, CancellationToken cancellationToken = default) =>
        Task.FromResult(Cache.Get(CachedAccount, name, key =>
        {
            using var conn = OpenReader();
            using var cmd = Db.Command(conn, null, "SELECT name, created, quota FROM account WHERE name = $n", ("$n", key));
            using var r = cmd.ExecuteReader();
            return r.Read() ? ReadAccount(r) : null;
        }));

    public Task<string?> GetCredentialsAsync(string accountName, CancellationToken cancellationToken = default)
    {
        using var conn = OpenReader();
        using var cmd = Db.Command(conn, null, "SELECT credentials, 1 FROM account WHERE name = $n", ("$n", accountName));
        using var r = cmd.ExecuteReader();
        if (!r.Read()) throw new AccountNotFoundException(accountName);
        return Task.FromResult(Db.NullableString(r, 0));
    }

    public Task SetCredentialsAsync(string accountName, string? credentials, CancellationToken cancellationToken = default) =>
        WriteAsync((c, tx) =>
        {
            if (Db.Exec(c, tx, "UPDATE account SET credentials = $cr WHERE name = $n", ("$cr", credentials), ("$n", accountName)) == 0)
                throw new AccountNotFoundException(accountName);
            return 0;
        }, cancellationToken);

    public async Task SetQuotaAsync(string accountName, long? quotaBytes, CancellationToken cancellationToken = default)
    {
        await WriteAsync((c, tx) =>
        {
            if (Db.Exec(c, tx, "UPDATE account SET quota = $q WHERE name = $n", ("$q", quotaBytes), ("$n", accountName)) == 0)
                throw new AccountNotFoundException(accountName);
            return 0;
        }, cancellationToken).ConfigureAwait(false);
        owner.QuotaChanged(accountName, quotaBytes);
    }

    /// <summary>Addresses are stored lower-cased (invariant): lookups ignore case, as nearly every mail system does for local parts.</summary>
    internal static string NormalizeAddress(string address)
    {
        address = address.Trim();
        if (address.Length == 0 || address.Length > MaxAddressLength || !address.Contains('@', StringComparison.Ordinal))
            throw new StoreException($"invalid address {address}");
        return address.ToLowerInvariant();
    }

    public Task AddAddressAsync(string address, string accountName, CancellationToken cancellationToken = default)
    {
        string a = NormalizeAddress(address);
        return WriteAsync((c, tx) =>
        {
            if (Db.Scalar(c, tx, "SELECT 1 FROM account WHERE name = $n", ("$n", accountName)) is null) throw new AccountNotFoundException(accountName);
            if (Db.Scalar(c, tx, "SELECT 1 FROM address WHERE address = $a", ("$a", a)) is not null) throw new AddressExistsException(a);
            if (Db.Scalar(c, tx, "SELECT 1 FROM alias WHERE address = $a", ("$a", a)) is not null) throw new AddressExistsException(a);
            EnsureDomain(c, tx, a);
            return Db.Exec(c, tx, "INSERT INTO address (address, account) VALUES ($a, $n)", ("$a", a), ("$n", accountName));
        }, cancellationToken);
    }

    public Task<bool> RemoveAddressAsync(string address, CancellationToken cancellationToken = default)
    {
        string a = NormalizeAddress(address);
        return WriteAsync((c, tx) => Db.Exec(c, tx, "DELETE FROM address WHERE address = $a", ("$a", a)) > 0, cancellationToken);
    }

    public async Task<string?> LookupAddressAsync(string address, CancellationToken cancellationToken = default) =>
        (await LookupAddressTargetAsync(address, cancellationToken).ConfigureAwait(false))?.Account;

    public Task<IReadOnlyList<string>> ListAddressesAsync(string accountName, CancellationToken cancellationToken = default)
    {
        using var conn = OpenReader();
        using var cmd = Db.Command(conn, null, "SELECT address FROM address WHERE account = $n ORDER BY address", ("$n", accountName));
        using var r = cmd.ExecuteReader();
        var list = new List<string>();
        while (r.Read()) list.Add(r.GetString(0));
        return Task.FromResult<IReadOnlyList<string>>(list);
    }

    public Task<AddressTarget?> LookupAddressTargetAsync(string address, CancellationToken cancellationToken = default)
    {
        string a;
        try
        {
            a = NormalizeAddress(address);
        }
        catch (StoreException)
        {
            return Task.FromResult<AddressTarget?>(null);
        }
        return Task.FromResult(Cache.Get(CachedAddressTarget, a, key =>
        {
            using var conn = OpenReader();
            using var cmd = Db.Command(conn, null, "SELECT account, mailbox FROM address WHERE address = $a", ("$a", key));
            using var r = cmd.ExecuteReader();
            return r.Read() ? new AddressTarget(r.GetString(0), Db.NullableString(r, 1)) : null;
        }));
    }

    public Task<bool> SetAddressMailboxAsync(string address, string? mailbox, CancellationToken cancellationToken = default)
    {
        string a = NormalizeAddress(address);
        return WriteAsync((c, tx) => Db.Exec(c, tx, "UPDATE address SET mailbox = $m WHERE address = $a", ("$m", mailbox), ("$a", a)) > 0, cancellationToken);
    }

    public Task AddAliasAsync(string address, IReadOnlyList<string> members, bool membersMaySend = false, CancellationToken cancellationToken = default)
    {
        string a = NormalizeAddress(address);
        if (members.Count == 0)
            throw new StoreException("an alias needs at least one member");
        string list = string.Join('\n', members.Select(NormalizeAddress).Distinct(StringComparer.Ordinal));
        return WriteAsync((c, tx) =>
        {
            if (Db.Scalar(c, tx, "SELECT 1 FROM address WHERE address = $a UNION ALL SELECT 1 FROM alias WHERE address = $a", ("$a", a)) is not null)
                throw new AddressExistsException(a);
            EnsureDomain(c, tx, a);
            return Db.Exec(c, tx, "INSERT INTO alias (address, members, members_may_send) VALUES ($a, $m, $s)", ("$a", a), ("$m", list), ("$s", membersMaySend ? 1 : 0));
        }, cancellationToken);
    }

    public Task<bool> RemoveAliasAsync(string address, CancellationToken cancellationToken = default)
    {
        string a = NormalizeAddress(address);
        return WriteAsync((c, tx) => Db.Exec(c, tx, "DELETE FROM alias WHERE address = $a", ("$a", a)) > 0, cancellationToken);
    }

    private static AliasInfo ReadAlias(SqliteDataReader r) => new(r.GetString(0), r.GetString(1).Split('\n'), r.GetInt64(2) != 0);

    public Task<AliasInfo?> GetAliasAsync(string address, CancellationToken cancellationToken = default)
    {
        string a;
        try
        {
            a = NormalizeAddress(address);
        }
        catch (StoreException)
        {
            return Task.FromResult<AliasInfo?>(null);
        }
        return Task.FromResult(Cache.Get(CachedAlias, a, key =>
        {
            using var conn = OpenReader();
            using var cmd = Db.Command(conn, null, "SELECT address, members, members_may_send FROM alias WHERE address = $a", ("$a", key));
            using var r = cmd.ExecuteReader();
            return r.Read() ? ReadAlias(r) : null;
        }));
    }

    public Task<IReadOnlyList<AliasInfo>> ListAliasesAsync(CancellationToken cancellationToken = default)
    {
        using var conn = OpenReader();
        using var cmd = Db.Command(conn, null, "SELECT address, members, members_may_send FROM alias ORDER BY address");
        using var r = cmd.ExecuteReader();
        var list = new List<AliasInfo>();
        while (r.Read()) list.Add(ReadAlias(r));
        return Task.FromResult<IReadOnlyList<AliasInfo>>(list);
    }

    public Task<long> AddDeliveryRuleAsync(DeliveryRule rule, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (rule.Field == DeliveryRuleField.Header && string.IsNullOrEmpty(rule.Header))
            throw new StoreException("a header rule needs a header name");
        try
        {
            _ = new System.Text.RegularExpressions.Regex(rule.Pattern, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            throw new StoreException("invalid rule pattern: " + e.Message);
        }
        return WriteAsync((c, tx) =>
        {
            if (Db.Scalar(c, tx, "SELECT 1 FROM account WHERE name = $n", ("$n", rule.Account)) is null) throw new AccountNotFoundException(rule.Account);
            return (long)Db.Scalar(c, tx, "INSERT INTO delivery_rule (account, field, header, pattern, mailbox) VALUES ($a, $f, $h, $p, $m) RETURNING id",
                ("$a", rule.Account), ("$f", rule.Field.ToString()), ("$h", rule.Header), ("$p", rule.Pattern), ("$m", rule.Mailbox))!;
        }, cancellationToken);
    }

    public Task<IReadOnlyList<DeliveryRule>> ListDeliveryRulesAsync(string accountName, CancellationToken cancellationToken = default) =>
        // Asked for every delivered message; most accounts have none, and the answer is cached until the database changes.
        Task.FromResult(Cache.Get<IReadOnlyList<DeliveryRule>>(CachedRules, accountName, key =>
        {
            using var conn = OpenReader();
            using var cmd = Db.Command(conn, null, "SELECT id, account, field, header, pattern, mailbox FROM delivery_rule WHERE account = $a ORDER BY id", ("$a", key));
            using var r = cmd.ExecuteReader();
            var list = new List<DeliveryRule>();
            while (r.Read())
            {
                if (!Enum.TryParse(r.GetString(2), out DeliveryRuleField field)) continue;
                list.Add(new DeliveryRule(r.GetInt64(0), r.GetString(1), field, Db.NullableString(r, 3), r.GetString(4), r.GetString(5)));
            }
            return list.ToArray();
        }));

    public Task<bool> RemoveDeliveryRuleAsync(long id, CancellationToken cancellationToken = default) =>
        WriteAsync((c, tx) => Db.Exec(c, tx, "DELETE FROM delivery_rule WHERE id = $id", ("$id", id)) > 0, cancellationToken);

    public Task RecordLoginAttemptAsync(LoginAttempt attempt, CancellationToken cancellationToken = default) =>
        WriteAsync((c, tx) =>
        {
            Db.Exec(c, tx, """
                INSERT INTO login_attempt (time, remote_ip, login_name, mechanism, result, protocol) VALUES ($t, $ip, $l, $m, $r, $p)
                """,
                ("$t", Db.ToUnixMs(attempt.Time)), ("$ip", Truncate(attempt.RemoteIp)), ("$l", Truncate(attempt.LoginName)),
                ("$m", Truncate(attempt.Mechanism)), ("$r", Truncate(attempt.Result)), ("$p", Truncate(attempt.Protocol)));
            // Bounded retention: prune by age and count every 100 inserts.
            if (++_attemptsSincePrune >= 100)
            {
                _attemptsSincePrune = 0;
                Db.Exec(c, tx, "DELETE FROM login_attempt WHERE time < $t", ("$t", Db.ToUnixMs(DateTimeOffset.UtcNow - LoginAttemptRetention)));
                Db.Exec(c, tx, "DELETE FROM login_attempt WHERE id <= (SELECT max(id) FROM login_attempt) - $max", ("$max", MaxLoginAttempts));
            }
            return 0;
        }, cancellationToken);

    /// <summary>Client-supplied strings are cut to this many characters before logging.</summary>
    private const int MaxLoggedField = 256;

    private static string Truncate(string s) => s.Length <= MaxLoggedField ? s : s[..MaxLoggedField];

    public Task<IReadOnlyList<LoginAttempt>> ListLoginAttemptsAsync(string? loginName = null, int limit = 100, CancellationToken cancellationToken = default)
    {
        using var conn = OpenReader();
        using var cmd = Db.Command(conn, null, """
            SELECT time, remote_ip, login_name, mechanism, result, protocol FROM login_attempt
            WHERE $l IS NULL OR login_name = $l ORDER BY id DESC LIMIT $lim
            """, ("$l", loginName), ("$lim", limit));
        using var r = cmd.ExecuteReader();
        var list = new List<LoginAttempt>();
        while (r.Read()) list.Add(new LoginAttempt(Db.FromUnixMs(r.GetInt64(0)), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5)));
        return Task.FromResult<IReadOnlyList<LoginAttempt>>(list);
    }
}
