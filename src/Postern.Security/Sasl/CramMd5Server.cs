using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Postern.Security.Sasl;

/// <summary>
/// CRAM-MD5 server (RFC 2195): the server sends a unique msg-id-like challenge, the client answers
/// "user SP hex(HMAC-MD5(secret, challenge))". Only accounts with a stored CRAM-MD5 secret can use it.
/// </summary>
public sealed class CramMd5Server(SaslCredentialLookup lookup, string hostName) : ISaslServerMechanism
{
    private byte[]? _challenge;
    private bool _done;

    /// <inheritdoc/>
    public string Name => "CRAM-MD5";

    /// <summary>Fixed challenge, for reproducing RFC examples in tests.</summary>
    internal string? ChallengeOverride { get; set; }

    /// <inheritdoc/>
    public async ValueTask<SaslStepResult> StepAsync(byte[]? clientResponse, CancellationToken cancellationToken = default)
    {
        if (_done) return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "exchange already finished");
        if (_challenge is null)
        {
            // RFC 2195 §2: the server speaks first; an initial response is a protocol error.
            if (clientResponse is not null && clientResponse.Length != 0) return Finish(SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "CRAM-MD5 takes no initial response"));
            string random = RandomNumberGenerator.GetHexString(16, lowercase: true);
            long ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            // RFC 2195 §2: challenge in the form of an RFC 822 msg-id, unique per exchange.
            _challenge = Encoding.ASCII.GetBytes(ChallengeOverride ?? string.Create(CultureInfo.InvariantCulture, $"<{random}.{ts}@{hostName}>"));
            return SaslStepResult.Challenge(_challenge);
        }
        _done = true;
        if (clientResponse is null || clientResponse.Length > SaslLimits.MaxClientResponseBytes) return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "missing or oversized response");
        ReadOnlySpan<byte> msg = clientResponse;
        int sp = msg.LastIndexOf((byte)' ');
        if (sp <= 0) return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "missing space");
        ReadOnlySpan<byte> hex = msg[(sp + 1)..];
        if (hex.Length != 32) return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "digest is not 32 hex digits");
        byte[] digest = new byte[16];
        if (Convert.FromHexString(Encoding.ASCII.GetString(hex), digest, out _, out int written) != System.Buffers.OperationStatus.Done || written != 16)
            return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "digest is not hex");
        if (!SaslText.TryDecodeUtf8(msg[..sp], out string user) || user.Length > SaslLimits.MaxLoginNameBytes)
            return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "invalid user name");
        var creds = await lookup(user, cancellationToken).ConfigureAwait(false);
        if (creds is null) return SaslStepResult.Fail(SaslFailureKind.InvalidCredentials, "unknown user", user);
        if (creds.Secrets.CramMd5 is null) return SaslStepResult.Fail(SaslFailureKind.MechanismUnavailable, "CRAM-MD5 not enabled for account", user);
        byte[] expected = creds.Secrets.CramMd5.ComputeHmac(_challenge);
        if (!CryptographicOperations.FixedTimeEquals(expected, digest)) return SaslStepResult.Fail(SaslFailureKind.InvalidCredentials, "wrong digest", user);
        return SaslStepResult.Success(creds.AccountId, user);
    }

    private SaslStepResult Finish(SaslStepResult r)
    {
        _done = true;
        return r;
    }
}
