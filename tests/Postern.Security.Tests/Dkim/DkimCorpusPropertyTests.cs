using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Postern.Dns;
using Postern.Security.Dkim;
using Postern.Tests.Shared;

namespace Postern.Security.Tests.Dkim;

/// <summary>
/// DKIM over real-world message shapes (the Mail corpus: folded and odd headers, 8-bit bodies, bare
/// line ends, missing final CRLF): each signed message verifies, with simple and relaxed
/// canonicalisation; and any mutation of a signed message gives a result with a reason, never an exception.
/// </summary>
public class DkimCorpusPropertyTests
{
    private static readonly Lazy<DkimPrivateKey> Key = new(DkimPrivateKey.GenerateEd25519);

    private static readonly byte[][] Corpus = Mutations.Corpus();

    private static InMemoryDnsResolver Dns()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("sel._domainkey.example.org", Key.Value.DnsRecordText());
        return dns;
    }

    // The signer refuses a message without a From field (RFC 6376 §5.4: From must be signed) or starting with a
    // folded line (it would join the signature field); those are left out.
    private static byte[]? Signed(byte[] message, DkimCanonicalization canonicalization)
    {
        var options = new DkimSignerOptions
        {
            Domain = "example.org",
            Selector = "sel",
            Key = Key.Value,
            HeaderCanonicalization = canonicalization,
            BodyCanonicalization = canonicalization,
        };
        try
        {
            return [.. Encoding.ASCII.GetBytes(new DkimSigner(options).Sign(message)), .. message];
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    [Theory]
    [InlineData(DkimCanonicalization.Simple)]
    [InlineData(DkimCanonicalization.Relaxed)]
    public async Task Every_corpus_message_verifies_after_signing(DkimCanonicalization canonicalization)
    {
        Assert.NotEmpty(Corpus);
        var verifier = new DkimVerifier(Dns());
        var failures = new List<string>();
        int signed = 0;
        foreach (byte[] message in Corpus)
        {
            if (Signed(message, canonicalization) is not { } withSignature) continue;
            signed++;
            IReadOnlyList<DkimSignatureResult> results = await verifier.VerifyAsync(withSignature);
            DkimSignatureResult? ours = results.FirstOrDefault(r => r.Domain == "example.org");
            if (ours?.Result != DkimResult.Pass)
                failures.Add($"{(ours is null ? "no result among " + results.Count + ": " + string.Join("; ", results.Select(r => r.Domain + " " + r.Result + " " + r.Reason)) : ours.Result + " " + ours.Reason)}: {Mutations.Show(message[..Math.Min(300, message.Length)])}");
        }
        Assert.Empty(failures);
        Assert.True(signed > Corpus.Length / 2, $"only {signed} of {Corpus.Length} messages could be signed");
    }

    [Fact]
    public void A_message_starting_with_a_folded_line_is_not_signed()
    {
        // Prepended, the signature field would absorb that line and no longer verify (found on the corpus message
        // nasty/continuation-first.eml).
        byte[] message = "  continuation before any field\r\nFrom: a@example.com\r\n\r\nx\r\n"u8.ToArray();
        var e = Assert.Throws<InvalidDataException>(() => new DkimSigner(new DkimSignerOptions { Domain = "example.org", Selector = "sel", Key = Key.Value }).Sign(message));
        Assert.Contains("folded line", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mutated_signed_messages_give_a_result_with_a_reason()
    {
        byte[][] seeds = [.. Corpus.Take(64).Select(m => Signed(m, DkimCanonicalization.Relaxed)).OfType<byte[]>(), .. Corpus.Skip(64).Take(64).Select(m => Signed(m, DkimCanonicalization.Simple)).OfType<byte[]>()];
        var verifier = new DkimVerifier(Dns());
        Prop.ForAll(Mutations.Of(seeds), input =>
        {
            IReadOnlyList<DkimSignatureResult> results;
            try
            {
                results = verifier.VerifyAsync(input).GetAwaiter().GetResult();
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"input {Mutations.Show(input)}: {e.GetType().Name}: {e.Message}", e);
            }
            return results.All(r => r.Result == DkimResult.Pass || !string.IsNullOrEmpty(r.Reason));
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(Mutations.Runs(1000)));
    }
}
