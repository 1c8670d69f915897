using System.Text;
using Postern.Security.Passwords;

namespace Postern.Security.Sasl;

/// <summary>SASL PLAIN server (RFC 4616): message = [authzid] NUL authcid NUL passwd.</summary>
public sealed class PlainServer(SaslCredentialLookup lookup) : ISaslServerMechanism
{
    private bool _challenged;
    private bool _done;

    /// <inheritdoc/>
    public string Name => "PLAIN";

    /// <inheritdoc/>
    public async ValueTask<SaslStepResult> StepAsync(byte[]? clientResponse, CancellationToken cancellationToken = default)
    {
        if (_done) return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "exchange already finished");
        if (clientResponse is null)
        {
            // RFC 4616 §2: the client sends first; without an initial response, send an empty challenge.
            if (_challenged) { _done = true; return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "no response"); }
            _challenged = true;
            return SaslStepResult.Challenge([]);
        }
        _done = true;
        if (clientResponse.Length > SaslLimits.MaxClientResponseBytes) return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "response too long");
        ReadOnlySpan<byte> msg = clientResponse;
        int first = msg.IndexOf((byte)0);
        if (first < 0) return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "missing NUL separator");
        int second = msg[(first + 1)..].IndexOf((byte)0);
        if (second < 0) return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "missing second NUL separator");
        second += first + 1;
        if (!SaslText.TryDecodeUtf8(msg[..first], out string authzid)
            || !SaslText.TryDecodeUtf8(msg[(first + 1)..second], out string authcid)
            || !SaslText.TryDecodeUtf8(msg[(second + 1)..], out string password))
            return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "invalid UTF-8");
        // RFC 4616 §2: authcid and passwd are non-empty and contain no NUL.
        if (authcid.Length == 0 || password.Length == 0) return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "empty authcid or password");
        if (password.Contains('\0', StringComparison.Ordinal)) return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "NUL in password");
        // RFC 4616 §2: authorizing as another identity is not supported; only empty or the same identity.
        if (authzid.Length != 0 && !string.Equals(authzid, authcid, StringComparison.Ordinal))
            return SaslStepResult.Fail(SaslFailureKind.InvalidCredentials, "authorization identity differs from authentication identity", authcid);
        return await SaslPasswordCheck.VerifyAsync(lookup, authcid, password, cancellationToken).ConfigureAwait(false);
    }
}

internal static class SaslText
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    public static bool TryDecodeUtf8(ReadOnlySpan<byte> bytes, out string value)
    {
        try
        {
            value = StrictUtf8.GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            value = "";
            return false;
        }
    }
}

internal static class SaslPasswordCheck
{
    public static async ValueTask<SaslStepResult> VerifyAsync(SaslCredentialLookup lookup, string login, string password, CancellationToken ct)
    {
        if (Encoding.UTF8.GetByteCount(login) > SaslLimits.MaxLoginNameBytes) return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "login name too long");
        if (Encoding.UTF8.GetByteCount(password) > SaslLimits.MaxPasswordBytes) return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "password too long", login);
        var creds = await lookup(login, ct).ConfigureAwait(false);
        if (creds is null)
        {
            // Spend the same work as a real check, so response time does not reveal which accounts exist.
            PasswordSecrets.BurnVerificationCost(password);
            return SaslStepResult.Fail(SaslFailureKind.InvalidCredentials, "unknown user", login);
        }
        if (!creds.Secrets.VerifyPassword(password)) return SaslStepResult.Fail(SaslFailureKind.InvalidCredentials, "wrong password", login);
        return SaslStepResult.Success(creds.AccountId, login);
    }
}
