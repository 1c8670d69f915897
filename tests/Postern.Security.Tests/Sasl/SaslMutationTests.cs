using System.Security.Cryptography;
using Postern.Security.Sasl;
using Postern.Security.Tls;
using static Postern.Security.Tests.Sasl.SaslTestAccounts;

namespace Postern.Security.Tests.Sasl;

/// <summary>Randomly corrupted messages: the server always answers with a result, never throws, never succeeds by accident.</summary>
public class SaslMutationTests
{
    private static readonly SaslCredentialLookup Accounts = Lookup(("bob", "hunter2"));
    // Mutated user names are unknown users, which cost a full default-strength hash each (timing-oracle defence), so PLAIN rounds are few.

    private static byte[] Mutate(byte[] input, Random rng)
    {
        var b = new List<byte>(input);
        int edits = rng.Next(1, 4);
        for (int i = 0; i < edits; i++)
        {
            int op = rng.Next(3);
            int pos = b.Count == 0 ? 0 : rng.Next(b.Count);
            byte value = (byte)(rng.Next(2) == 0 ? "=,anrcpvy\0"[rng.Next(10)] : rng.Next(256));
            if (op == 0 && b.Count > 0) b[pos] = value;
            else if (op == 1) b.Insert(pos, value);
            else if (b.Count > 0) b.RemoveAt(pos);
        }
        return [.. b];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Mutated_scram_messages_fail_cleanly(bool plus)
    {
        var rng = new Random(5802);
        var cb = new FixedChannelBinding(SHA256.HashData("cert"u8));
        string mech = plus ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
        for (int i = 0; i < 300; i++)
        {
            var client = plus
                ? new ScramClient(HashAlgorithmName.SHA256, "bob", "hunter2", TlsChannelBinding.TlsServerEndPoint, SHA256.HashData("cert"u8))
                : new ScramClient(HashAlgorithmName.SHA256, "bob", "hunter2");
            var server = SaslServerMechanisms.Create(mech, new SaslServerOptions { Lookup = Accounts, ChannelBinding = cb })!;
            byte[] first = client.GetInitialResponse()!;
            bool mutateFirst = i % 2 == 0;
            var r1 = await server.StepAsync(mutateFirst ? Mutate(first, rng) : first);
            if (r1.Kind != SaslStepKind.Challenge) continue;
            byte[] final;
            try
            {
                final = client.Respond(r1.Data);
            }
            catch (SaslClientException)
            {
                continue; // the mutation changed the nonce the client sees
            }
            byte[] sent = mutateFirst ? final : Mutate(final, rng);
            var r2 = await server.StepAsync(sent);
            if (r2.Kind == SaslStepKind.Success)
                Assert.True(mutateFirst || sent.AsSpan().SequenceEqual(final), "a corrupted client-final must not authenticate: " + Convert.ToHexString(sent) + " vs " + Convert.ToHexString(final));
        }
    }

    [Fact]
    public async Task Mutated_plain_and_cram_messages_fail_cleanly()
    {
        var rng = new Random(4616);
        byte[] plain = B("\0bob\0hunter2");
        for (int i = 0; i < 20; i++)
        {
            byte[] m = Mutate(plain, rng);
            var r = await new PlainServer(Accounts).StepAsync(m);
            Assert.NotEqual(SaslStepKind.Challenge, r.Kind);
            var cram = new CramMd5Server(Accounts, "x");
            var c = await cram.StepAsync(null);
            var r2 = await cram.StepAsync(Mutate(new CramMd5Client("bob", "hunter2").Respond(c.Data), rng));
            Assert.NotEqual(SaslStepKind.Challenge, r2.Kind);
        }
    }
}
