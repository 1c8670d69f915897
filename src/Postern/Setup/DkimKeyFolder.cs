// DKIM private keys are files, DATA/dkim/DOMAIN/SELECTOR.pem (PKCS#8, mode 0600), not database
// rows: secrets stay out of the database (which tools, exports and support requests touch), and
// `postern backup` copies them with the rest of the data folder. The outgoing queue signs with every
// .pem directly in a domain's folder; a key taken out of use moves to retired/, never deleted, so
// that an operator can put it back while its DNS record is still published.
using System.Globalization;
using Postern.Security.Dkim;

namespace Postern.Setup;

/// <summary>One DKIM key file of a domain.</summary>
/// <param name="Selector">The selector (file name without .pem).</param>
/// <param name="Path">The PEM file.</param>
/// <param name="Algorithm">ed25519 or rsa-BITS.</param>
/// <param name="Created">When the file was written (UTC).</param>
/// <param name="Record">The TXT record text of its public key (v=DKIM1; k=...; p=...).</param>
internal sealed record DkimKeyFile(string Selector, string Path, string Algorithm, DateTime Created, string Record);

/// <summary>The DKIM key files of the data folder.</summary>
internal static class DkimKeyFolder
{
    public const string Folder = "dkim";
    public const string RetiredFolder = "retired";

    public static string For(string dataDirectory, string domain) => Path.Combine(dataDirectory, Folder, domain);

    /// <summary>The keys in use for a domain (the .pem files of its folder), by selector; unreadable files are reported in <paramref name="problems"/>.</summary>
    public static IReadOnlyList<DkimKeyFile> List(string dataDirectory, string domain, List<string>? problems = null)
    {
        string folder = For(dataDirectory, domain);
        var list = new List<DkimKeyFile>();
        if (!Directory.Exists(folder)) return list;
        foreach (string file in Directory.EnumerateFiles(folder, "*.pem").Order(StringComparer.Ordinal))
        {
            try
            {
                using var key = DkimPrivateKey.FromPem(File.ReadAllText(file));
                list.Add(Describe(file, key));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException or System.Security.Cryptography.CryptographicException)
            {
                problems?.Add($"{file}: not a usable DKIM key: {e.Message}");
            }
        }
        return list;
    }

    private static DkimKeyFile Describe(string file, DkimPrivateKey key) => new(
        Path.GetFileNameWithoutExtension(file), file,
        key.KeyType == DkimKeyType.Ed25519 ? "ed25519" : "rsa-" + key.KeySizeBits.ToString(CultureInfo.InvariantCulture),
        File.GetLastWriteTimeUtc(file), key.DnsRecordText());

    /// <summary>
    /// Generates a key under a new selector named by year, month and type (202611e for Ed25519, 202611r for RSA,
    /// then 202611e2...), never reusing a selector of the folder or of retired/.
    /// </summary>
    public static DkimKeyFile Generate(string dataDirectory, string domain, bool rsa, int rsaBits = 2048)
    {
        string folder = For(dataDirectory, domain);
        Directory.CreateDirectory(folder);
        string baseName = DateTime.UtcNow.ToString("yyyyMM", CultureInfo.InvariantCulture) + (rsa ? "r" : "e");
        string selector = baseName;
        for (int n = 2; Exists(folder, selector); n++)
            selector = baseName + n.ToString(CultureInfo.InvariantCulture);
        using var key = rsa ? DkimPrivateKey.GenerateRsa(rsaBits) : DkimPrivateKey.GenerateEd25519();
        string path = Path.Combine(folder, selector + ".pem");
        HostKeys.WritePrivate(path, key.ToPem());
        return Describe(path, key);
    }

    private static bool Exists(string folder, string selector) =>
        File.Exists(Path.Combine(folder, selector + ".pem")) ||
        (Directory.Exists(Path.Combine(folder, RetiredFolder)) &&
         Directory.EnumerateFiles(Path.Combine(folder, RetiredFolder), selector + "*.pem").Any(f =>
             Path.GetFileNameWithoutExtension(f) == selector || Path.GetFileNameWithoutExtension(f).StartsWith(selector + "-", StringComparison.Ordinal)));

    /// <summary>A selector as RFC 6376 §3.1 allows (sub-domain labels); also keeps file names inside the folder.</summary>
    public static bool IsSelector(string selector) =>
        selector.Length is > 0 and <= 63 && selector.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_') &&
        selector[0] != '.' && selector[^1] != '.' && !selector.Contains("..", StringComparison.Ordinal);

    /// <summary>Moves a key to retired/ (SELECTOR.pem, or SELECTOR-TIME.pem when that exists); returns the new path, or null when there is no such key.</summary>
    public static string? Retire(string dataDirectory, string domain, string selector)
    {
        string folder = For(dataDirectory, domain);
        string file = Path.Combine(folder, selector + ".pem");
        if (!IsSelector(selector) || !File.Exists(file)) return null;
        string retired = Path.Combine(folder, RetiredFolder);
        Directory.CreateDirectory(retired);
        string target = Path.Combine(retired, selector + ".pem");
        if (File.Exists(target))
            target = Path.Combine(retired, selector + "-" + DateTime.UtcNow.ToString("yyyyMMddTHHmmssZ", CultureInfo.InvariantCulture) + ".pem");
        File.Move(file, target);
        return target;
    }
}
