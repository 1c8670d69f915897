using System.Text.Json;

namespace Postern.Security.Acme;

/// <summary>
/// An error document from the ACME server (RFC 7807 "problem details", RFC 8555 §6.7), with the
/// per-identifier subproblems of §6.7.1.
/// </summary>
/// <param name="Type">The error type URI, e.g. <c>urn:ietf:params:acme:error:badNonce</c>.</param>
/// <param name="Detail">Human-readable explanation from the server.</param>
/// <param name="Status">HTTP status code.</param>
/// <param name="Subproblems">Problems with single identifiers, as "identifier: detail".</param>
public sealed record AcmeProblem(string Type, string Detail, int Status, IReadOnlyList<string> Subproblems)
{
    /// <summary>The ACME error name without the <c>urn:ietf:params:acme:error:</c> prefix (or the whole type).</summary>
    public string ShortType => Type.StartsWith(AcmeErrorPrefix, StringComparison.Ordinal) ? Type[AcmeErrorPrefix.Length..] : Type;

    internal const string AcmeErrorPrefix = "urn:ietf:params:acme:error:";

    /// <summary>Reads a problem document; null when the body is not one.</summary>
    public static AcmeProblem? Parse(ReadOnlySpan<byte> json, int status)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            return FromElement(doc.RootElement, status);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal static AcmeProblem? FromElement(JsonElement e, int status)
    {
        if (e.ValueKind != JsonValueKind.Object) return null;
        string type = e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "about:blank";
        string detail = e.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : "";
        if (e.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out int st)) status = st;
        var subs = new List<string>();
        if (e.TryGetProperty("subproblems", out var sp) && sp.ValueKind == JsonValueKind.Array)
        {
            foreach (var p in sp.EnumerateArray().Take(20))
            {
                string id = p.TryGetProperty("identifier", out var i) && i.TryGetProperty("value", out var v) ? v.GetString() ?? "" : "";
                string pd = p.TryGetProperty("detail", out var x) && x.ValueKind == JsonValueKind.String ? x.GetString()! : "";
                subs.Add(id.Length > 0 ? $"{id}: {pd}" : pd);
            }
        }
        return new AcmeProblem(type, detail, status, subs);
    }

    /// <summary>One line for a log or an error message.</summary>
    public override string ToString()
    {
        string text = $"{ShortType} ({Status}): {(Detail.Length > 0 ? Detail : "no detail given")}";
        return Subproblems.Count == 0 ? text : text + " [" + string.Join("; ", Subproblems) + "]";
    }
}

/// <summary>An ACME operation failed: the server refused (with a <see cref="Problem"/>), could not be reached, or answered nonsense.</summary>
public sealed class AcmeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AcmeException(string message, AcmeProblem? problem = null, Exception? inner = null) : base(message, inner) => Problem = problem;

    /// <summary>Creates the exception.</summary>
    public AcmeException() : this("ACME operation failed") { }

    /// <summary>Creates the exception.</summary>
    public AcmeException(string message) : this(message, null, null) { }

    /// <summary>Creates the exception.</summary>
    public AcmeException(string message, Exception inner) : this(message, null, inner) { }

    /// <summary>The server's problem document, when it sent one.</summary>
    public AcmeProblem? Problem { get; }
}
