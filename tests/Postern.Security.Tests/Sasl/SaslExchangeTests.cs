using System.Security.Cryptography;
using Postern.Security.Sasl;
using Postern.Security.Tests.Tls;
using Postern.Security.Tls;
using static Postern.Security.Tests.Sasl.SaslTestAccounts;

namespace Postern.Security.Tests.Sasl;

public class SaslExchangeTests
{
    private static readonly SaslCredentialLookup Accounts = Lookup(("alice@example.org", "s3cret pässword"), ("bob", "hunter2"));

    private static SaslServerOptions Options(IChannelBindingProvider? cb = null) =>
        new() { Lookup = Accounts, ChannelBinding = cb, AllowClearTextPasswords = true, OfferCramMd5 = true };

    public static TheoryData<string, bool> AllMechanisms() => new()
    {
        { "PLAIN", true }, { "PLAIN", false }, { "LOGIN", true }, { "LOGIN", false }, { "CRAM-MD5", false },
        { "SCRAM-SHA-1", true }, { "SCRAM-SHA-1", false }, { "SCRAM-SHA-256", true }, { "SCRAM-SHA-256", false },
    };

    private static ISaslClientMechanism Client(string mech, string user, string password) => mech switch
    {
        "PLAIN" => new PlainClient(user, password),
        "LOGIN" => new LoginClient(user, password),
        "CRAM-MD5" => new CramMd5Client(user, password),
        "SCRAM-SHA-1" => new ScramClient(HashAlgorithmName.SHA1, user, password),
        _ => new ScramClient(HashAlgorithmName.SHA256, user, password),
    };

    [Theory]
    [MemberData(nameof(AllMechanisms))]
    public async Task Every_mechanism_authenticates_and_rejects_a_wrong_password(string mech, bool initialResponse)
    {
        var server = SaslServerMechanisms.Create(mech, Options())!;
        var client = Client(mech, "alice@example.org", "s3cret pässword");
        var ok = await RunAsync(server, client, initialResponse);
        Assert.Equal(SaslStepKind.Success, ok.Kind);
        Assert.Equal("id-alice@example.org", ok.AccountId);
        Assert.True(client.ServerAuthenticated);

        var bad = await RunAsync(SaslServerMechanisms.Create(mech, Options())!, Client(mech, "alice@example.org", "wrong"), initialResponse);
        Assert.Equal(SaslStepKind.Failure, bad.Kind);
        Assert.Equal(SaslFailureKind.InvalidCredentials, bad.FailureKind);

        var unknown = await RunAsync(SaslServerMechanisms.Create(mech, Options())!, Client(mech, "nobody", "x"), initialResponse);
        Assert.Equal(SaslStepKind.Failure, unknown.Kind);
        Assert.Equal(SaslFailureKind.InvalidCredentials, unknown.FailureKind);
    }

    [Fact]
    public async Task Scram_server_first_for_unknown_user_looks_like_a_real_one()
    {
        var r = await new ScramServer(HashAlgorithmName.SHA256, false, Accounts, null, false).StepAsync(B("n,,n=nobody,r=abcdef"));
        Assert.Equal(SaslStepKind.Challenge, r.Kind);
        Assert.Matches("^r=abcdef[^,]+,s=[A-Za-z0-9+/=]{24},i=4096$", S(r.Data));
        var again = await new ScramServer(HashAlgorithmName.SHA256, false, Accounts, null, false).StepAsync(B("n,,n=nobody,r=abcdef"));
        Assert.Equal(S(r.Data).Split(',')[1], S(again.Data).Split(',')[1]); // same fake salt each time
    }

    [Theory]
    [InlineData("SCRAM-SHA-256-PLUS")]
    [InlineData("SCRAM-SHA-1-PLUS")]
    public async Task Plus_over_real_tls_with_matching_and_mismatching_binding(string mech)
    {
        await using var tls = await LoopbackTls.ConnectAsync();
        var provider = TlsChannelBinding.CreateProvider(tls.Server);
        var options = Options(provider);
        Assert.Contains(mech, SaslServerMechanisms.Advertised(options));
        var hash = mech.Contains("256", StringComparison.Ordinal) ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA1;
        byte[] clientCb = TlsChannelBinding.Get(tls.Client, TlsChannelBinding.TlsServerEndPoint)!;

        var client = new ScramClient(hash, "bob", "hunter2", TlsChannelBinding.TlsServerEndPoint, clientCb);
        var ok = await RunAsync(SaslServerMechanisms.Create(mech, options)!, client);
        Assert.Equal(SaslStepKind.Success, ok.Kind);
        Assert.True(client.ServerAuthenticated);

        // A man in the middle terminates TLS with another certificate: the client's binding differs.
        using var otherCert = TlsCertificates.CreateSelfSigned();
        byte[] mitmCb = TlsChannelBinding.ComputeServerEndPoint(otherCert)!;
        var bad = await RunAsync(SaslServerMechanisms.Create(mech, options)!, new ScramClient(hash, "bob", "hunter2", TlsChannelBinding.TlsServerEndPoint, mitmCb));
        Assert.Equal(SaslStepKind.Failure, bad.Kind);
        Assert.Equal(SaslFailureKind.ChannelBindingFailed, bad.FailureKind);

        var exporter = await RunAsync(SaslServerMechanisms.Create(mech, options)!, new ScramClient(hash, "bob", "hunter2", "tls-exporter", new byte[32]));
        Assert.Equal(SaslFailureKind.ChannelBindingFailed, exporter.FailureKind);
    }

    [Fact]
    public async Task Plus_is_not_offered_without_tls_and_y_flag_detects_downgrade()
    {
        Assert.DoesNotContain("SCRAM-SHA-256-PLUS", SaslServerMechanisms.Advertised(Options()));
        Assert.Null(SaslServerMechanisms.Create("SCRAM-SHA-256-PLUS", Options()));

        // No -PLUS advertised: "y" is fine.
        var yOk = await RunAsync(SaslServerMechanisms.Create("SCRAM-SHA-256", Options())!, new ScramClient(HashAlgorithmName.SHA256, "bob", "hunter2", clientSupportsChannelBinding: true));
        Assert.Equal(SaslStepKind.Success, yOk.Kind);

        // -PLUS advertised but the client saw none: downgrade (RFC 5802 §6).
        var withCb = Options(new FixedChannelBinding(new byte[32]));
        var down = await RunAsync(SaslServerMechanisms.Create("SCRAM-SHA-256", withCb)!, new ScramClient(HashAlgorithmName.SHA256, "bob", "hunter2", clientSupportsChannelBinding: true));
        Assert.Equal(SaslFailureKind.ChannelBindingFailed, down.FailureKind);

        // "p=" on a non-PLUS mechanism, and "n" on a -PLUS one.
        var pOnPlain = await SaslServerMechanisms.Create("SCRAM-SHA-256", withCb)!.StepAsync(B("p=tls-server-end-point,,n=bob,r=abc"));
        Assert.Equal(SaslFailureKind.ChannelBindingFailed, pOnPlain.FailureKind);
        var nOnPlus = await SaslServerMechanisms.Create("SCRAM-SHA-256-PLUS", withCb)!.StepAsync(B("n,,n=bob,r=abc"));
        Assert.Equal(SaslFailureKind.ChannelBindingFailed, nOnPlus.FailureKind);
    }

    [Theory]
    [InlineData("")]
    [InlineData("n")]
    [InlineData("x,,n=bob,r=abc")]
    [InlineData("n,,r=abc,n=bob")]
    [InlineData("n,,n=bob")]
    [InlineData("n,,n=bob,r=")]
    [InlineData("n,,n=bob,r=a b")]
    [InlineData("n,,m=ext,n=bob,r=abc")]
    [InlineData("n,,n=b=ZZob,r=abc")]
    [InlineData("n,b=x,n=bob,r=abc")]
    [InlineData("n,a=alice,n=bob,r=abc")]
    [InlineData("n,,n=,r=abc")]
    [InlineData("n,,n=bob,r=abc,")]
    [InlineData("n,,n=bob,r=abc,1=x")]
    public async Task Malformed_client_first_fails_cleanly(string message)
    {
        var server = new ScramServer(HashAlgorithmName.SHA256, false, Accounts, null, false);
        var r = await server.StepAsync(B(message));
        if (message.Length == 0)
        {
            Assert.Equal(SaslStepKind.Challenge, r.Kind);
            r = await server.StepAsync(B(message));
        }
        Assert.Equal(SaslStepKind.Failure, r.Kind);
        Assert.NotNull(r.FailureReason);
        Assert.Equal(SaslStepKind.Failure, (await server.StepAsync(B("c=biws,r=x,p=AAAA"))).Kind);
    }

    [Theory]
    [InlineData("c=biws,r={nonce}")]
    [InlineData("c=biws,p={proof}")]
    [InlineData("r={nonce},c=biws,p={proof}")]
    [InlineData("c=!!!,r={nonce},p={proof}")]
    [InlineData("c=biws,r={nonce},p=!!!")]
    [InlineData("c=biws,r={nonce},p=AAAA")]
    [InlineData("c=biws,r={nonce}X,p={proof}")]
    [InlineData("c=eSws,r={nonce},p={proof}")]
    [InlineData("c=biws,r={nonce},p={proof},x=1")]
    [InlineData("c=biws,r={nonce},,p={proof}")]
    public async Task Malformed_client_final_fails_cleanly(string template)
    {
        var server = new ScramServer(HashAlgorithmName.SHA256, false, Accounts, null, false);
        var client = new ScramClient(HashAlgorithmName.SHA256, "bob", "hunter2");
        var first = await server.StepAsync(client.GetInitialResponse());
        string real = S(client.Respond(first.Data));
        string nonce = real.Split(',')[1][2..], proof = real.Split(",p=")[1];
        var r = await server.StepAsync(B(template.Replace("{nonce}", nonce, StringComparison.Ordinal).Replace("{proof}", proof, StringComparison.Ordinal)));
        Assert.Equal(SaslStepKind.Failure, r.Kind);
    }

    [Fact]
    public async Task Scram_client_final_extensions_before_proof_are_accepted()
    {
        var server = new ScramServer(HashAlgorithmName.SHA256, false, Accounts, null, false);
        var first = await server.StepAsync(B("n,,n=bob,r=abc,x=ext"));
        Assert.Equal(SaslStepKind.Challenge, first.Kind);
    }

    [Fact]
    public async Task Replayed_client_final_does_not_authenticate()
    {
        var client = new ScramClient(HashAlgorithmName.SHA256, "bob", "hunter2", clientNonce: "fixednonce");
        var server1 = new ScramServer(HashAlgorithmName.SHA256, false, Accounts, null, false);
        byte[] clientFirst = client.GetInitialResponse()!;
        var first = await server1.StepAsync(clientFirst);
        byte[] clientFinal = client.Respond(first.Data);
        Assert.Equal(SaslStepKind.Success, (await server1.StepAsync(clientFinal)).Kind);
        // Same messages replayed to a new exchange: the server nonce differs, so the proof is stale.
        var server2 = new ScramServer(HashAlgorithmName.SHA256, false, Accounts, null, false);
        Assert.Equal(SaslStepKind.Challenge, (await server2.StepAsync(clientFirst)).Kind);
        Assert.Equal(SaslStepKind.Failure, (await server2.StepAsync(clientFinal)).Kind);
        // And a finished exchange accepts nothing more.
        Assert.Equal(SaslStepKind.Failure, (await server1.StepAsync(clientFinal)).Kind);
    }

    [Theory]
    [InlineData("PLAIN")]
    [InlineData("LOGIN")]
    [InlineData("CRAM-MD5")]
    [InlineData("SCRAM-SHA-256")]
    public async Task Huge_and_binary_inputs_fail_without_exception(string mech)
    {
        byte[] huge = new byte[1_000_000];
        Array.Fill(huge, (byte)'a');
        foreach (byte[] input in new[] { huge, [0xff, 0xfe, 0x00, 0x80], [0] })
        {
            var server = SaslServerMechanisms.Create(mech, Options())!;
            SaslStepResult r = await server.StepAsync(mech == "CRAM-MD5" ? null : input);
            for (int i = 0; i < 4 && r.Kind == SaslStepKind.Challenge; i++) r = await server.StepAsync(input);
            Assert.Equal(SaslStepKind.Failure, r.Kind);
        }
    }

    [Fact]
    public async Task Plain_rejects_malformed_messages()
    {
        foreach (string m in new[] { "bob", "\0bob", "\0bob\0", "\0\0hunter2", "x\0bob\0hunter2", "\0bob\0hunter2\0x" })
        {
            var r = await new PlainServer(Accounts).StepAsync(B(m));
            Assert.Equal(SaslStepKind.Failure, r.Kind);
        }
        var empty = new PlainServer(Accounts);
        Assert.Equal(SaslStepKind.Challenge, (await empty.StepAsync(null)).Kind);
        Assert.Equal(SaslStepKind.Success, (await empty.StepAsync(B("bob\0bob\0hunter2"))).Kind);
    }

    [Fact]
    public async Task Login_tolerates_spaces_around_user_name()
    {
        var server = new LoginServer(Accounts);
        Assert.Equal("Username:", S((await server.StepAsync(null)).Data));
        Assert.Equal("Password:", S((await server.StepAsync(B(" bob "))).Data));
        var r = await server.StepAsync(B("hunter2"));
        Assert.Equal(SaslStepKind.Success, r.Kind);
        Assert.Equal("bob", r.LoginName);
    }

    [Fact]
    public async Task CramMd5_refuses_accounts_without_the_secret_and_initial_responses()
    {
        var noCram = Lookup(("carol", "pw"));
        var secrets = Postern.Security.Passwords.PasswordSecrets.Create("pw", FastOptions with { IncludeCramMd5 = false });
        SaslCredentialLookup lookup = (l, _) => ValueTask.FromResult<SaslCredentials?>(new SaslCredentials("c", secrets));
        var server = new CramMd5Server(lookup, "mx.example");
        var c = await server.StepAsync(null);
        Assert.Matches("^<[0-9a-f]{16}\\.[0-9]+@mx\\.example>$", S(c.Data));
        var r = await server.StepAsync(new CramMd5Client("carol", "pw").Respond(c.Data));
        Assert.Equal(SaslFailureKind.MechanismUnavailable, r.FailureKind);
        Assert.Equal(SaslStepKind.Failure, (await new CramMd5Server(noCram, "x").StepAsync(B("carol 0123"))).Kind);
    }

    [Fact]
    public void Advertised_list_respects_policy()
    {
        var o = new SaslServerOptions { Lookup = Accounts };
        Assert.Equal(["SCRAM-SHA-256", "SCRAM-SHA-1"], SaslServerMechanisms.Advertised(o));
        Assert.Null(SaslServerMechanisms.Create("PLAIN", o));
        Assert.NotNull(SaslServerMechanisms.Create("scram-sha-256", o));
    }

    [Fact]
    public void Scram_client_rejects_bad_server_messages()
    {
        var c = new ScramClient(HashAlgorithmName.SHA256, "bob", "pw", clientNonce: "abc");
        c.GetInitialResponse();
        Assert.Throws<SaslClientException>(() => c.Respond(B("r=zzz,s=QSXCR+Q6sek8bf92,i=4096")));
        var c2 = new ScramClient(HashAlgorithmName.SHA256, "bob", "pw", clientNonce: "abc");
        c2.GetInitialResponse();
        c2.Respond(B("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096"));
        Assert.Throws<SaslClientException>(() => c2.Respond(B("v=AAAA")));
        Assert.False(c2.ServerAuthenticated);
    }
}
