using System.Security.Cryptography;
using System.Text;
using Postern.Security.Sasl;
using Postern.Security.Tls;

namespace Postern.Imap.Tests.Server;

public class ScramTests
{
    private static async Task<string> AuthenticateAsync(TestClient c, ISaslClientMechanism mech)
    {
        byte[]? initial = mech.GetInitialResponse();
        await c.WriteAsync("a AUTHENTICATE " + mech.Name + (initial is null ? "" : " " + Convert.ToBase64String(initial)) + "\r\n");
        while (true)
        {
            string line = await c.ReadLineAsync();
            if (!line.StartsWith("+ ", StringComparison.Ordinal) && line != "+")
                return line;
            byte[] challenge = Convert.FromBase64String(line.Length > 2 ? line[2..] : "");
            if (mech is ScramClient scram && challenge.Length > 0 && Encoding.ASCII.GetString(challenge).StartsWith("v=", StringComparison.Ordinal))
            {
                scram.VerifyServerFinal(challenge);
                await c.WriteAsync("\r\n");
                continue;
            }
            await c.WriteAsync(Convert.ToBase64String(mech.Respond(challenge)) + "\r\n");
        }
    }

    [Theory]
    [InlineData("SHA256", true)]
    [InlineData("SHA256", false)]
    [InlineData("SHA1", true)]
    [InlineData("SHA1", false)]
    public async Task Scram_with_and_without_channel_binding(string hash, bool plus)
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync(login: false, tls: true);
        var alg = new HashAlgorithmName(hash);
        ScramClient mech = plus
            ? new ScramClient(alg, "alice", TestServer.Password, "tls-server-end-point", TlsChannelBinding.ComputeServerEndPoint(c.ServerCertificate!), clientSupportsChannelBinding: true)
            : new ScramClient(alg, "alice", TestServer.Password, clientSupportsChannelBinding: true);
        string result = await AuthenticateAsync(c, mech);
        // Without -PLUS while the server offers it, a client that supports binding is a downgrade (RFC 5802 §6).
        if (plus)
        {
            Assert.StartsWith("a OK", result);
            Assert.True(mech.ServerAuthenticated);
        }
        else
        {
            Assert.DoesNotContain("a OK", result);
        }
    }

    [Theory]
    [InlineData("SHA256")]
    [InlineData("SHA1")]
    public async Task Scram_plus_with_tls_exporter(string hash)
    {
        // RFC 9266: the default binding of TLS 1.3 clients.
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync(login: false, tls: true);
        byte[] exporter = TlsKeyingMaterial.ExportChannelBinding(c.Tls!)!;
        var mech = new ScramClient(new HashAlgorithmName(hash), "alice", TestServer.Password, TlsChannelBinding.TlsExporter, exporter, clientSupportsChannelBinding: true);
        Assert.StartsWith("a OK", await AuthenticateAsync(c, mech));
        Assert.True(mech.ServerAuthenticated);
    }

    [Fact]
    public async Task Scram_plus_with_wrong_exporter_fails()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync(login: false, tls: true);
        byte[] wrong = TlsKeyingMaterial.Export(c.Tls!, "EXPORTER-not-channel-binding", 32)!;
        var mech = new ScramClient(HashAlgorithmName.SHA256, "alice", TestServer.Password, TlsChannelBinding.TlsExporter, wrong, clientSupportsChannelBinding: true);
        Assert.Contains("NO [AUTHENTICATIONFAILED]", await AuthenticateAsync(c, mech));
    }

    [Fact]
    public async Task Scram_without_tls_on_loopback()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync(login: false);
        var mech = new ScramClient(HashAlgorithmName.SHA256, "alice@example.org", TestServer.Password);
        Assert.StartsWith("a OK", await AuthenticateAsync(c, mech));
    }

    [Fact]
    public async Task Scram_wrong_password_fails()
    {
        await using var s = await TestServer.StartAsync();
        await using var c = await s.ConnectAsync(login: false, tls: true);
        var mech = new ScramClient(HashAlgorithmName.SHA256, "alice", "nope");
        Assert.Contains("NO [AUTHENTICATIONFAILED]", await AuthenticateAsync(c, mech));
    }
}
