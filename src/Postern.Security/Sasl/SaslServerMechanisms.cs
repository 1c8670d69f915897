using System.Security.Cryptography;

namespace Postern.Security.Sasl;

/// <summary>Connection-level settings shared by every mechanism of one AUTH/AUTHENTICATE.</summary>
public sealed record SaslServerOptions
{
    /// <summary>Credential lookup.</summary>
    public required SaslCredentialLookup Lookup { get; init; }
    /// <summary>Host name used in CRAM-MD5 challenges.</summary>
    public string HostName { get; init; } = "localhost";
    /// <summary>Channel binding of the TLS connection, or null without TLS.</summary>
    public IChannelBindingProvider? ChannelBinding { get; init; }
    /// <summary>Whether PLAIN and LOGIN (password in the clear) are allowed: on TLS or loopback only (DESIGN: secure by default).</summary>
    public bool AllowClearTextPasswords { get; init; }
    /// <summary>Whether to offer CRAM-MD5 (only accounts with a stored CRAM-MD5 secret can use it).</summary>
    public bool OfferCramMd5 { get; init; }
    /// <summary>Whether to offer SCRAM-SHA-1 (and -PLUS); SCRAM-SHA-256 is always offered.</summary>
    public bool OfferScramSha1 { get; init; } = true;
}

/// <summary>The set of SASL server mechanisms: what to advertise, and how to start one.</summary>
public static class SaslServerMechanisms
{
    /// <summary>Mechanism names to advertise, strongest first.</summary>
    public static IReadOnlyList<string> Advertised(SaslServerOptions options)
    {
        var list = new List<string>();
        bool plus = options.ChannelBinding is { AvailableTypes.Count: > 0 };
        if (plus) list.Add("SCRAM-SHA-256-PLUS");
        list.Add("SCRAM-SHA-256");
        if (options.OfferScramSha1)
        {
            if (plus) list.Add("SCRAM-SHA-1-PLUS");
            list.Add("SCRAM-SHA-1");
        }
        if (options.OfferCramMd5) list.Add("CRAM-MD5");
        if (options.AllowClearTextPasswords)
        {
            list.Add("PLAIN");
            list.Add("LOGIN");
        }
        return list;
    }

    /// <summary>Starts a server exchange for <paramref name="mechanism"/> (case-insensitive), or null if it is not offered.</summary>
    public static ISaslServerMechanism? Create(string mechanism, SaslServerOptions options)
    {
        string name = mechanism.ToUpperInvariant();
        if (!Advertised(options).Contains(name, StringComparer.Ordinal)) return null;
        bool plusAdvertised = options.ChannelBinding is { AvailableTypes.Count: > 0 };
        return name switch
        {
            "PLAIN" => new PlainServer(options.Lookup),
            "LOGIN" => new LoginServer(options.Lookup),
            "CRAM-MD5" => new CramMd5Server(options.Lookup, options.HostName),
            "SCRAM-SHA-256" => new ScramServer(HashAlgorithmName.SHA256, false, options.Lookup, options.ChannelBinding, plusAdvertised),
            "SCRAM-SHA-256-PLUS" => new ScramServer(HashAlgorithmName.SHA256, true, options.Lookup, options.ChannelBinding, plusAdvertised),
            "SCRAM-SHA-1" => new ScramServer(HashAlgorithmName.SHA1, false, options.Lookup, options.ChannelBinding, plusAdvertised),
            "SCRAM-SHA-1-PLUS" => new ScramServer(HashAlgorithmName.SHA1, true, options.Lookup, options.ChannelBinding, plusAdvertised),
            _ => null,
        };
    }
}
