using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Postern.Security.Tls;

/// <summary>A PEM certificate chain file and its private key file.</summary>
/// <param name="CertificatePath">Certificate chain, leaf first.</param>
/// <param name="KeyPath">Private key of the leaf.</param>
public sealed record CertificateFiles(string CertificatePath, string KeyPath);

/// <summary>
/// Server certificates loaded from PEM files, chosen per connection by the SNI host name and
/// read again when a file changes (checked at most every <see cref="RecheckInterval"/>), so a
/// renewed certificate is used without a restart. A file that fails to load after a change
/// keeps the previous certificate in use and is reported through <see cref="ReloadFailed"/>.
/// The intermediate certificates after the leaf in a chain file are sent with it
/// (<see cref="SelectContext"/>): clients such as Postfix or Python's ssl never fetch a missing
/// intermediate, so a leaf alone from an ACME CA fails their verification (RFC 8446 §4.4.2).
/// The set of files itself can change while connections run (<see cref="ReplaceFiles"/>), when a
/// running server gains or loses the certificate of a mail domain; a set that could not be loaded
/// is tried again at each recheck until it loads (its files may be written later, e.g. by ACME).
/// </summary>
public sealed class CertificateSelector
{
    private volatile Entry[] _entries;
    private volatile IReadOnlyList<CertificateFiles>? _pending;
    private readonly Lock _replacing = new();
    private readonly TimeProvider _time;
    private long _nextCheck;

    /// <summary>Loads every pair now; throws with the file's name when one cannot be loaded.</summary>
    public CertificateSelector(IReadOnlyList<CertificateFiles> files, TimeProvider? time = null)
    {
        if (files.Count == 0) throw new ArgumentException("at least one certificate is needed", nameof(files));
        _time = time ?? TimeProvider.System;
        _entries = [.. files.Select(f => new Entry(f, Load(f)))];
        // The first Select checks the files; later ones every RecheckInterval (an init-only setting,
        // so it cannot be used here in the constructor).
        _nextCheck = _time.GetTimestamp();
    }

    /// <summary>How often file modification times are checked.</summary>
    public TimeSpan RecheckInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Called with the files and the error when a changed file could not be loaded.</summary>
    public Action<CertificateFiles, Exception>? ReloadFailed { get; set; }

    /// <summary>The files in use, in order.</summary>
    public IReadOnlyList<CertificateFiles> Files => [.. _entries.Select(e => e.Files)];

    /// <summary>
    /// Uses <paramref name="files"/> from now on, in that order: pairs already in use are kept as
    /// loaded, new ones are loaded now. Throws with the file's name when a new pair cannot be
    /// loaded; the previous set then stays in use, and this set is tried again at each recheck
    /// (reported through <see cref="PendingFilesLoaded"/> when it loads) unless another replaces it.
    /// Handshakes under way finish on what they chose.
    /// </summary>
    public void ReplaceFiles(IReadOnlyList<CertificateFiles> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count == 0) throw new ArgumentException("at least one certificate is needed", nameof(files));
        lock (_replacing)
        {
            try
            {
                Use(files);
                _pending = null;
            }
            catch
            {
                _pending = files;
                throw;
            }
        }
    }

    /// <summary>Called with the set of files when one that <see cref="ReplaceFiles"/> could not load has loaded on a recheck.</summary>
    public Action<IReadOnlyList<CertificateFiles>>? PendingFilesLoaded { get; set; }

    /// <summary>Whether a set of files given to <see cref="ReplaceFiles"/> is still waiting to load.</summary>
    public bool HasPendingFiles => _pending is not null;

    private void Use(IReadOnlyList<CertificateFiles> files)
    {
        var current = _entries;
        var next = new Entry[files.Count];
        for (int i = 0; i < files.Count; i++)
            next[i] = Array.Find(current, e => e.Files == files[i]) ?? new Entry(files[i], Load(files[i]));
        _entries = next;
    }

    /// <summary>The certificates in use, in configuration order.</summary>
    public IEnumerable<X509Certificate2> Certificates => _entries.Select(e => e.Certificate);

    /// <summary>
    /// The certificate for <paramref name="hostName"/>: the first whose DNS names match it exactly
    /// or by a one-label wildcard (RFC 6125 §6.4.3), else the first one.
    /// </summary>
    public X509Certificate2 Select(string? hostName) => SelectEntry(hostName).Certificate;

    /// <summary>
    /// What <see cref="Select"/> chooses, with the intermediate certificates of its chain file, for
    /// <see cref="SslServerAuthenticationOptions.ServerCertificateContext"/>.
    /// </summary>
    public SslStreamCertificateContext SelectContext(string? hostName) => SelectEntry(hostName).Context;

    private Entry SelectEntry(string? hostName)
    {
        ReloadIfChanged();
        var entries = _entries;
        if (!string.IsNullOrEmpty(hostName))
        {
            string name = hostName.TrimEnd('.').ToLowerInvariant();
            foreach (var e in entries)
            {
                if (e.Names.Any(n => Matches(n, name)))
                    return e;
            }
        }
        return entries[0];
    }

    private static bool Matches(string pattern, string name)
    {
        if (pattern == name) return true;
        if (!pattern.StartsWith("*.", StringComparison.Ordinal)) return false;
        int dot = name.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && name[(dot + 1)..] == pattern[2..];
    }

    private void ReloadIfChanged()
    {
        long now = _time.GetTimestamp();
        long next = Interlocked.Read(ref _nextCheck);
        if (now < next || Interlocked.CompareExchange(ref _nextCheck, now + (long)(RecheckInterval.TotalSeconds * _time.TimestampFrequency), next) != next)
            return;
        if (_pending is not null)
            RetryPending();
        foreach (var e in _entries)
        {
            var stamp = Stamp(e.Files);
            if (stamp == e.Stamp) continue;
            try
            {
                e.Replace(Load(e.Files), stamp);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                e.Stamp = stamp; // report once per change, not on every handshake
                ReloadFailed?.Invoke(e.Files, ex);
            }
        }
    }

    private void RetryPending()
    {
        IReadOnlyList<CertificateFiles>? loaded = null;
        lock (_replacing)
        {
            // ReplaceFiles may have given another set meanwhile.
            if (_pending is not { } pending) return;
            try
            {
                Use(pending);
                _pending = null;
                loaded = pending;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                // Still not loadable; the failure was reported when ReplaceFiles threw.
            }
        }
        if (loaded is not null)
            PendingFilesLoaded?.Invoke(loaded);
    }

    private static (DateTime, DateTime, long, long) Stamp(CertificateFiles f)
    {
        var c = new FileInfo(f.CertificatePath);
        var k = new FileInfo(f.KeyPath);
        return (c.Exists ? c.LastWriteTimeUtc : default, k.Exists ? k.LastWriteTimeUtc : default, c.Exists ? c.Length : -1, k.Exists ? k.Length : -1);
    }

    private static Loaded Load(CertificateFiles f)
    {
        if (!File.Exists(f.CertificatePath)) throw new FileNotFoundException($"{f.CertificatePath}: no such file");
        if (!File.Exists(f.KeyPath)) throw new FileNotFoundException($"{f.KeyPath}: no such file");
        var leaf = TlsCertificates.LoadPem(f.CertificatePath, f.KeyPath);
        var chain = TlsCertificates.LoadPemChain(f.CertificatePath);
        var intermediates = new X509Certificate2Collection();
        foreach (var c in chain)
        {
            if (c.Thumbprint != leaf.Thumbprint) intermediates.Add(c);
        }
        // offline: the chain is sent as the file gives it, no fetching of missing parts (AIA).
        return new Loaded(leaf, SslStreamCertificateContext.Create(leaf, intermediates, offline: true));
    }

    private sealed record Loaded(X509Certificate2 Certificate, SslStreamCertificateContext Context);

    private sealed class Entry
    {
        public Entry(CertificateFiles files, Loaded loaded)
        {
            Files = files;
            Stamp = CertificateSelector.Stamp(files);
            Certificate = loaded.Certificate;
            Context = loaded.Context;
            Names = NamesOf(loaded.Certificate);
        }

        public CertificateFiles Files { get; }
        public (DateTime, DateTime, long, long) Stamp { get; set; }
        public X509Certificate2 Certificate { get; private set; }
        public SslStreamCertificateContext Context { get; private set; }
        public string[] Names { get; private set; }

        public void Replace(Loaded loaded, (DateTime, DateTime, long, long) stamp)
        {
            // The previous certificate may still be in use by a handshake; it is left to the GC.
            Names = NamesOf(loaded.Certificate);
            Context = loaded.Context;
            Certificate = loaded.Certificate;
            Stamp = stamp;
        }

        private static string[] NamesOf(X509Certificate2 c)
        {
            var names = new List<string>();
            foreach (var ext in c.Extensions)
            {
                if (ext is X509SubjectAlternativeNameExtension san)
                    names.AddRange(san.EnumerateDnsNames().Select(n => n.ToLowerInvariant()));
            }
            if (names.Count == 0 && c.GetNameInfo(X509NameType.DnsName, false) is { Length: > 0 } cn)
                names.Add(cn.ToLowerInvariant());
            return [.. names];
        }
    }
}
