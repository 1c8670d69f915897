using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Postern.Dns;
using Postern.Security.Dane;

namespace Postern.Security.Tests.Dane;

/// <summary>Postern's DANE verdicts agree with OpenSSL's own DANE implementation (s_client -dane_tlsa_rrdata) on a live TLS server.</summary>
public class DaneOpenSslInteropTests
{
    private static readonly TestChain Chain = TestChain.Create();

    public static TheoryData<string, string, bool> Cases()
    {
        TestChain other = TestChain.Create();
        string Hex(X509Certificate2 c, byte s, byte m) => Convert.ToHexString(DaneVerifier.AssociationData(c, s, m));
        return new TheoryData<string, string, bool>
        {
            { "ee leaf key", "3 1 1 " + Hex(Chain.Leaf, 1, 1), true },
            { "ee leaf cert sha512", "3 0 2 " + Hex(Chain.Leaf, 0, 2), true },
            { "ee other key", "3 1 1 " + Hex(other.Leaf, 1, 1), false },
            { "ta intermediate 1", "2 0 1 " + Hex(Chain.Intermediate1, 0, 1), true },
            { "ta intermediate 2 key", "2 1 1 " + Hex(Chain.Intermediate2, 1, 1), true },
            { "ta root digest not sent", "2 0 1 " + Hex(Chain.Root, 0, 1), false },
            { "ta root in full", "2 0 0 " + Hex(Chain.Root, 0, 0), true },
            { "ta root key in full", "2 1 0 " + Hex(Chain.Root, 1, 0), true },
            { "ta other root in full", "2 0 0 " + Hex(other.Root, 0, 0), false },
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Verdict_agrees_with_openssl(string name, string rrdata, bool expected)
    {
        _ = name;
        string[] f = rrdata.Split(' ');
        var record = new TlsaRecord("_25._tcp.mx.example.org", 300, byte.Parse(f[0]), byte.Parse(f[1]), byte.Parse(f[2]), Convert.FromHexString(f[3]));
        // The server sends the leaf, intermediate 1 first and then 2 (not in chain order).
        X509Certificate2[] presented = [Chain.Leaf, Chain.Intermediate1, Chain.Intermediate2];
        bool ours = DaneVerifier.Verify([record], presented, ["mx.example.org"], DateTimeOffset.UtcNow).Verified;
        bool openssl = await OpenSslVerifiesAsync(rrdata);
        Assert.Equal(expected, openssl);
        Assert.Equal(openssl, ours);
    }

    private static async Task<bool> OpenSslVerifiesAsync(string rrdata)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var psi = new ProcessStartInfo("openssl")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (string a in new[] { "s_client", "-connect", $"127.0.0.1:{port}", "-servername", "mx.example.org",
                     "-dane_tlsa_domain", "mx.example.org", "-dane_tlsa_rrdata", rrdata, "-verify_return_error" })
            psi.ArgumentList.Add(a);
        using var proc = Process.Start(psi)!;
        try
        {
            using var socket = await listener.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(30));
            await using var server = new SslStream(socket.GetStream(), false);
            var context = SslStreamCertificateContext.Create(Chain.LeafWithKey(), [Chain.Intermediate1, Chain.Intermediate2], offline: true);
            try
            {
                await server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificateContext = context }).WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException)
            {
                // The client aborted the handshake: verification failed.
            }
            proc.StandardInput.Close();
            string output = await proc.StandardOutput.ReadToEndAsync() + await proc.StandardError.ReadToEndAsync();
            await proc.WaitForExitAsync();
            return output.Contains("Verification: OK", StringComparison.Ordinal) || output.Contains("Verify return code: 0 (ok)", StringComparison.Ordinal);
        }
        finally
        {
            if (!proc.HasExited)
                proc.Kill();
        }
    }
}
