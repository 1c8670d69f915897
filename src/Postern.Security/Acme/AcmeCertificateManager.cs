// Keeps certificates issued and renewed through ACME. Each managed certificate is for a fixed key
// (the server's stable host keys, so DANE TLSA "3 1 1" records survive renewals) and lives in a
// PEM chain file that a CertificateSelector watches: a renewal replaces the file atomically and
// the listeners pick it up without a restart.
//
// When is a certificate (re)issued? When its file is missing, self-signed (a placeholder),
// for another key, lacking a name, or within RenewBefore (30 days) of its end. A failure is
// retried after FirstRetryDelay, doubling up to MaxRetryDelay, so a CA that is down or refuses
// is not hammered while the server keeps serving what it has.
//
// The set of certificates can change while RunAsync runs (a mail domain added to or removed from a
// running server, see SetCertificates): a new one is issued at once, a removed one is no longer
// renewed (its file stays, for when the names come back).
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Postern.Security.Acme;

/// <summary>A certificate kept issued by <see cref="AcmeCertificateManager"/>.</summary>
/// <param name="Name">Name for logs and errors.</param>
/// <param name="DnsNames">Names in the certificate; the first is the subject CN.</param>
/// <param name="Key">The key the certificate is for (ECDSA or RSA); reused at every renewal.</param>
/// <param name="CertificatePath">PEM chain file written on issuance, leaf first.</param>
public sealed record AcmeManagedCertificate(string Name, IReadOnlyList<string> DnsNames, AsymmetricAlgorithm Key, string CertificatePath);

/// <summary>Options of an <see cref="AcmeCertificateManager"/>.</summary>
public sealed record AcmeManagerOptions
{
    /// <summary>The ACME server.</summary>
    public required AcmeClientOptions Client { get; init; }

    /// <summary>Folder for the account key (account-key.pem, created on first use).</summary>
    public required string StateDirectory { get; init; }

    /// <summary>Contact addresses given to the CA (expiry and policy mail).</summary>
    public IReadOnlyList<string> ContactEmails { get; init; } = [];

    /// <summary>External Account Binding, for CAs that require one.</summary>
    public ExternalAccountBinding? Binding { get; init; }

    /// <summary>Challenge responders, most preferred first.</summary>
    public required IReadOnlyList<IAcmeChallengeResponder> Responders { get; init; }

    /// <summary>Renew this long before a certificate ends.</summary>
    public TimeSpan RenewBefore { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Wait after a first failure; doubled after each further failure.</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Longest wait between attempts after failures.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromHours(12);

    /// <summary>Longest sleep of <see cref="AcmeCertificateManager.RunAsync"/> between checks (files may change under it).</summary>
    public TimeSpan MaxSleep { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>Issues and renews a set of certificates through ACME.</summary>
public sealed class AcmeCertificateManager : IDisposable
{
    /// <summary>File name of the account key in the state folder.</summary>
    public const string AccountKeyFile = "account-key.pem";

    private readonly AcmeManagerOptions _options;
    private volatile IReadOnlyList<AcmeManagedCertificate> _certificates;
    private readonly Lock _wakeLock = new();
    private CancellationTokenSource _wake = new();
    private readonly ILogger _logger;
    private readonly Dictionary<string, (int Failures, DateTimeOffset NextAttempt, string Error)> _failures = [];
    private readonly SemaphoreSlim _busy = new(1, 1);
    private AcmeAccountKey? _accountKey;
    private AcmeClient? _client;

    /// <summary>Creates the manager; nothing is contacted until <see cref="RenewDueAsync"/> or <see cref="RunAsync"/>.</summary>
    public AcmeCertificateManager(AcmeManagerOptions options, IReadOnlyList<AcmeManagedCertificate> certificates, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(certificates);
        if (options.Responders.Count == 0) throw new ArgumentException("at least one challenge responder is needed", nameof(options));
        _options = options;
        _certificates = [.. certificates];
        _logger = logger ?? NullLogger.Instance;
    }

    private TimeProvider Time => _options.Client.Time;

    /// <summary>The certificates kept issued now.</summary>
    public IReadOnlyList<AcmeManagedCertificate> Certificates => _certificates;

    /// <summary>
    /// Keeps <paramref name="certificates"/> issued from now on instead of the previous set: those
    /// new to it are due at once (<see cref="RunAsync"/> wakes up for them), those left out are no
    /// longer renewed and their errors are forgotten. Certificates are the same when their names are.
    /// </summary>
    public void SetCertificates(IReadOnlyList<AcmeManagedCertificate> certificates)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        _certificates = [.. certificates];
        var names = certificates.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        lock (_failures)
        {
            foreach (var gone in _failures.Keys.Where(n => !names.Contains(n)).ToList()) _failures.Remove(gone);
        }
        lock (_wakeLock) _wake.Cancel();
    }

    /// <summary>The last error of each certificate that is failing, by name.</summary>
    public IReadOnlyDictionary<string, string> Errors
    {
        get { lock (_failures) return _failures.ToDictionary(f => f.Key, f => f.Value.Error); }
    }

    /// <summary>When a failing certificate is tried again; null when it is not failing.</summary>
    public DateTimeOffset? NextAttempt(string name)
    {
        lock (_failures) return _failures.TryGetValue(name, out var f) ? f.NextAttempt : null;
    }

    /// <summary>
    /// Why <paramref name="certificate"/> needs issuing at <paramref name="now"/>, or null when the
    /// file holds a CA-issued certificate for the key and names that is not yet due for renewal.
    /// </summary>
    public static string? RenewalReason(AcmeManagedCertificate certificate, DateTimeOffset now, TimeSpan renewBefore)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!File.Exists(certificate.CertificatePath)) return "no certificate yet";
        X509Certificate2 leaf;
        try
        {
            leaf = X509Certificate2.CreateFromPem(File.ReadAllText(certificate.CertificatePath));
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            return "the certificate file cannot be read: " + e.Message;
        }
        using (leaf)
        {
            if (leaf.SubjectName.RawData.AsSpan().SequenceEqual(leaf.IssuerName.RawData)) return "only a self-signed placeholder so far";
            if (!leaf.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(AcmeIssuance.SubjectPublicKeyInfo(certificate.Key))) return "the certificate is for another key";
            var names = AcmeIssuance.NamesOf(leaf);
            if (certificate.DnsNames.Any(n => !names.Contains(n.ToLowerInvariant()))) return "the certificate lacks configured names";
            var end = new DateTimeOffset(leaf.NotAfter.ToUniversalTime(), TimeSpan.Zero);
            if (now >= end - renewBefore) return $"it ends {end:yyyy-MM-dd HH:mm}Z";
            return null;
        }
    }

    /// <summary>
    /// Writes a self-signed certificate on the key for each certificate whose file is missing, so
    /// TLS listeners can start before the CA has issued one. Returns the names written.
    /// </summary>
    public IReadOnlyList<string> WritePlaceholders() => WritePlaceholders(_certificates, Time);

    /// <summary>
    /// Writes a self-signed certificate on the key for each of <paramref name="certificates"/> whose
    /// file is missing (valid from <paramref name="time"/>'s now for 90 days). Returns the names written.
    /// </summary>
    public static IReadOnlyList<string> WritePlaceholders(IEnumerable<AcmeManagedCertificate> certificates, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        ArgumentNullException.ThrowIfNull(time);
        var written = new List<string>();
        foreach (var c in certificates)
        {
            if (File.Exists(c.CertificatePath)) continue;
            var subject = new X500DistinguishedName("CN=" + c.DnsNames[0].Replace(",", "", StringComparison.Ordinal).Replace("=", "", StringComparison.Ordinal));
            CertificateRequest req = c.Key switch
            {
                ECDsa ec => new CertificateRequest(subject, ec, HashAlgorithmName.SHA256),
                RSA rsa => new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
                _ => throw new ArgumentException("the key must be ECDSA or RSA"),
            };
            var san = new SubjectAlternativeNameBuilder();
            foreach (var n in c.DnsNames) san.AddDnsName(n);
            req.CertificateExtensions.Add(san.Build());
            req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            var now = time.GetUtcNow();
            using var cert = req.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(90));
            WriteDurably(c.CertificatePath, cert.ExportCertificatePem() + "\n");
            written.Add(c.Name);
        }
        return written;
    }

    /// <summary>
    /// Issues every certificate that needs it and whose retry time has come. Returns true when none
    /// is left failing. Errors are logged and kept in <see cref="Errors"/>, never thrown.
    /// </summary>
    public async Task<bool> RenewDueAsync(CancellationToken cancellationToken)
    {
        await _busy.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var c in _certificates)
            {
                var now = Time.GetUtcNow();
                string? reason = RenewalReason(c, now, _options.RenewBefore);
                if (reason is null)
                {
                    lock (_failures) _failures.Remove(c.Name);
                    continue;
                }
                if (NextAttempt(c.Name) is { } next && next > now) continue;
                await IssueAsync(c, reason, cancellationToken).ConfigureAwait(false);
            }
            // A certificate taken out (SetCertificates) while it was being issued leaves no error behind.
            var names = _certificates.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
            lock (_failures)
            {
                foreach (var gone in _failures.Keys.Where(n => !names.Contains(n)).ToList()) _failures.Remove(gone);
                return _failures.Count == 0;
            }
        }
        finally
        {
            _busy.Release();
        }
    }

    private async Task IssueAsync(AcmeManagedCertificate c, string reason, CancellationToken cancellationToken)
    {
        _logger.LogInformation("acme requesting certificate={Name} names={Names} reason=\"{Reason}\"", c.Name, string.Join(",", c.DnsNames), reason);
        try
        {
            var client = await ClientAsync(cancellationToken).ConfigureAwait(false);
            string pem = await AcmeIssuance.ObtainAsync(client, c.DnsNames, c.Key, _options.Responders, _logger, cancellationToken).ConfigureAwait(false);
            WriteDurably(c.CertificatePath, pem);
            lock (_failures) _failures.Remove(c.Name);
            using var leaf = X509Certificate2.CreateFromPem(pem);
            _logger.LogInformation("acme obtained certificate={Name} names={Names} not-after={NotAfter:yyyy-MM-ddTHH:mm:ssZ} file={File}", c.Name, string.Join(",", c.DnsNames), leaf.NotAfter.ToUniversalTime(), c.CertificatePath);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Whatever failed (the CA, the network, the disk), the server keeps its current certificate.
            // A stale account URL (CA reset) or a broken connection: start with a fresh client next time.
            _client?.Dispose();
            _client = null;
            TimeSpan delay;
            lock (_failures)
            {
                int failures = _failures.TryGetValue(c.Name, out var f) ? f.Failures + 1 : 1;
                double factor = Math.Pow(2, Math.Min(failures - 1, 20));
                delay = TimeSpan.FromTicks((long)Math.Min(_options.FirstRetryDelay.Ticks * factor, _options.MaxRetryDelay.Ticks));
                _failures[c.Name] = (failures, Time.GetUtcNow() + delay, e.Message);
            }
            _logger.LogError("acme certificate={Name} names={Names} not obtained: {Error}; the current certificate stays in use, retrying in {Delay}",
                c.Name, string.Join(",", c.DnsNames), e.Message, FormatDelay(delay));
        }
    }

    private static string FormatDelay(TimeSpan d) => d.TotalHours >= 1 ? $"{d.TotalHours:0.#}h" : d.TotalMinutes >= 1 ? $"{d.TotalMinutes:0.#}m" : $"{d.TotalSeconds:0}s";

    private async Task<AcmeClient> ClientAsync(CancellationToken cancellationToken)
    {
        if (_client is not null) return _client;
        _accountKey ??= LoadOrCreateAccountKey();
        var client = new AcmeClient(_options.Client, _accountKey, _logger);
        try
        {
            string accountUrl = await client.RegisterAccountAsync(_options.ContactEmails, _options.Binding, cancellationToken).ConfigureAwait(false);
            var directory = await client.GetDirectoryAsync(cancellationToken).ConfigureAwait(false);
            RememberAccount(new AcmeAccountRecord(_options.Client.DirectoryUri.AbsoluteUri, accountUrl, directory.CaaIdentities));
        }
        catch
        {
            client.Dispose();
            throw;
        }
        _client = client;
        return client;
    }

    /// <summary>Writes account.json when it changed, for CAA records (`postern config dnsrecords`).</summary>
    private void RememberAccount(AcmeAccountRecord record)
    {
        var known = AcmeAccountRecord.TryLoad(_options.StateDirectory);
        if (known is not null && known.DirectoryUrl == record.DirectoryUrl && known.AccountUrl == record.AccountUrl &&
            known.CaaIdentities.SequenceEqual(record.CaaIdentities, StringComparer.Ordinal))
            return;
        try
        {
            WriteDurably(Path.Combine(_options.StateDirectory, AcmeAccountRecord.FileName), record.ToJson());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("acme cannot write {File}: {Error}", AcmeAccountRecord.FileName, e.Message);
        }
    }

    private AcmeAccountKey LoadOrCreateAccountKey()
    {
        Directory.CreateDirectory(_options.StateDirectory);
        string path = Path.Combine(_options.StateDirectory, AccountKeyFile);
        if (File.Exists(path))
        {
            try
            {
                return AcmeAccountKey.FromPem(File.ReadAllText(path));
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                throw new AcmeException($"{path}: not an ECDSA P-256 private key in PEM: {e.Message}", e);
            }
        }
        var key = AcmeAccountKey.Create();
        WriteDurably(path, key.ExportPem(), secret: true);
        _logger.LogInformation("acme created account key file={File}", path);
        return key;
    }

    /// <summary>
    /// Renews what is due, then sleeps until the next renewal or retry (at most
    /// <see cref="AcmeManagerOptions.MaxSleep"/>), until cancelled.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await RenewDueAsync(cancellationToken).ConfigureAwait(false);
            var now = Time.GetUtcNow();
            var wake = now + _options.MaxSleep;
            foreach (var c in _certificates)
            {
                var due = NextAttempt(c.Name) ?? DueTime(c) ?? now;
                if (due < wake) wake = due;
            }
            var sleep = wake - now;
            if (sleep < TimeSpan.FromSeconds(1)) sleep = TimeSpan.FromSeconds(1);
            CancellationTokenSource woken;
            lock (_wakeLock) woken = _wake;
            using var sleeping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, woken.Token);
            try
            {
                await Task.Delay(sleep, Time, sleeping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                if (cancellationToken.IsCancellationRequested) return;
                // SetCertificates: a fresh wake-up source for the next sleep, then renew what is new.
                lock (_wakeLock)
                {
                    if (_wake.IsCancellationRequested)
                    {
                        _wake.Dispose();
                        _wake = new CancellationTokenSource();
                    }
                }
            }
        }
    }

    private DateTimeOffset? DueTime(AcmeManagedCertificate c)
    {
        try
        {
            using var leaf = X509Certificate2.CreateFromPem(File.ReadAllText(c.CertificatePath));
            return new DateTimeOffset(leaf.NotAfter.ToUniversalTime(), TimeSpan.Zero) - _options.RenewBefore;
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // Written to a temporary file, flushed to disk, renamed over the old one, and the folder synced:
    // a crash leaves either the old or the new certificate, never half of one.
    private static void WriteDurably(string path, string content, bool secret = false)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        string tmp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows() && secret) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var fs = new FileStream(tmp, options))
        {
            fs.Write(System.Text.Encoding.ASCII.GetBytes(content));
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
        if (dir is not null) DirectorySync.Fsync(dir);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _client?.Dispose();
        _accountKey?.Dispose();
        _busy.Dispose();
        lock (_wakeLock) _wake.Dispose();
    }
}
