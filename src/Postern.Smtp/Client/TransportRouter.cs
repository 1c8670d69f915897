// Routes: which transport makes an attempt, chosen by sender domain, recipient domain and
// attempt number. The first route that matches wins; without a match the default (direct
// delivery) is used. A route with a minimum attempt number lets, for example, the first
// attempts go direct and later ones through a smarthost.
namespace Postern.Smtp.Client;

/// <summary>One route.</summary>
/// <param name="Transport">The transport to use when the route matches.</param>
/// <param name="SenderDomains">Sender domains it applies to (empty: any). A leading "." matches subdomains.</param>
/// <param name="RecipientDomains">Recipient domains it applies to (empty: any). A leading "." matches subdomains.</param>
/// <param name="MinimumAttempt">The route applies from this attempt number on (1: always).</param>
public sealed record OutboundRoute(IOutboundTransport Transport, IReadOnlyList<string> SenderDomains, IReadOnlyList<string> RecipientDomains, int MinimumAttempt = 1)
{
    /// <summary>Whether the route applies to a request.</summary>
    public bool Matches(OutboundRequest request) =>
        request.Attempt >= MinimumAttempt && DomainMatches(SenderDomains, request.SenderDomain) && DomainMatches(RecipientDomains, request.RecipientDomain);

    private static bool DomainMatches(IReadOnlyList<string> patterns, string domain)
    {
        if (patterns.Count == 0) return true;
        string d = Normalize(domain);
        foreach (string p in patterns)
        {
            string n = Normalize(p);
            if (n.StartsWith('.') ? d.EndsWith(n, StringComparison.Ordinal) : d == n) return true;
        }
        return false;
    }

    private static string Normalize(string domain)
    {
        string d = domain.TrimEnd('.').ToLowerInvariant();
        try
        {
            bool dot = d.StartsWith('.');
            string ascii = Postern.Mail.MailAddress.ToAsciiDomain(dot ? d[1..] : d);
            return dot ? "." + ascii : ascii;
        }
        catch (ArgumentException)
        {
            return d;
        }
    }
}

/// <summary>Chooses a transport per request from a route table; first match wins, then the default.</summary>
public sealed class TransportRouter(IReadOnlyList<OutboundRoute> routes, IOutboundTransport defaultTransport) : IOutboundTransport
{
    /// <summary>The routes in order.</summary>
    public IReadOnlyList<OutboundRoute> Routes => routes;

    /// <summary>The transport used when no route matches.</summary>
    public IOutboundTransport Default => defaultTransport;

    /// <summary>The transport that would make an attempt.</summary>
    public IOutboundTransport Choose(OutboundRequest request)
    {
        foreach (OutboundRoute r in routes)
        {
            if (r.Matches(request)) return r.Transport;
        }
        return defaultTransport;
    }

    /// <inheritdoc/>
    public Task<OutboundResult> DeliverAsync(OutboundRequest request, CancellationToken cancellationToken) =>
        Choose(request).DeliverAsync(request, cancellationToken);
}
