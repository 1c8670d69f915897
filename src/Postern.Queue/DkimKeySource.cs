// Which DKIM keys sign a domain's outgoing mail. Keys are files DATA/dkim/DOMAIN/SELECTOR.pem
// (PKCS#8, written by `postern quickstart` and `postern dkim`); each domain is signed with its
// newest key of each algorithm, so a message carries one Ed25519 and one RSA signature
// (RFC 8463 §4: verifiers that do not know Ed25519 still find the RSA one).
using System.Collections.Concurrent;
using Postern.Security.Dkim;

namespace Postern.Queue;

/// <summary>Gives the DKIM signing settings for a From domain.</summary>
public interface IDkimKeySource
{
    /// <summary>The signers for <paramref name="domain"/> (lower-case A-label), empty when it has no key.</summary>
    IReadOnlyList<DkimSignerOptions> SignersFor(string domain);
}

/// <summary>Reads keys from DATA/dkim/DOMAIN/SELECTOR.pem, again when the folder changes.</summary>
public sealed class FileDkimKeySource(string dataDirectory) : IDkimKeySource
{
    private readonly ConcurrentDictionary<string, (DateTime Stamp, IReadOnlyList<DkimSignerOptions> Signers)> _cache = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public IReadOnlyList<DkimSignerOptions> SignersFor(string domain)
    {
        domain = domain.TrimEnd('.').ToLowerInvariant();
        if (domain.Length == 0 || domain.Contains('/', StringComparison.Ordinal) || domain.Contains('\\', StringComparison.Ordinal) || domain.StartsWith('.'))
            return [];
        string dir = Path.Combine(dataDirectory, "dkim", domain);
        if (!Directory.Exists(dir)) return [];
        DateTime stamp = Directory.GetLastWriteTimeUtc(dir);
        if (_cache.TryGetValue(domain, out var cached) && cached.Stamp == stamp) return cached.Signers;
        var newest = new Dictionary<DkimKeyType, (DateTime Time, string Selector, DkimPrivateKey Key)>();
        foreach (string file in Directory.EnumerateFiles(dir, "*.pem"))
        {
            DkimPrivateKey key;
            try
            {
                key = DkimPrivateKey.FromPem(File.ReadAllText(file));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException or System.Security.Cryptography.CryptographicException)
            {
                continue;
            }
            DateTime t = File.GetLastWriteTimeUtc(file);
            if (newest.TryGetValue(key.KeyType, out var have) && have.Time > t)
            {
                key.Dispose();
                continue;
            }
            newest[key.KeyType] = (t, Path.GetFileNameWithoutExtension(file), key);
        }
        IReadOnlyList<DkimSignerOptions> signers = newest.OrderBy(k => k.Key == DkimKeyType.Ed25519 ? 0 : 1)
            .Select(k => new DkimSignerOptions { Domain = domain, Selector = k.Value.Selector, Key = k.Value.Key }).ToList();
        _cache[domain] = (stamp, signers);
        return signers;
    }
}
