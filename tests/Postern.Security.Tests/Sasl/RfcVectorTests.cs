using System.Security.Cryptography;
using Postern.Security.Sasl;
using static Postern.Security.Tests.Sasl.SaslTestAccounts;

namespace Postern.Security.Tests.Sasl;

public class RfcVectorTests
{
    [Fact]
    public async Task Rfc5802_ScramSha1_example_server()
    {
        var lookup = RfcLookup("user", "pencil", "QSXCR+Q6sek8bf92", "W22ZaJ0SNY7soEsUEjb6gQ==");
        var server = new ScramServer(HashAlgorithmName.SHA1, false, lookup, null, false) { ServerNonceOverride = "3rfcNHYJY1ZVvWVs7j" };
        var first = await server.StepAsync(B("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"));
        Assert.Equal(SaslStepKind.Challenge, first.Kind);
        Assert.Equal("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096", S(first.Data));
        var final = await server.StepAsync(B("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="));
        Assert.Equal(SaslStepKind.Success, final.Kind);
        Assert.Equal("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", S(final.Data));
        Assert.Equal("acct-1", final.AccountId);
    }

    [Fact]
    public void Rfc5802_ScramSha1_example_client()
    {
        var client = new ScramClient(HashAlgorithmName.SHA1, "user", "pencil", clientNonce: "fyko+d2lbbFgONRv9qkxdawL");
        Assert.Equal("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", S(client.GetInitialResponse()!));
        var final = client.Respond(B("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"));
        Assert.Equal("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", S(final));
        client.Respond(B("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="));
        Assert.True(client.ServerAuthenticated);
    }

    [Fact]
    public async Task Rfc7677_ScramSha256_example_server_and_client()
    {
        var lookup = RfcLookup("user", "pencil", "QSXCR+Q6sek8bf92", "W22ZaJ0SNY7soEsUEjb6gQ==");
        var server = new ScramServer(HashAlgorithmName.SHA256, false, lookup, null, false) { ServerNonceOverride = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" };
        var client = new ScramClient(HashAlgorithmName.SHA256, "user", "pencil", clientNonce: "rOprNGfwEbeRWgbNEkqO");
        var first = await server.StepAsync(client.GetInitialResponse());
        Assert.Equal("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", S(first.Data));
        var clientFinal = client.Respond(first.Data);
        Assert.Equal("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", S(clientFinal));
        var final = await server.StepAsync(clientFinal);
        Assert.Equal(SaslStepKind.Success, final.Kind);
        Assert.Equal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", S(final.Data));
        client.Respond(final.Data);
        Assert.True(client.ServerAuthenticated);
    }

    [Fact]
    public async Task Rfc2195_CramMd5_example()
    {
        var client = new CramMd5Client("tim", "tanstaaftanstaaf");
        const string challenge = "<1896.697170952@postoffice.reston.mci.net>";
        Assert.Equal("tim b913a602c7eda7a495b4e6e7334d3890", S(client.Respond(B(challenge))));

        var server = new CramMd5Server(Lookup(("tim", "tanstaaftanstaaf")), "x") { ChallengeOverride = challenge };
        var c = await server.StepAsync(null);
        Assert.Equal(challenge, S(c.Data));
        var r = await server.StepAsync(B("tim b913a602c7eda7a495b4e6e7334d3890"));
        Assert.Equal(SaslStepKind.Success, r.Kind);
        Assert.Equal("tim", r.LoginName);
    }

    [Fact]
    public async Task Rfc4616_Plain_examples()
    {
        var lookup = Lookup(("tim", "tanstaaftanstaaf"), ("Kurt", "xipj3plmq"));
        var ok = await new PlainServer(lookup).StepAsync(B("\0tim\0tanstaaftanstaaf"));
        Assert.Equal(SaslStepKind.Success, ok.Kind);
        Assert.Equal("id-tim", ok.AccountId);
        // RFC 4616 §4 example 2: authorizing as another identity ("Ursel") is refused by policy.
        var other = await new PlainServer(lookup).StepAsync(B("Ursel\0Kurt\0xipj3plmq"));
        Assert.Equal(SaslStepKind.Failure, other.Kind);
        var same = await new PlainServer(lookup).StepAsync(B("Kurt\0Kurt\0xipj3plmq"));
        Assert.Equal(SaslStepKind.Success, same.Kind);
    }
}
