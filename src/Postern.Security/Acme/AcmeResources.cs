using System.Text.Json;

namespace Postern.Security.Acme;

/// <summary>The directory object (RFC 8555 §7.1.1): the URLs of the server's operations.</summary>
public sealed record AcmeDirectory(Uri NewNonce, Uri NewAccount, Uri NewOrder, Uri? TermsOfService, bool ExternalAccountRequired)
{
    internal static AcmeDirectory Parse(JsonElement e, Uri from)
    {
        Uri Required(string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && Uri.TryCreate(v.GetString(), UriKind.Absolute, out var u)
            ? u : throw new AcmeException($"{from} is not an ACME directory: \"{name}\" is missing");
        Uri? tos = null;
        bool eab = false;
        if (e.TryGetProperty("meta", out var meta) && meta.ValueKind == JsonValueKind.Object)
        {
            if (meta.TryGetProperty("termsOfService", out var t) && t.ValueKind == JsonValueKind.String) Uri.TryCreate(t.GetString(), UriKind.Absolute, out tos);
            eab = meta.TryGetProperty("externalAccountRequired", out var x) && x.ValueKind == JsonValueKind.True;
        }
        return new AcmeDirectory(Required("newNonce"), Required("newAccount"), Required("newOrder"), tos, eab);
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
