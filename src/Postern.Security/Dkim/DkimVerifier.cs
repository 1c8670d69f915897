// DKIM verification, RFC 6376 §6 with RFC 8301 (no rsa-sha1, RSA keys of 1024 bits or
// more) and RFC 8463 (ed25519-sha256). Keys are fetched first, concurrently; the body is
// then read once, feeding one hasher per distinct (canonicalisation, hash, l=) among the
// signatures that still can verify, so a 1 MB body is streamed, not held.
using System.Buffers;
using System.Security.Cryptography;
using Postern.Dns;

namespace Postern.Security.Dkim;

/// <summary>Per-signature results (RFC 8601 §2.7.1).</summary>
public enum DkimResult
{
    /// <summary>The message was not signed.</summary>
    None,
    /// <summary>The signature verified.</summary>
    Pass,
    /// <summary>The signature did not verify (body or header hash mismatch).</summary>
    Fail,
    /// <summary>The signature verified but does not vouch for the whole message (l=, testing key).</summary>
    Neutral,
    /// <summary>The signature is valid but not acceptable by local policy.</summary>
    Policy,
    /// <summary>The key could not be fetched for now.</summary>
    TempError,
    /// <summary>The signature or key is unusable (syntax, revoked, weak, expired...).</summary>
    PermError,
}

/// <summary>Verification settings.</summary>
public sealed class DkimVerifierOptions
{
    /// <summary>Signatures verified per message; more are reported as permerror.</summary>
    public int MaxSignatures { get; init; } = 10;

    /// <summary>Smallest RSA key accepted (RFC 8301 §3.2: 1024).</summary>
    public int MinRsaKeyBits { get; init; } = 1024;

    /// <summary>Largest header section read from a stream.</summary>
    public int MaxHeaderBytes { get; init; } = 1024 * 1024;

    /// <summary>Tolerated clock difference for t= in the future and x= in the past.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Clock for x= expiry.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>The result of one DKIM-Signature field.</summary>
public sealed class DkimSignatureResult
{
    /// <summary>The result.</summary>
    public required DkimResult Result { get; init; }

    /// <summary>Why the result is not pass (null for pass).</summary>
    public string? Reason { get; init; }

    /// <summary>The parsed signature, or null when the field could not be parsed.</summary>
    public DkimSignatureHeader? Signature { get; init; }

    /// <summary>Signing domain (d=), or empty.</summary>
    public string Domain => Signature?.Domain ?? "";

    /// <summary>Selector (s=), or empty.</summary>
    public string Selector => Signature?.Selector ?? "";

    /// <summary>The key record used, when it was fetched and parsed.</summary>
    public DkimKeyRecord? Key { get; init; }

    /// <summary>Key size in bits (RSA modulus, 256 for Ed25519), or 0.</summary>
    public int KeyBits { get; init; }

    /// <summary>Whether the key record came from a DNSSEC-authentic answer.</summary>
    public bool KeyDnssecAuthentic { get; init; }

    /// <summary>Whether the signature is valid cryptographically (pass, or neutral only because of l= or t=y).</summary>
    public bool Valid { get; init; }

    /// <inheritdoc/>
    public override string ToString() => $"dkim={Result.ToString().ToLowerInvariant()} d={Domain} s={Selector}{(Reason is null ? "" : " (" + Reason + ")")}";
}

/// <summary>Verifies the DKIM signatures of messages.</summary>
public sealed class DkimVerifier
{
    private const string FieldName = "DKIM-Signature";
    private readonly IDnsResolver _dns;
    private readonly DkimVerifierOptions _options;

    /// <summary>Creates a verifier.</summary>
    public DkimVerifier(IDnsResolver dns, DkimVerifierOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dns);
        _dns = dns;
        _options = options ?? new DkimVerifierOptions();
    }

    /// <summary>Verifies every signature of a message held in memory. An unsigned message gives an empty list.</summary>
    public Task<IReadOnlyList<DkimSignatureResult>> VerifyAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        int body = DkimHeaderBlock.FindBodyOffset(message.Span);
        DkimHeaderBlock block = DkimHeaderBlock.Parse(message, body);
        return VerifyAsync(block, null, cancellationToken);
    }

    /// <summary>Verifies every signature of a message read from a stream; the body is streamed.</summary>
    public async Task<IReadOnlyList<DkimSignatureResult>> VerifyAsync(Stream message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        DkimHeaderBlock? block = await DkimHeaderBlock.ReadAsync(message, _options.MaxHeaderBytes, cancellationToken).ConfigureAwait(false);
        if (block is null)
            return [new DkimSignatureResult { Result = DkimResult.PermError, Reason = $"header section longer than {_options.MaxHeaderBytes} bytes" }];
        return await VerifyAsync(block, message, cancellationToken).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<DkimSignatureResult>> VerifyAsync(DkimHeaderBlock block, Stream? rest, CancellationToken cancellationToken)
    {
        var sigFields = new List<int>();
        for (int i = 0; i < block.Fields.Count; i++)
            if (block.Fields[i].Name.Equals(FieldName, StringComparison.OrdinalIgnoreCase)) sigFields.Add(i);
        if (sigFields.Count == 0) return [];

        var pending = new Pending?[sigFields.Count];
        var results = new DkimSignatureResult?[sigFields.Count];
        var lookups = new List<Task>();
        DateTimeOffset now = _options.TimeProvider.GetUtcNow();
        for (int n = 0; n < sigFields.Count; n++)
        {
            if (n >= _options.MaxSignatures)
            {
                results[n] = new DkimSignatureResult { Result = DkimResult.PermError, Reason = $"more than {_options.MaxSignatures} signatures; not verified" };
                continue;
            }
            if (!DkimSignatureHeader.TryParse(block.FieldValue(sigFields[n]), out DkimSignatureHeader? sig, out string? error))
            {
                results[n] = new DkimSignatureResult { Result = DkimResult.PermError, Reason = error };
                continue;
            }
            string? refused = Refuse(sig, now);
            if (refused is not null)
            {
                results[n] = new DkimSignatureResult { Result = DkimResult.PermError, Reason = refused, Signature = sig };
                continue;
            }
            var p = new Pending(sig, sigFields[n]);
            pending[n] = p;
            lookups.Add(LookupKeyAsync(p, cancellationToken));
        }
        await Task.WhenAll(lookups).ConfigureAwait(false);
        for (int n = 0; n < pending.Length; n++)
            if (pending[n] is { Failure: not null } p) { results[n] = p.Failure; pending[n] = null; }

        // One hasher per distinct body hash computation.
        var hashers = new Dictionary<(DkimCanonicalization, HashAlgorithmName, long), DkimBodyHasher>();
        try
        {
            foreach (Pending? p in pending)
            {
                if (p is null) continue;
                var key = (p.Signature.BodyCanonicalization, p.Signature.Hash, p.Signature.BodyLength ?? long.MaxValue);
                if (!hashers.TryGetValue(key, out DkimBodyHasher? h)) hashers[key] = h = new DkimBodyHasher(key.Item1, key.Item2, key.Item3);
                p.Hasher = h;
            }
            if (hashers.Count > 0)
            {
                ReadOnlyMemory<byte> start = block.Bytes[block.BodyOffset..];
                foreach (DkimBodyHasher h in hashers.Values) h.Append(start.Span);
                if (rest is not null)
                {
                    byte[] buf = ArrayPool<byte>.Shared.Rent(64 * 1024);
                    try
                    {
                        int n;
                        while ((n = await rest.ReadAsync(buf, cancellationToken).ConfigureAwait(false)) > 0)
                            foreach (DkimBodyHasher h in hashers.Values) h.Append(buf.AsSpan(0, n));
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(buf);
                    }
                }
                var hashes = new Dictionary<DkimBodyHasher, (byte[] Hash, long Length)>();
                foreach (DkimBodyHasher h in hashers.Values) hashes[h] = (h.Finish(), h.CanonicalLength);
                for (int n = 0; n < pending.Length; n++)
                    if (pending[n] is { } p) results[n] = Finish(block, p, hashes[p.Hasher!].Hash, hashes[p.Hasher!].Length);
            }
        }
        finally
        {
            foreach (DkimBodyHasher h in hashers.Values) h.Dispose();
        }
        return [.. results.Select(r => r!)];
    }

    /// <summary>Signatures refused before any lookup (RFC 8301, x=, t=).</summary>
    private string? Refuse(DkimSignatureHeader sig, DateTimeOffset now)
    {
        if (sig.Algorithm == DkimAlgorithm.RsaSha1) return "rsa-sha1 is not accepted (RFC 8301)";
        if (sig.Expiration is { } x && x + _options.ClockSkew < now) return "signature expired (x=)";
        return null;
    }

    private sealed class Pending(DkimSignatureHeader signature, int fieldIndex)
    {
        public DkimSignatureHeader Signature { get; } = signature;
        public int FieldIndex { get; } = fieldIndex;
        public DkimKeyRecord? Key;
        public RSA? Rsa;
        public bool Authentic;
        public DkimSignatureResult? Failure;
        public DkimBodyHasher? Hasher;
    }

    /// <summary>Fetches and checks the key (RFC 6376 §6.1.2).</summary>
    private async Task LookupKeyAsync(Pending p, CancellationToken cancellationToken)
    {
        DkimSignatureHeader sig = p.Signature;
        string name = sig.Selector + "._domainkey." + sig.Domain;
        DnsResult<TxtRecord> txt = await _dns.LookupTxtAsync(name, cancellationToken).ConfigureAwait(false);
        DkimSignatureResult Fail(DkimResult r, string reason, DkimKeyRecord? key = null) =>
            new() { Result = r, Reason = reason, Signature = sig, Key = key, KeyDnssecAuthentic = txt.Authentic };
        if (txt.IsTemporaryFailure) { p.Failure = Fail(DkimResult.TempError, "key lookup failed: " + txt.Describe()); return; }
        if (txt.Records.Count == 0) { p.Failure = Fail(DkimResult.PermError, $"no key record at {name}"); return; }
        DkimKeyRecord? key = null;
        string? error = null;
        foreach (TxtRecord r in txt.Records)
            if (DkimKeyRecord.TryParse(r.Text, out key, out error)) break;
        if (key is null) { p.Failure = Fail(DkimResult.PermError, $"invalid key record at {name}: {error}"); return; }
        if (key.IsRevoked) { p.Failure = Fail(DkimResult.PermError, "key revoked (empty p=)", key); return; }
        if (key.HashAlgorithms is { } hs && !hs.Contains(sig.HashName)) { p.Failure = Fail(DkimResult.PermError, $"key does not allow {sig.HashName} (h=)", key); return; }
        if (!key.ServiceTypes.Contains("*") && !key.ServiceTypes.Contains("email")) { p.Failure = Fail(DkimResult.PermError, "key is not for email (s=)", key); return; }
        bool wantEd = sig.Algorithm == DkimAlgorithm.Ed25519Sha256;
        if (wantEd != (key.KeyType == DkimKeyType.Ed25519)) { p.Failure = Fail(DkimResult.PermError, "key type (k=) does not match the algorithm (a=)", key); return; }
        if (key.StrictIdentity)
        {
            // t=s: the i= domain must be d= itself (RFC 6376 §3.6.1).
            string idDomain = sig.Identity[(sig.Identity.LastIndexOf('@') + 1)..];
            if (!idDomain.Equals(sig.Domain, StringComparison.OrdinalIgnoreCase)) { p.Failure = Fail(DkimResult.PermError, "key forbids subdomains in i= (t=s)", key); return; }
        }
        if (wantEd)
        {
            if (key.PublicKey.Length != OpenSslEd25519.KeySize) { p.Failure = Fail(DkimResult.PermError, "Ed25519 key is not 32 bytes", key); return; }
        }
        else
        {
            RSA rsa = RSA.Create();
            try
            {
                try { rsa.ImportSubjectPublicKeyInfo(key.PublicKey, out _); }
                catch (CryptographicException) { rsa.ImportRSAPublicKey(key.PublicKey, out _); }
            }
            catch (CryptographicException)
            {
                rsa.Dispose();
                p.Failure = Fail(DkimResult.PermError, "p= is not an RSA public key", key);
                return;
            }
            if (rsa.KeySize < _options.MinRsaKeyBits)
            {
                p.Failure = Fail(DkimResult.PermError, $"RSA key of {rsa.KeySize} bits is too short (RFC 8301)", key);
                rsa.Dispose();
                return;
            }
            p.Rsa = rsa;
        }
        p.Key = key;
        p.Authentic = txt.Authentic;
    }

    private static DkimSignatureResult Finish(DkimHeaderBlock block, Pending p, byte[] bodyHash, long bodyLength)
    {
        DkimSignatureHeader sig = p.Signature;
        DkimKeyRecord key = p.Key!;
        int bits = p.Rsa?.KeySize ?? 256;
        DkimSignatureResult Result(DkimResult r, string? reason, bool valid = false) =>
            new() { Result = r, Reason = reason, Signature = sig, Key = key, KeyBits = bits, KeyDnssecAuthentic = p.Authentic, Valid = valid };
        using RSA? rsa = p.Rsa;
        if (sig.BodyLength is { } l && l > bodyLength) return Result(DkimResult.PermError, "l= is longer than the body");
        if (!CryptographicOperations.FixedTimeEquals(bodyHash, sig.BodyHash)) return Result(DkimResult.Fail, "body hash did not verify");
        var data = new ArrayBufferWriter<byte>(4096);
        byte[] sigField = DkimHeaderBlock.RemoveSignatureValue(block.Field(p.FieldIndex));
        block.WriteSignedData(sig.HeaderCanonicalization, sig.SignedHeaders, sigField, data);
        byte[] headerHash = SHA256.HashData(data.WrittenSpan);
        bool ok = rsa is not null
            ? rsa.VerifyHash(headerHash, sig.Signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : OpenSslEd25519.Verify(key.PublicKey, headerHash, sig.Signature);
        if (!ok) return Result(DkimResult.Fail, "signature did not verify");
        // RFC 6376 §8.2: a signature over part of the body says nothing about the rest.
        // RFC 6376 §8.2: l= lets anyone append to the body, so such a signature is never better than neutral.
        if (sig.BodyLength is not null) return Result(DkimResult.Neutral, "signature has a body length limit (l=)", valid: true);
        if (key.Testing) return Result(DkimResult.Neutral, "key is in testing mode (t=y)", valid: true);
        return Result(DkimResult.Pass, null, valid: true);
    }
}
