using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Postern.Security.Passwords;

namespace Postern.Security.Sasl;

// SCRAM server (RFC 5802; SHA-256 per RFC 7677) with optional channel binding (-PLUS, RFC 5056).
//
//   C: gs2-header client-first-bare        gs2-header = ("n" | "y" | "p=" cb-name) "," [ "a=" saslname ] ","
//   S: r=cnonce+snonce,s=salt,i=iterations
//   C: c=base64(gs2-header [cbind-data]),r=nonce[,ext],p=proof
//   S: v=server-signature                   (returned as Success additional data)
//
// Unknown users get a deterministic fake salt so that the server-first message does not reveal
// whether an account exists; they fail at the proof check like a wrong password.
// Each instance serves exactly one exchange, and the server nonce is fresh, so a replayed
// client-final (computed for another server nonce) never verifies.

/// <summary>SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants, server side.</summary>
public sealed class ScramServer : ISaslServerMechanism
{
    private static readonly byte[] FakeSaltKey = RandomNumberGenerator.GetBytes(32);

    private readonly HashAlgorithmName _hash;
    private readonly bool _plus;
    private readonly SaslCredentialLookup _lookup;
    private readonly IChannelBindingProvider? _channelBinding;
    private readonly bool _serverAdvertisesPlus;

    private int _state; // 0: awaiting client-first, 1: awaiting client-final, 2: done
    private string _gs2Header = "";
    private string? _cbType;
    private string _clientFirstBare = "";
    private string _serverFirst = "";
    private string _nonce = "";
    private string _userName = "";
    private SaslCredentials? _credentials;
    private bool _emptyChallengeSent;

    /// <summary>Creates a server exchange.</summary>
    /// <param name="hash">SHA-1 or SHA-256.</param>
    /// <param name="plus">Whether this is the -PLUS (channel binding required) variant.</param>
    /// <param name="lookup">Credential lookup.</param>
    /// <param name="channelBinding">Channel binding of the connection, or null (no TLS).</param>
    /// <param name="serverAdvertisesPlus">Whether the server advertised any -PLUS mechanism on this connection (for the "y" downgrade check).</param>
    public ScramServer(HashAlgorithmName hash, bool plus, SaslCredentialLookup lookup, IChannelBindingProvider? channelBinding, bool serverAdvertisesPlus)
    {
        if (hash != HashAlgorithmName.SHA1 && hash != HashAlgorithmName.SHA256) throw new ArgumentException("SCRAM supports SHA-1 and SHA-256 only.", nameof(hash));
        _hash = hash;
        _plus = plus;
        _lookup = lookup;
        _channelBinding = channelBinding;
        _serverAdvertisesPlus = serverAdvertisesPlus;
        Name = (hash == HashAlgorithmName.SHA1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256") + (plus ? "-PLUS" : "");
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>Fixed server nonce part, for reproducing RFC examples in tests.</summary>
    internal string? ServerNonceOverride { get; set; }

    /// <inheritdoc/>
    public async ValueTask<SaslStepResult> StepAsync(byte[]? clientResponse, CancellationToken cancellationToken = default)
    {
        try
        {
            switch (_state)
            {
                case 0 when clientResponse is null || clientResponse.Length == 0:
                    // RFC 5802 §5: the client sends first; prompt for it with an empty challenge, once.
                    if (_emptyChallengeSent) return Fail(SaslFailureKind.MalformedMessage, "empty client-first-message");
                    _emptyChallengeSent = true;
                    return SaslStepResult.Challenge([]);
                case 0:
                    return await ClientFirstAsync(clientResponse, cancellationToken).ConfigureAwait(false);
                case 1:
                    return ClientFinal(clientResponse ?? []);
                default:
                    return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "exchange already finished");
            }
        }
        catch (ScramSyntaxException e)
        {
            return Fail(SaslFailureKind.MalformedMessage, e.Message);
        }
    }

    private SaslStepResult Fail(SaslFailureKind kind, string reason)
    {
        _state = 2;
        return SaslStepResult.Fail(kind, reason, _userName.Length > 0 ? _userName : null);
    }

    private async ValueTask<SaslStepResult> ClientFirstAsync(byte[] input, CancellationToken ct)
    {
        if (input.Length > SaslLimits.MaxClientResponseBytes) return Fail(SaslFailureKind.MalformedMessage, "client-first-message too long");
        if (!SaslText.TryDecodeUtf8(input, out string msg)) return Fail(SaslFailureKind.MalformedMessage, "client-first-message is not UTF-8");

        // RFC 5802 §7: gs2-cbind-flag "," [authzid] ","
        int c1 = msg.IndexOf(',', StringComparison.Ordinal);
        if (c1 < 0) return Fail(SaslFailureKind.MalformedMessage, "missing GS2 header");
        int c2 = msg.IndexOf(',', c1 + 1);
        if (c2 < 0) return Fail(SaslFailureKind.MalformedMessage, "missing GS2 header");
        string flag = msg[..c1];
        string authzField = msg[(c1 + 1)..c2];
        _gs2Header = msg[..(c2 + 1)];
        _clientFirstBare = msg[(c2 + 1)..];

        if (flag == "n" || flag == "y")
        {
            // RFC 5802 §6: -PLUS means channel binding is used, so "p=" is required.
            if (_plus) return Fail(SaslFailureKind.ChannelBindingFailed, "-PLUS mechanism without channel binding");
            // RFC 5802 §6: "y" = client supports binding but thinks the server does not; if we did
            // advertise -PLUS, someone stripped it: a downgrade attack.
            if (flag == "y" && _serverAdvertisesPlus) return Fail(SaslFailureKind.ChannelBindingFailed, "channel binding downgrade detected (client sent \"y\" but -PLUS was advertised)");
        }
        else if (flag.StartsWith("p=", StringComparison.Ordinal))
        {
            // RFC 5802 §6: "p" with a non-PLUS mechanism is an error.
            if (!_plus) return Fail(SaslFailureKind.ChannelBindingFailed, "channel binding requested with non-PLUS mechanism");
            _cbType = flag[2..];
            if (!IsCbName(_cbType) || _channelBinding is null || !_channelBinding.AvailableTypes.Contains(_cbType, StringComparer.Ordinal))
                return Fail(SaslFailureKind.ChannelBindingFailed, "unsupported channel binding type");
        }
        else
        {
            return Fail(SaslFailureKind.MalformedMessage, "invalid GS2 channel binding flag");
        }

        string? authzid = null;
        if (authzField.Length > 0)
        {
            if (!authzField.StartsWith("a=", StringComparison.Ordinal)) return Fail(SaslFailureKind.MalformedMessage, "invalid authzid");
            authzid = DecodeSaslName(authzField[2..]);
        }

        var attrs = new ScramAttributeReader(_clientFirstBare);
        // RFC 5802 §5.1: "m" is reserved for mandatory extensions; we support none.
        if (attrs.PeekName() == 'm') return Fail(SaslFailureKind.MalformedMessage, "unsupported mandatory extension");
        _userName = DecodeSaslName(attrs.Expect('n'));
        if (_userName.Length == 0 || Encoding.UTF8.GetByteCount(_userName) > SaslLimits.MaxLoginNameBytes) return Fail(SaslFailureKind.MalformedMessage, "invalid user name");
        string clientNonce = attrs.Expect('r');
        if (clientNonce.Length == 0 || clientNonce.Length > SaslLimits.MaxScramNonceLength || !IsPrintableNonce(clientNonce))
            return Fail(SaslFailureKind.MalformedMessage, "invalid client nonce");
        attrs.SkipExtensions();

        // Authorizing as another identity is not supported.
        if (authzid is not null && !string.Equals(authzid, _userName, StringComparison.Ordinal))
            return Fail(SaslFailureKind.InvalidCredentials, "authorization identity differs from user name");

        _credentials = await _lookup(_userName, ct).ConfigureAwait(false);
        ScramSecret secret = _credentials?.Secrets.GetScram(_hash) ?? FakeSecret(_userName);
        string serverNonce = ServerNonceOverride ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
        _nonce = clientNonce + serverNonce;
        _serverFirst = string.Create(CultureInfo.InvariantCulture, $"r={_nonce},s={Convert.ToBase64String(secret.Salt)},i={secret.Iterations}");
        _state = 1;
        return SaslStepResult.Challenge(Encoding.ASCII.GetBytes(_serverFirst));
    }

    private SaslStepResult ClientFinal(byte[] input)
    {
        if (input.Length > SaslLimits.MaxClientResponseBytes) return Fail(SaslFailureKind.MalformedMessage, "client-final-message too long");
        if (!SaslText.TryDecodeUtf8(input, out string msg)) return Fail(SaslFailureKind.MalformedMessage, "client-final-message is not UTF-8");
        int proofAt = msg.LastIndexOf(",p=", StringComparison.Ordinal);
        if (proofAt < 0) return Fail(SaslFailureKind.MalformedMessage, "missing proof");
        string withoutProof = msg[..proofAt];

        var attrs = new ScramAttributeReader(msg);
        byte[] cbind = DecodeBase64(attrs.Expect('c'), "channel binding");
        string nonce = attrs.Expect('r');
        attrs.SkipExtensionsUntil('p');
        byte[] proof = DecodeBase64(attrs.Expect('p'), "proof");
        attrs.ExpectEnd();

        // RFC 5802 §7: c = base64(gs2-header [cbind-data]); the header must be the one sent first.
        byte[] expectedCbind = ExpectedChannelBinding();
        if (expectedCbind.Length == 0) return Fail(SaslFailureKind.ChannelBindingFailed, "channel binding data unavailable");
        if (!CryptographicOperations.FixedTimeEquals(cbind, expectedCbind)) return Fail(SaslFailureKind.ChannelBindingFailed, "channel binding mismatch");
        if (!string.Equals(nonce, _nonce, StringComparison.Ordinal)) return Fail(SaslFailureKind.MalformedMessage, "nonce mismatch");
        if (proof.Length != ScramCrypto.HashLength(_hash)) return Fail(SaslFailureKind.MalformedMessage, "proof has wrong length");

        if (_credentials is null) return Fail(SaslFailureKind.InvalidCredentials, "unknown user");
        ScramSecret secret = _credentials.Secrets.GetScram(_hash);
        // RFC 5802 §3: AuthMessage, ClientSignature, ClientKey = ClientProof XOR ClientSignature, H(ClientKey) == StoredKey.
        byte[] authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + _serverFirst + "," + withoutProof);
        byte[] clientSignature = ScramCrypto.Hmac(_hash, secret.StoredKey, authMessage);
        for (int i = 0; i < proof.Length; i++) proof[i] ^= clientSignature[i];
        byte[] storedKey = ScramCrypto.Hash(_hash, proof);
        if (!CryptographicOperations.FixedTimeEquals(storedKey, secret.StoredKey)) return Fail(SaslFailureKind.InvalidCredentials, "wrong password");
        byte[] serverSignature = ScramCrypto.Hmac(_hash, secret.ServerKey, authMessage);
        _state = 2;
        return SaslStepResult.Success(_credentials.AccountId, _userName, Encoding.ASCII.GetBytes("v=" + Convert.ToBase64String(serverSignature)));
    }

    private byte[] ExpectedChannelBinding()
    {
        byte[] header = Encoding.UTF8.GetBytes(_gs2Header);
        if (_cbType is null) return header;
        byte[]? data = _channelBinding?.GetBindingData(_cbType);
        if (data is null || data.Length == 0) return [];
        return [.. header, .. data];
    }

    private ScramSecret FakeSecret(string user)
    {
        byte[] salt = HMACSHA256.HashData(FakeSaltKey, Encoding.UTF8.GetBytes(user))[..16];
        int len = ScramCrypto.HashLength(_hash);
        return new ScramSecret(4096, salt, new byte[len], new byte[len]);
    }

    private static byte[] DecodeBase64(string s, string what)
    {
        // RFC 5802 §7: base64 per RFC 4648, canonical.
        return StrictBase64.TryDecode(s, out byte[] b) ? b : throw new ScramSyntaxException("invalid base64 in " + what);
    }

    // RFC 5802 §7: saslname uses "=2C" for "," and "=3D" for "="; any other "=" is invalid.
    internal static string DecodeSaslName(string s)
    {
        if (!s.Contains('=', StringComparison.Ordinal)) return s;
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] != '=') { sb.Append(s[i]); continue; }
            if (i + 2 < s.Length && string.CompareOrdinal(s, i, "=2C", 0, 3) == 0) sb.Append(',');
            else if (i + 2 < s.Length && string.CompareOrdinal(s, i, "=3D", 0, 3) == 0) sb.Append('=');
            else throw new ScramSyntaxException("invalid escape in saslname");
            i += 2;
        }
        return sb.ToString();
    }

    internal static string EncodeSaslName(string s) => s.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal);

    private static bool IsPrintableNonce(string s)
    {
        // RFC 5802 §7: printable = %x21-2B / %x2D-7E
        foreach (char c in s) if (c < 0x21 || c > 0x7e || c == ',') return false;
        return true;
    }

    private static bool IsCbName(string s)
    {
        // RFC 5056 §7: cb-name = 1*(ALPHA / DIGIT / "." / "-")
        if (s.Length == 0 || s.Length > 64) return false;
        foreach (char c in s) if (!(char.IsAsciiLetterOrDigit(c) || c == '.' || c == '-')) return false;
        return true;
    }
}

internal sealed class ScramSyntaxException(string message) : Exception(message);

/// <summary>Reads "x=value" attributes separated by commas (RFC 5802 §7).</summary>
internal struct ScramAttributeReader(string text)
{
    private int _pos;

    public readonly char PeekName() => _pos < text.Length ? text[_pos] : '\0';

    public string Expect(char name)
    {
        if (_pos >= text.Length || text[_pos] != name || _pos + 1 >= text.Length || text[_pos + 1] != '=')
            throw new ScramSyntaxException($"expected attribute \"{name}\"");
        int start = _pos + 2;
        int end = text.IndexOf(',', start);
        if (end < 0) end = text.Length;
        _pos = end < text.Length ? end + 1 : end;
        if (end == text.Length - 1) throw new ScramSyntaxException("trailing comma");
        return text[start..end];
    }

    public void SkipExtensions()
    {
        while (_pos < text.Length) SkipOne();
    }

    public void SkipExtensionsUntil(char stop)
    {
        while (_pos < text.Length && text[_pos] != stop) SkipOne();
    }

    public readonly void ExpectEnd()
    {
        if (_pos != text.Length) throw new ScramSyntaxException("unexpected data after proof");
    }

    private void SkipOne()
    {
        // RFC 5802 §7: attr-val = ALPHA "=" value
        if (!char.IsAsciiLetter(text[_pos]) || _pos + 1 >= text.Length || text[_pos + 1] != '=') throw new ScramSyntaxException("malformed attribute");
        int end = text.IndexOf(',', _pos);
        _pos = end < 0 ? text.Length : end + 1;
    }
}
