using System.Net;
using Postern.Smtp.Tests.Interop;
using Postern.Testing;

namespace Postern.Smtp.Tests.Client;

/// <summary>
/// A Postfix instance (tests/Shared/PostfixLab) acting as the MX of test domains: smtpd on
/// <c>IP:25</c> of a loopback address, SMTPUTF8 on, every recipient of the domains delivered by
/// virtual(8) into one maildir.
/// </summary>
public sealed class PostfixMxInstance : IDisposable
{
    private readonly PostfixLab _lab;

    private PostfixMxInstance(PostfixLab lab) => _lab = lab;

    public string Dir => _lab.Dir;
    public IPAddress Address => _lab.Address;
    public string MailLog => _lab.MailLog;
    public string Maildir => Path.Combine(Dir, "mail", "box");

    /// <summary>The messages delivered so far.</summary>
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

    /// <summary>Waits (bounded) until <paramref name="count"/> messages were delivered.</summary>
    public async Task<List<string>> WaitForMessagesAsync(int count)
    {
        for (int i = 0; i < 300 && Messages().Count < count; i++)
            await Task.Delay(100);
        return Messages();
    }

    public string Log() => _lab.Log();

    /// <summary>Starts Postfix; with <paramref name="tlsKeyPem"/> and <paramref name="tlsChainPem"/> (leaf first, then what it should send) it offers STARTTLS.</summary>
    public static async Task<PostfixMxInstance> StartAsync(IPAddress address, string hostName, IEnumerable<string> domains, string? tlsKeyPem = null, string? tlsChainPem = null)
    {
        PostfixLab lab = await PostfixLab.StartAsync(address, 25, async dir =>
        {
            string mainCf = await PostfixLab.VirtualMailboxMainCfAsync(dir, hostName, domains);
            string tls = "";
            if (tlsKeyPem is not null && tlsChainPem is not null)
            {
                // Postfix ≥ 3.4: smtpd_tls_chain_files is the key, then the certificates in the order sent.
                string conf = Path.Combine(dir, "conf");
                Directory.CreateDirectory(conf);
                File.WriteAllText(Path.Combine(conf, "key.pem"), tlsKeyPem);
                File.WriteAllText(Path.Combine(conf, "chain.pem"), tlsChainPem);
                tls = $"""

                    smtpd_tls_security_level = may
                    smtpd_tls_chain_files = {conf}/key.pem, {conf}/chain.pem
                    smtpd_tls_loglevel = 1
                    """;
            }
            return mainCf + tls;
        });
        return new PostfixMxInstance(lab);
    }

    public void Dispose() => _lab.Dispose();
}
