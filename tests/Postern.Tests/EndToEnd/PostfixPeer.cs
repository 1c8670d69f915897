using System.Net;
using Postern.Testing;

namespace Postern.Tests;

/// <summary>
/// A Postfix instance (Debian's postfix, through the shared <see cref="PostfixLab"/>) for the
/// end-to-end test: smtpd on <c>IP:25</c> of a loopback address, the MX of <c>mailboxDomains</c>
/// (delivered by virtual(8) into one maildir), and a relay for clients on 127/8 whose mail for
/// other domains goes where <c>transports</c> says (Postfix resolves through the system's
/// resolver, which cannot be pointed at the test's DNS lab, so the test passes the address the
/// lab gives for the MX host).
/// </summary>
internal sealed class PostfixPeer : IDisposable
{
    private readonly PostfixLab _lab;

    private PostfixPeer(PostfixLab lab) => _lab = lab;

    public string Dir => _lab.Dir;
    public IPAddress Address => _lab.Address;
    public string Maildir => Path.Combine(Dir, "mail", "box");
    public string Log() => _lab.Log();

    public static bool Available => PostfixLab.Available;

    /// <summary>The messages delivered into the maildir so far.</summary>
    public List<string> Messages()
    {
        var list = new List<string>();
        foreach (string sub in new[] { "new", "cur" })
        {
            string d = Path.Combine(Maildir, sub);
            if (Directory.Exists(d)) list.AddRange(Directory.GetFiles(d).Select(File.ReadAllText));
        }
        return list;
    }

    /// <param name="transports">Postfix transport(5) entries, e.g. <c>example.test smtp:[127.0.0.5]:2525</c>.</param>
    /// <param name="extraMainCf">More main.cf lines (TLS client settings).</param>
    public static async Task<PostfixPeer> StartAsync(IPAddress address, string hostName, IEnumerable<string> mailboxDomains, IEnumerable<string> transports, string extraMainCf = "")
    {
        PostfixLab lab = await PostfixLab.StartAsync(address, 25, async dir =>
        {
            return await PostfixLab.VirtualMailboxMainCfAsync(dir, hostName, mailboxDomains) + $"""

                smtp_address_preference = ipv4
                transport_maps = inline:{"{"}{string.Join(", ", transports.Select(t => "{ " + t.Replace(" ", " = ", StringComparison.Ordinal) + " }"))}{"}"}
                {extraMainCf}
                """;
        });
        return new PostfixPeer(lab);
    }

    public void Dispose() => _lab.Dispose();
}
