namespace Postern.Security.Sasl;

/// <summary>
/// SASL LOGIN server (draft-murchison-sasl-login-00): challenges "Username:" and "Password:",
/// the client answers each. An initial response is taken as the user name (§2.1).
/// </summary>
public sealed class LoginServer(SaslCredentialLookup lookup) : ISaslServerMechanism
{
    private int _state; // 0: start, 1: awaiting user name, 2: awaiting password, 3: done
    private string _userName = "";

    /// <inheritdoc/>
    public string Name => "LOGIN";

    /// <inheritdoc/>
    public async ValueTask<SaslStepResult> StepAsync(byte[]? clientResponse, CancellationToken cancellationToken = default)
    {
        switch (_state)
        {
            case 0:
                if (clientResponse is null || clientResponse.Length == 0)
                {
                    _state = 1;
                    return SaslStepResult.Challenge("Username:"u8.ToArray());
                }
                goto case 1;
            case 1:
                if (clientResponse is null || !TryReadField(clientResponse, out _userName) || _userName.Length == 0)
                    return Finish(SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "invalid user name"));
                // Windows Mail has been seen sending the user name with surrounding spaces; user
                // names never contain them, so trim (passwords are left as sent).
                _userName = _userName.Trim(' ');
                _state = 2;
                return SaslStepResult.Challenge("Password:"u8.ToArray());
            case 2:
                if (clientResponse is null || !TryReadField(clientResponse, out string password) || password.Length == 0)
                    return Finish(SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "invalid password", _userName));
                _state = 3;
                return await SaslPasswordCheck.VerifyAsync(lookup, _userName, password, cancellationToken).ConfigureAwait(false);
            default:
                return SaslStepResult.Fail(SaslFailureKind.MalformedMessage, "exchange already finished");
        }
    }

    private SaslStepResult Finish(SaslStepResult r)
    {
        _state = 3;
        return r;
    }

    private static bool TryReadField(byte[] bytes, out string value)
    {
        value = "";
        if (bytes.Length > SaslLimits.MaxClientResponseBytes || bytes.AsSpan().IndexOf((byte)0) >= 0) return false;
        return SaslText.TryDecodeUtf8(bytes, out value);
    }

}
