using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Postern.Security.Passwords;

namespace Postern.Security.Sasl;

/// <summary>Thrown by a SASL client when the server's message is malformed or fails verification.</summary>
public sealed class SaslClientException(string message) : Exception(message);

/// <summary>Client side of a SASL mechanism (used by the SMTP client and tests).</summary>
public interface ISaslClientMechanism
{
    /// <summary>Mechanism name.</summary>
    string Name { get; }

    /// <summary>Initial response to send with the AUTH/AUTHENTICATE command, or null if the mechanism has none.</summary>
    byte[]? GetInitialResponse();

    /// <summary>Answer to a decoded server challenge. Throws <see cref="SaslClientException"/> on a bad challenge.</summary>
    byte[] Respond(byte[] challenge);

    /// <summary>True once the server proved knowledge of the credentials (SCRAM), or always for mechanisms without server authentication.</summary>
    bool ServerAuthenticated { get; }
}

/// <summary>PLAIN client (RFC 4616).</summary>
public sealed class PlainClient(string userName, string password, string authorizationId = "") : ISaslClientMechanism
{
    /// <inheritdoc/>
    public string Name => "PLAIN";
    /// <inheritdoc/>
    public bool ServerAuthenticated => true;
    /// <inheritdoc/>
    public byte[]? GetInitialResponse() => Encoding.UTF8.GetBytes(authorizationId + "\0" + userName + "\0" + password);
    /// <inheritdoc/>
    public byte[] Respond(byte[] challenge) => challenge.Length == 0 ? GetInitialResponse()! : throw new SaslClientException("unexpected PLAIN challenge");
}

/// <summary>CRAM-MD5 client (RFC 2195).</summary>
public sealed class CramMd5Client(string userName, string password) : ISaslClientMechanism
{
    /// <inheritdoc/>
    public string Name => "CRAM-MD5";
    /// <inheritdoc/>
    public bool ServerAuthenticated => true;
    /// <inheritdoc/>
    public byte[]? GetInitialResponse() => null;

    /// <inheritdoc/>
    public byte[] Respond(byte[] challenge)
    {
#pragma warning disable CA5351 // CRAM-MD5 is defined with HMAC-MD5 (RFC 2195)
        byte[] digest = HMACMD5.HashData(Encoding.UTF8.GetBytes(password), challenge);
#pragma warning restore CA5351
        return Encoding.UTF8.GetBytes(userName + " " + Convert.ToHexStringLower(digest));
    }
}

/// <summary>SCRAM client (RFC 5802, RFC 7677), with optional channel binding (-PLUS).</summary>
public sealed class ScramClient : ISaslClientMechanism
{
    private readonly HashAlgorithmName _hash;
    private readonly string _userName;
    private readonly string _password;
    private readonly string _gs2Header;
    private readonly byte[] _cbindData;
    private readonly string _clientNonce;
    private string _clientFirstBare = "";
    private byte[]? _expectedServerSignature;
    private int _state;

    /// <summary>Creates a client exchange.</summary>
    /// <param name="hash">SHA-1 or SHA-256.</param>
    /// <param name="userName">User name (sent SASLprep'ed, RFC 5802 §5.1).</param>
    /// <param name="password">Password.</param>
    /// <param name="channelBindingType">Channel binding type for -PLUS, or null.</param>
    /// <param name="channelBindingData">Channel binding data for -PLUS.</param>
    /// <param name="clientSupportsChannelBinding">Without -PLUS: true sends "y" (we could bind, the server did not offer it), false sends "n".</param>
    /// <param name="clientNonce">Fixed nonce for tests; random when null.</param>
    public ScramClient(HashAlgorithmName hash, string userName, string password, string? channelBindingType = null, byte[]? channelBindingData = null, bool clientSupportsChannelBinding = false, string? clientNonce = null)
    {
        _hash = hash;
        _userName = SaslPrep.PrepareOrKeep(userName);
        _password = password;
        if (channelBindingType is not null)
        {
            _gs2Header = "p=" + channelBindingType + ",,";
            _cbindData = channelBindingData ?? throw new ArgumentNullException(nameof(channelBindingData));
        }
        else
        {
            _gs2Header = clientSupportsChannelBinding ? "y,," : "n,,";
            _cbindData = [];
        }
        _clientNonce = clientNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
        Name = (hash == HashAlgorithmName.SHA1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256") + (channelBindingType is null ? "" : "-PLUS");
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool ServerAuthenticated { get; private set; }

    /// <inheritdoc/>
    public byte[]? GetInitialResponse()
    {
        _clientFirstBare = "n=" + ScramServer.EncodeSaslName(_userName) + ",r=" + _clientNonce;
        _state = 1;
        return Encoding.UTF8.GetBytes(_gs2Header + _clientFirstBare);
    }

    /// <inheritdoc/>
    public byte[] Respond(byte[] challenge)
    {
        switch (_state)
        {
            case 0:
                if (challenge.Length != 0) throw new SaslClientException("unexpected challenge before client-first-message");
                return GetInitialResponse()!;
            case 1:
                _state = 2;
                return ClientFinal(challenge);
            case 2:
                _state = 3;
                VerifyServerFinal(challenge);
                return [];
            default:
                throw new SaslClientException("unexpected challenge after exchange finished");
        }
    }

    private byte[] ClientFinal(byte[] serverFirstBytes)
    {
        if (serverFirstBytes.Length > SaslLimits.MaxClientResponseBytes || !SaslText.TryDecodeUtf8(serverFirstBytes, out string serverFirst))
            throw new SaslClientException("invalid server-first-message");
        string nonce, saltB64, iterText;
        try
        {
            var reader = new ScramAttributeReader(serverFirst);
            if (reader.PeekName() == 'm') throw new SaslClientException("server requires an unsupported extension");
            nonce = reader.Expect('r');
            saltB64 = reader.Expect('s');
            iterText = reader.Expect('i');
            reader.SkipExtensions();
        }
        catch (ScramSyntaxException e)
        {
            throw new SaslClientException("invalid server-first-message: " + e.Message);
        }
        // RFC 5802 §5.1: the server nonce starts with the client's.
        if (!nonce.StartsWith(_clientNonce, StringComparison.Ordinal) || nonce.Length == _clientNonce.Length) throw new SaslClientException("server nonce does not extend client nonce");
        if (!int.TryParse(iterText, NumberStyles.None, CultureInfo.InvariantCulture, out int iterations) || iterations < 1 || iterations > 10_000_000)
            throw new SaslClientException("invalid iteration count");
        if (!StrictBase64.TryDecode(saltB64, out byte[] salt)) throw new SaslClientException("invalid salt");
        byte[] password = Encoding.UTF8.GetBytes(SaslPrep.PrepareOrKeep(_password));
        byte[] salted = ScramCrypto.SaltedPassword(_hash, password, salt, iterations);
        byte[] clientKey = ScramCrypto.Hmac(_hash, salted, "Client Key"u8);
        byte[] storedKey = ScramCrypto.Hash(_hash, clientKey);
        byte[] serverKey = ScramCrypto.Hmac(_hash, salted, "Server Key"u8);
        string cbind = Convert.ToBase64String([.. Encoding.UTF8.GetBytes(_gs2Header), .. _cbindData]);
        string withoutProof = "c=" + cbind + ",r=" + nonce;
        byte[] authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + serverFirst + "," + withoutProof);
        byte[] clientSignature = ScramCrypto.Hmac(_hash, storedKey, authMessage);
        for (int i = 0; i < clientKey.Length; i++) clientKey[i] ^= clientSignature[i];
        _expectedServerSignature = ScramCrypto.Hmac(_hash, serverKey, authMessage);
        CryptographicOperations.ZeroMemory(salted);
        CryptographicOperations.ZeroMemory(password);
        return Encoding.ASCII.GetBytes(withoutProof + ",p=" + Convert.ToBase64String(clientKey));
    }

    /// <summary>Checks the server-final-message ("v=..."); throws when the server did not prove the password.</summary>
    public void VerifyServerFinal(byte[] serverFinal)
    {
        if (_expectedServerSignature is null) throw new SaslClientException("server-final-message before client-final-message");
        if (!SaslText.TryDecodeUtf8(serverFinal, out string text)) throw new SaslClientException("invalid server-final-message");
        if (text.StartsWith("e=", StringComparison.Ordinal)) throw new SaslClientException("server error: " + text[2..Math.Min(text.Length, 100)]);
        if (!text.StartsWith("v=", StringComparison.Ordinal)) throw new SaslClientException("invalid server-final-message");
        int end = text.IndexOf(',', StringComparison.Ordinal);
        string sig = end < 0 ? text[2..] : text[2..end];
        if (!StrictBase64.TryDecode(sig, out byte[] got)) throw new SaslClientException("invalid server signature");
        if (!CryptographicOperations.FixedTimeEquals(got, _expectedServerSignature)) throw new SaslClientException("server signature mismatch: server does not know the password");
        ServerAuthenticated = true;
    }
}

/// <summary>LOGIN client (draft-murchison-sasl-login): answers the two prompts with user name and password.</summary>
public sealed class LoginClient(string userName, string password) : ISaslClientMechanism
{
    private int _step;

    /// <inheritdoc/>
    public string Name => "LOGIN";
    /// <inheritdoc/>
    public bool ServerAuthenticated => true;
    /// <inheritdoc/>
    public byte[]? GetInitialResponse()
    {
        _step = 1;
        return Encoding.UTF8.GetBytes(userName);
    }

    /// <inheritdoc/>
    public byte[] Respond(byte[] challenge) => _step++ switch
    {
        0 => Encoding.UTF8.GetBytes(userName),
        1 => Encoding.UTF8.GetBytes(password),
        _ => throw new SaslClientException("unexpected LOGIN challenge"),
    };
}
