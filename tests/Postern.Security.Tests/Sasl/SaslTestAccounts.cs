using System.Security.Cryptography;
using System.Text;
using Postern.Security.Passwords;
using Postern.Security.Sasl;

namespace Postern.Security.Tests.Sasl;

internal static class SaslTestAccounts
{
    // Low PLAIN cost for tests; SCRAM at the RFC minimum.
    public static readonly PasswordSecretsOptions FastOptions = new() { PlainIterations = 1000, IncludeCramMd5 = true };

    public static SaslCredentialLookup Lookup(params (string Login, string Password)[] accounts)
    {
        var map = accounts.ToDictionary(a => a.Login, a => PasswordSecrets.Parse(PasswordSecrets.Derive(a.Password, FastOptions)), StringComparer.Ordinal);
        return (login, _) => ValueTask.FromResult(map.TryGetValue(login, out var s) ? new SaslCredentials("id-" + login, s) : null);
    }

    /// <summary>Secrets with fixed SCRAM salts, to replay RFC examples.</summary>
    public static SaslCredentialLookup RfcLookup(string user, string password, string saltSha1B64, string saltSha256B64)
    {
        byte[] pw = Encoding.UTF8.GetBytes(password);
        var s1 = PasswordSecrets.DeriveScram(pw, Convert.FromBase64String(saltSha1B64), 4096, HashAlgorithmName.SHA1);
        var s256 = PasswordSecrets.DeriveScram(pw, Convert.FromBase64String(saltSha256B64), 4096, HashAlgorithmName.SHA256);
        var full = PasswordSecrets.Create(password, FastOptions);
        var secrets = PasswordSecrets.FromParts(full.PlainIterations, full.PlainSalt, full.PlainHash, s256, s1, full.CramMd5);
        return (login, _) => ValueTask.FromResult(login == user ? new SaslCredentials("acct-1", secrets) : null);
    }

    public static byte[] B(string s) => Encoding.UTF8.GetBytes(s);
    public static string S(byte[] b) => Encoding.UTF8.GetString(b);

    /// <summary>Runs a full client/server exchange the way IMAP/SMTP framing would.</summary>
    public static async Task<SaslStepResult> RunAsync(ISaslServerMechanism server, ISaslClientMechanism client, bool useInitialResponse = true)
    {
        byte[]? response = useInitialResponse ? client.GetInitialResponse() : null;
        for (int round = 0; round < 10; round++)
        {
            var r = await server.StepAsync(response);
            if (r.Kind == SaslStepKind.Success && r.Data.Length > 0) client.Respond(r.Data); // additional data with success (SCRAM server-final)
            if (r.Kind != SaslStepKind.Challenge) return r;
            response = client.Respond(r.Data);
        }
        throw new InvalidOperationException("too many rounds");
    }
}
