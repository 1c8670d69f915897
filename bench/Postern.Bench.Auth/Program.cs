// Sender-authentication benchmark: DKIM verifications and signatures per second for 10 KB
// and 1 MB messages (RSA-2048 and Ed25519), SPF evaluations per second with a warm cache,
// and body canonicalisation + SHA-256 in MB/s. One thread; each set runs for a fixed time
// after a warm-up. DNS answers come from memory so that only the work is measured.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Postern.Dns;
using Postern.Security.Dkim;
using Postern.Security.Spf;

double seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 3;

static byte[] MakeMessage(int size)
{
    var sb = new StringBuilder();
    sb.Append("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: Benchmark message\r\n");
    sb.Append("Date: Mon, 30 Nov 2026 06:00:00 +0000\r\nMessage-ID: <bench@example.org>\r\nMIME-Version: 1.0\r\n");
    sb.Append("Content-Type: text/plain; charset=utf-8\r\n\r\n");
    var rng = new Random(1);
    string[] words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "mail", "server", "delivery", "message"];
    while (sb.Length < size)
    {
        int n = 0;
        while (n < 70) { string w = words[rng.Next(words.Length)]; sb.Append(w).Append(' '); n += w.Length + 1; }
        sb.Length--;
        sb.Append("\r\n");
        if (rng.Next(10) == 0) sb.Append("\r\n");
    }
    return Encoding.ASCII.GetBytes(sb.ToString());
}

(double Rate, long Count) Run(string name, Func<long> op, string unit = "ops/s", double divisor = 1)
{
    var warm = Stopwatch.StartNew();
    while (warm.Elapsed.TotalSeconds < Math.Min(1, seconds / 3)) op();
    long count = 0, amount = 0;
    var sw = Stopwatch.StartNew();
    while (sw.Elapsed.TotalSeconds < seconds) { amount += op(); count++; }
    double rate = amount / divisor / sw.Elapsed.TotalSeconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-48} {rate,12:N0} {unit}  ({count:N0} runs in {sw.Elapsed.TotalSeconds:F1} s)"));
    return (rate, count);
}

Console.WriteLine($"postern auth bench: {Environment.ProcessorCount} cores, {seconds} s per set, one thread");
using DkimPrivateKey rsa = DkimPrivateKey.GenerateRsa(2048);
using DkimPrivateKey ed = DkimPrivateKey.GenerateEd25519();
var dns = new InMemoryDnsResolver();
dns.Zone.AddTxt("rsa._domainkey.example.org", rsa.DnsRecordText());
dns.Zone.AddTxt("ed._domainkey.example.org", ed.DnsRecordText());
var verifier = new DkimVerifier(dns);

foreach ((string label, int size) in new[] { ("10 KB", 10 * 1024), ("1 MB", 1024 * 1024) })
{
    byte[] message = MakeMessage(size);
    foreach ((string kind, DkimPrivateKey key) in new[] { ("RSA-2048", rsa), ("Ed25519", ed) })
    {
        var signer = new DkimSigner(new DkimSignerOptions { Domain = "example.org", Selector = kind == "RSA-2048" ? "rsa" : "ed", Key = key });
        Run($"DKIM sign {label} {kind}", () => { signer.Sign(message); return 1; }, "signatures/s");
        byte[] signed = [.. Encoding.ASCII.GetBytes(signer.Sign(message)), .. message];
        if (verifier.VerifyAsync(signed).GetAwaiter().GetResult()[0].Result != DkimResult.Pass) throw new InvalidOperationException("bench signature does not verify");
        Run($"DKIM verify {label} {kind}", () => { verifier.VerifyAsync(signed).GetAwaiter().GetResult(); return 1; }, "verifications/s");
    }
}

// Where verification time goes: the key lookup (warm, from memory), the RSA operation alone.
Run("  key TXT lookup (in-memory zone)", () => { dns.LookupTxtAsync("rsa._domainkey.example.org").AsTask().GetAwaiter().GetResult(); return 1; }, "lookups/s");
using (var rsaPair = RSA.Create(2048))
using (var rsaPub = RSA.Create())
{
    rsaPub.ImportSubjectPublicKeyInfo(rsaPair.ExportSubjectPublicKeyInfo(), out _);
    byte[] h = SHA256.HashData("x"u8);
    byte[] sig = rsaPair.SignHash(h, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    Run("  RSA-2048 VerifyHash alone", () => { rsaPub.VerifyHash(h, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1); return 1; }, "ops/s");
    Run("  RSA public key import alone", () => { using var k = RSA.Create(); k.ImportSubjectPublicKeyInfo(rsa.PublicKeyData(), out _); return 1; }, "ops/s");
}

{
    // The Ed25519 ceiling: OpenSSL's verification of a 32-byte hash (RFC 8463 signs the SHA-256 of the header data).
    byte[] edPrivate = OpenSslEd25519.GeneratePrivateKey();
    byte[] edPublic = OpenSslEd25519.GetPublicKey(edPrivate);
    byte[] edHash = SHA256.HashData("x"u8);
    byte[] edSignature = OpenSslEd25519.Sign(edPrivate, edHash);
    Run("  Ed25519 verify alone (OpenSSL, with key import)", () => { OpenSslEd25519.Verify(edPublic, edHash, edSignature); return 1; }, "ops/s");
}

byte[] body = MakeMessage(1024 * 1024);
foreach (DkimCanonicalization c in new[] { DkimCanonicalization.Simple, DkimCanonicalization.Relaxed })
    Run($"body canonicalise+SHA-256 1 MB {c.ToString().ToLowerInvariant()}", () => { DkimBodyHasher.Hash(c, HashAlgorithmName.SHA256, body); return body.Length; }, "MB/s", 1e6);
foreach (DkimCanonicalization c in new[] { DkimCanonicalization.Simple, DkimCanonicalization.Relaxed })
    Run($"  canonicalise only (l=0) 1 MB {c.ToString().ToLowerInvariant()}", () => { DkimBodyHasher.Hash(c, HashAlgorithmName.SHA256, body, 0); return body.Length; }, "MB/s", 1e6);
Run("SHA-256 alone 1 MB (ceiling)", () => { SHA256.HashData(body); return body.Length; }, "MB/s", 1e6);

// SPF: a typical policy with include, a, mx; the resolver's cache is warm (in-memory zone).
var spfDns = new InMemoryDnsResolver();
spfDns.Zone.AddTxt("example.org", "v=spf1 ip4:192.0.2.0/24 include:_spf.example.org mx a:out.example.org -all");
spfDns.Zone.AddTxt("_spf.example.org", "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 ~all");
spfDns.Zone.AddMx("example.org", 10, "mx.example.org");
spfDns.Zone.AddAddress("mx.example.org", "203.0.113.25");
spfDns.Zone.AddAddress("out.example.org", "203.0.113.7");
var spf = new SpfVerifier(spfDns);
IPAddress ip = IPAddress.Parse("203.0.113.7");
if (spf.CheckMailFromAsync(ip, "mx.example.org", "a@example.org").GetAwaiter().GetResult().Result != SpfResult.Pass) throw new InvalidOperationException("bench SPF does not pass");
Run("SPF check_host (include, mx, a; 4 lookups)", () => { spf.CheckMailFromAsync(ip, "mx.example.org", "a@example.org").GetAwaiter().GetResult(); return 1; }, "evaluations/s");
