using System.Diagnostics;
using System.Security.Cryptography;
using Postern.Security.Sasl;
using static Postern.Security.Tests.Sasl.SaslTestAccounts;

namespace Postern.Security.Tests.Peers;

/// <summary>Our server against an independent client written with Python's hashlib/hmac (Debian's /usr/bin/python3).</summary>
public class PythonSaslPeerTests
{
    private const string Python = "/usr/bin/python3";
    private static readonly string Script = Path.Combine(AppContext.BaseDirectory, "Peers", "sasl_peer.py");
    private static readonly SaslCredentialLookup Accounts = Lookup(("mjölnir@example.org", "Pass word, with = signs"));

    private static Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Script);
        foreach (string a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private static async Task<byte[]> ReadAsync(Process p) => Convert.FromBase64String((await p.StandardOutput.ReadLineAsync())!);

    private static async Task WriteAsync(Process p, byte[] data)
    {
        await p.StandardInput.WriteLineAsync(Convert.ToBase64String(data));
        await p.StandardInput.FlushAsync();
    }

    [Theory]
    [InlineData("sha1")]
    [InlineData("sha256")]
    public async Task Python_scram_client_authenticates_and_verifies_server(string alg)
    {
        Assert.True(File.Exists(Python), "Debian python3 is required (scripts/test-packages.txt)");
        using var p = Start("scram", alg, "mjölnir@example.org", "Pass word, with = signs");
        try
        {
            var server = new ScramServer(alg == "sha1" ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256, false, Accounts, null, false);
            var first = await server.StepAsync(await ReadAsync(p));
            Assert.Equal(SaslStepKind.Challenge, first.Kind);
            await WriteAsync(p, first.Data);
            var final = await server.StepAsync(await ReadAsync(p));
            Assert.Equal(SaslStepKind.Success, final.Kind);
            await WriteAsync(p, final.Data);
            Assert.Equal("OK", await p.StandardOutput.ReadLineAsync());
        }
        finally
        {
            if (!p.HasExited) p.Kill();
        }
    }

    [Fact]
    public async Task Python_cram_md5_client_authenticates()
    {
        using var p = Start("cram", "mjölnir@example.org", "Pass word, with = signs");
        try
        {
            var server = new CramMd5Server(Accounts, "localhost");
            var challenge = await server.StepAsync(null);
            await WriteAsync(p, challenge.Data);
            var r = await server.StepAsync(await ReadAsync(p));
            Assert.Equal(SaslStepKind.Success, r.Kind);
        }
        finally
        {
            if (!p.HasExited) p.Kill();
        }
    }
}
