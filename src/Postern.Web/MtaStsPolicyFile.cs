using System.Security.Cryptography;
using System.Text;
using Postern.Security.MtaSts;

namespace Postern.Web;

/// <summary>
/// The served MTA-STS policy file and its id. The id is a digest of the file, so it changes exactly
/// when the policy does (RFC 8461 §3.1: senders fetch the policy again only when the id changes);
/// the DNS records printed for the <c>_mta-sts</c> TXT record and the file served here come from
/// the same <see cref="MtaStsPolicy"/> and so always agree.
/// </summary>
public static class MtaStsPolicyFile
{
    /// <summary>The well-known path of the policy (RFC 8461 §3.2).</summary>
    public const string Path = "/.well-known/mta-sts.txt";

    /// <summary>The file body as served (CRLF lines, RFC 8461 §3.2).</summary>
    public static string Text(MtaStsPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.Format();
    }

    /// <summary>The policy id for the TXT record: 20 hex digits of the SHA-256 of the file (1 to 32 letters and digits, RFC 8461 §3.1).</summary>
    public static string Id(MtaStsPolicy policy) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(Text(policy))))[..20];

    /// <summary>The TXT record text of <c>_mta-sts.DOMAIN</c>.</summary>
    public static string Record(MtaStsPolicy policy) => "v=STSv1; id=" + Id(policy);
}
