using System.Text.Json;

namespace Postern.Security.Acme;

/// <summary>The directory object (RFC 8555 §7.1.1): the URLs of the server's operations.</summary>
public sealed record AcmeDirectory(Uri NewNonce, Uri NewAccount, Uri NewOrder, Uri? TermsOfService, bool ExternalAccountRequired)
{
    /// <summary>The CA's domain names for CAA "issue" records (meta.caaIdentities, RFC 8555 §7.1.1); empty when not given.</summary>
    public IReadOnlyList<string> CaaIdentities { get; init; } = [];

    internal static AcmeDirectory Parse(JsonElement e, Uri from)
    {
        Uri Required(string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && Uri.TryCreate(v.GetString(), UriKind.Absolute, out var u)
            ? u : throw new AcmeException($"{from} is not an ACME directory: \"{name}\" is missing");
        Uri? tos = null;
        bool eab = false;
        var caa = new List<string>();
        if (e.TryGetProperty("meta", out var meta) && meta.ValueKind == JsonValueKind.Object)
        {
            if (meta.TryGetProperty("caaIdentities", out var ids) && ids.ValueKind == JsonValueKind.Array)
            {
                foreach (var id in ids.EnumerateArray().Take(16))
                {
                    if (id.ValueKind == JsonValueKind.String && id.GetString() is { Length: > 0 and <= 253 } name) caa.Add(name);
                }
            }
            if (meta.TryGetProperty("termsOfService", out var t) && t.ValueKind == JsonValueKind.String) Uri.TryCreate(t.GetString(), UriKind.Absolute, out tos);
            eab = meta.TryGetProperty("externalAccountRequired", out var x) && x.ValueKind == JsonValueKind.True;
        }
        return new AcmeDirectory(Required("newNonce"), Required("newAccount"), Required("newOrder"), tos, eab) { CaaIdentities = caa };
    }
}

/// <summary>An order (RFC 8555 §7.1.3).</summary>
/// <param name="Url">The order's own URL (the Location of newOrder).</param>
/// <param name="Status">pending, ready, processing, valid or invalid.</param>
/// <param name="Authorizations">Authorization URLs, one per identifier.</param>
/// <param name="Finalize">URL to send the CSR to.</param>
/// <param name="Certificate">URL of the issued certificate, once valid.</param>
/// <param name="Error">Why the order failed, when invalid.</param>
public sealed record AcmeOrder(Uri Url, string Status, IReadOnlyList<Uri> Authorizations, Uri Finalize, Uri? Certificate, AcmeProblem? Error)
{
    internal static AcmeOrder Parse(JsonElement e, Uri url)
    {
        string status = AcmeJson.String(e, "status") ?? throw new AcmeException($"order {url}: no status");
        var authz = new List<Uri>();
        if (e.TryGetProperty("authorizations", out var a) && a.ValueKind == JsonValueKind.Array)
        {
            foreach (var x in a.EnumerateArray().Take(AcmeClient.MaxIdentifiers))
                authz.Add(AcmeJson.AbsoluteUri(x.GetString(), "authorization"));
        }
        Uri finalize = AcmeJson.AbsoluteUri(AcmeJson.String(e, "finalize"), "finalize");
        string? cert = AcmeJson.String(e, "certificate");
        AcmeProblem? error = e.TryGetProperty("error", out var err) ? AcmeProblem.FromElement(err, 0) : null;
        return new AcmeOrder(url, status, authz, finalize, cert is null ? null : AcmeJson.AbsoluteUri(cert, "certificate"), error);
    }
}

/// <summary>An authorization for one identifier (RFC 8555 §7.1.4).</summary>
public sealed record AcmeAuthorization(Uri Url, string Status, string Identifier, bool Wildcard, IReadOnlyList<AcmeChallenge> Challenges)
{
    internal static AcmeAuthorization Parse(JsonElement e, Uri url)
    {
        string status = AcmeJson.String(e, "status") ?? throw new AcmeException($"authorization {url}: no status");
        string id = e.TryGetProperty("identifier", out var i) ? AcmeJson.String(i, "value") ?? "" : "";
        bool wildcard = e.TryGetProperty("wildcard", out var w) && w.ValueKind == JsonValueKind.True;
        var challenges = new List<AcmeChallenge>();
        if (e.TryGetProperty("challenges", out var c) && c.ValueKind == JsonValueKind.Array)
        {
            foreach (var x in c.EnumerateArray().Take(20))
                challenges.Add(AcmeChallenge.Parse(x));
        }
        return new AcmeAuthorization(url, status, id, wildcard, challenges);
    }
}

/// <summary>A challenge of an authorization (RFC 8555 §7.1.5, §8).</summary>
public sealed record AcmeChallenge(string Type, Uri Url, string Status, string Token, AcmeProblem? Error)
{
    /// <summary>http-01 (RFC 8555 §8.3).</summary>
    public const string Http01 = "http-01";
    /// <summary>tls-alpn-01 (RFC 8737).</summary>
    public const string TlsAlpn01 = "tls-alpn-01";

    internal static AcmeChallenge Parse(JsonElement e) => new(
        AcmeJson.String(e, "type") ?? "",
        AcmeJson.AbsoluteUri(AcmeJson.String(e, "url"), "challenge url"),
        AcmeJson.String(e, "status") ?? "",
        AcmeJson.String(e, "token") ?? "",
        e.TryGetProperty("error", out var err) ? AcmeProblem.FromElement(err, 0) : null);
}

internal static class AcmeJson
{
    public static string? String(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static Uri AbsoluteUri(string? text, string what) =>
        text is not null && Uri.TryCreate(text, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttps || u.Scheme == Uri.UriSchemeHttp)
            ? u : throw new AcmeException($"the ACME server sent an invalid {what} URL \"{(text is { Length: > 100 } ? text[..100] : text)}\"");
}

/// <summary>
/// What is known of the ACME account after registration, kept in the state folder (account.json) so that
/// tools can publish CAA records limited to it (RFC 8657 "accounturi").
/// </summary>
/// <param name="DirectoryUrl">The ACME directory the account belongs to.</param>
/// <param name="AccountUrl">The account URL (the "kid").</param>
/// <param name="CaaIdentities">The CA's CAA identities from its directory; may be empty.</param>
public sealed record AcmeAccountRecord(string DirectoryUrl, string AccountUrl, IReadOnlyList<string> CaaIdentities)
{
    /// <summary>File name in the state folder.</summary>
    public const string FileName = "account.json";

    /// <summary>The record of a state folder, or null when there is none (or it cannot be read).</summary>
    public static AcmeAccountRecord? TryLoad(string stateDirectory)
    {
        try
        {
            string path = Path.Combine(stateDirectory, FileName);
            if (!File.Exists(path) || new FileInfo(path).Length > 64 * 1024) return null;
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var e = doc.RootElement;
            string? dir = AcmeJson.String(e, "directoryUrl"), account = AcmeJson.String(e, "accountUrl");
            if (dir is null || account is null) return null;
            var ids = new List<string>();
            if (e.TryGetProperty("caaIdentities", out var a) && a.ValueKind == JsonValueKind.Array)
                ids.AddRange(a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).Take(16));
            return new AcmeAccountRecord(dir, account, ids);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>The JSON text of the file.</summary>
    public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["directoryUrl"] = DirectoryUrl,
        ["accountUrl"] = AccountUrl,
        ["caaIdentities"] = CaaIdentities,
    });
}
