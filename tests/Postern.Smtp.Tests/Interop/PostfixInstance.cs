using System.Net;
using System.Net.Sockets;
using Postern.Testing;

namespace Postern.Smtp.Tests.Interop;

/// <summary>
/// A Postfix instance (tests/Shared/PostfixLab) listening on a free loopback port and relaying
/// everything to <c>relayhost</c> (the Postern server under test).
/// </summary>
public sealed class PostfixInstance : IDisposable
{
    private readonly PostfixLab _lab;

    private PostfixInstance(PostfixLab lab) => _lab = lab;

    public string Dir => _lab.Dir;
    public int Port => _lab.Port;
    public string MailLog => _lab.MailLog;

    public static bool Available => PostfixLab.Available;

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static async Task<PostfixInstance> StartAsync(int relayPort)
    {
        PostfixLab lab = await PostfixLab.StartAsync(IPAddress.Loopback, FreePort(), _ => Task.FromResult($"""
            myhostname = relay.test
            mydomain = test
            myorigin = relay.test
            mydestination =
            relayhost = [127.0.0.1]:{relayPort}
            mynetworks = 127.0.0.0/8
            smtpd_relay_restrictions = permit_mynetworks, reject
            local_recipient_maps =
            smtputf8_enable = yes
            smtp_tls_security_level = may
            smtp_tls_loglevel = 1
            smtp_connection_cache_on_demand = yes
            """));
        return new PostfixInstance(lab);
    }

    public void Dispose() => _lab.Dispose();
}
