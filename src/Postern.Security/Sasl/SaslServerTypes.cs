using Postern.Security.Passwords;

namespace Postern.Security.Sasl;

/// <summary>What the framing layer (IMAP AUTHENTICATE, SMTP AUTH) does after a server step.</summary>
public enum SaslStepKind
{
    /// <summary>Send <see cref="SaslStepResult.Data"/> as a challenge and pass the client's decoded answer to the next step.</summary>
    Challenge,
    /// <summary>Authenticated. <see cref="SaslStepResult.Data"/> is the optional additional data with success (e.g. SCRAM server-final).</summary>
    Success,
    /// <summary>Authentication failed; <see cref="SaslStepResult.FailureReason"/> says why (for logs, not for the client).</summary>
    Failure,
}

/// <summary>Why an exchange failed, so the caller can pick a response code and count failures.</summary>
public enum SaslFailureKind
{
    /// <summary>Wrong password or unknown user: counts as an authentication failure.</summary>
    InvalidCredentials,
    /// <summary>The client sent something that breaks the mechanism's syntax or rules.</summary>
    MalformedMessage,
    /// <summary>The account has no secret for this mechanism (e.g. CRAM-MD5 disabled).</summary>
    MechanismUnavailable,
    /// <summary>Channel binding mismatch or downgrade detected.</summary>
    ChannelBindingFailed,
    /// <summary>The client aborted the exchange ("*").</summary>
    Aborted,
}

/// <summary>Result of one server step.</summary>
public sealed class SaslStepResult
{
    private SaslStepResult(SaslStepKind kind, byte[] data, string? accountId, string? loginName, SaslFailureKind failureKind, string? reason)
    {
        Kind = kind;
        Data = data;
        AccountId = accountId;
        LoginName = loginName;
        FailureKind = failureKind;
        FailureReason = reason;
    }

    /// <summary>Kind of result.</summary>
    public SaslStepKind Kind { get; }
    /// <summary>Challenge bytes (Challenge) or additional success data (Success, may be empty). Not base64-encoded.</summary>
    public byte[] Data { get; }
    /// <summary>Authenticated account id (Success).</summary>
    public string? AccountId { get; }
    /// <summary>Login name the client authenticated as (Success), or attempted (Failure, when known).</summary>
    public string? LoginName { get; }
    /// <summary>Failure category (Failure).</summary>
    public SaslFailureKind FailureKind { get; }
    /// <summary>Failure reason for logs (Failure).</summary>
    public string? FailureReason { get; }

    internal static SaslStepResult Challenge(byte[] data) => new(SaslStepKind.Challenge, data, null, null, default, null);
    internal static SaslStepResult Success(string accountId, string loginName, byte[]? data = null) => new(SaslStepKind.Success, data ?? [], accountId, loginName, default, null);
    internal static SaslStepResult Fail(SaslFailureKind kind, string reason, string? loginName = null) => new(SaslStepKind.Failure, [], null, loginName, kind, reason);
}

/// <summary>The stored credentials of one account as returned by the lookup callback.</summary>
/// <param name="AccountId">Stable account id reported on success.</param>
/// <param name="Secrets">Parsed stored secrets.</param>
public sealed record SaslCredentials(string AccountId, PasswordSecrets Secrets);

/// <summary>Looks up credentials by login name (address or account name); null when unknown or disabled.</summary>
public delegate ValueTask<SaslCredentials?> SaslCredentialLookup(string loginName, CancellationToken cancellationToken);

/// <summary>Supplies channel-binding data of the connection (RFC 5056), e.g. from <see cref="Postern.Security.Tls.TlsChannelBinding"/>.</summary>
public interface IChannelBindingProvider
{
    /// <summary>Channel-binding types available on this connection, e.g. "tls-server-end-point".</summary>
    IReadOnlyList<string> AvailableTypes { get; }

    /// <summary>Binding data for <paramref name="type"/>, or null when unavailable.</summary>
    byte[]? GetBindingData(string type);
}

/// <summary>A server-side SASL exchange for one mechanism; a step-based state machine, independent of the protocol framing.</summary>
public interface ISaslServerMechanism
{
    /// <summary>Registered mechanism name, e.g. "SCRAM-SHA-256-PLUS".</summary>
    string Name { get; }

    /// <summary>
    /// Advances the exchange. The first call receives the initial response (SASL-IR, SMTP AUTH
    /// argument; an empty array for "="), or null when the client sent none. Later calls receive
    /// the decoded answer to the previous challenge. A client abort ("*") is handled by the caller.
    /// </summary>
    ValueTask<SaslStepResult> StepAsync(byte[]? clientResponse, CancellationToken cancellationToken = default);
}

/// <summary>Named limits of SASL input.</summary>
public static class SaslLimits
{
    /// <summary>Largest decoded client response a mechanism accepts (RFC 4616 allows 255-octet fields; SCRAM messages are small).</summary>
    public const int MaxClientResponseBytes = 4096;
    /// <summary>Largest login name accepted.</summary>
    public const int MaxLoginNameBytes = 512;
    /// <summary>Largest password accepted by PLAIN/LOGIN.</summary>
    public const int MaxPasswordBytes = 1024;
    /// <summary>Longest SCRAM client nonce accepted.</summary>
    public const int MaxScramNonceLength = 256;
}
