// The routes of the web listener, and nothing else (no static files, no directory listings):
//   http and https   GET /.well-known/acme-challenge/TOKEN        ACME http-01 (RFC 8555 §8.3)
//   https only       GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt   MTA-STS policy (RFC 8461 §3.2)
//                    GET https://autoconfig.DOMAIN/mail/config-v1.1.xml   Thunderbird autoconfig
//                        (also /.well-known/autoconfig/mail/config-v1.1.xml)
//                    POST https://autodiscover.DOMAIN/autodiscover/autodiscover.xml   Outlook (POX)
//                    GET https://autoconfig.DOMAIN/apple.mobileconfig?emailaddress=ADDR   Apple profile
//   metrics only     GET http://IP:PORT/metrics                   Prometheus text format (PrometheusExporter)
// Every other request is 404; DOMAIN must be one of the server's mail domains. The policy is
// served only over HTTPS because senders fetch it only so (RFC 8461 §3.3) and a policy over plain
// HTTP would suggest otherwise.
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace Postern.Web;

/// <summary>Answers the web listener's requests.</summary>
internal sealed class MailWebSite(WebServerOptions options, ILogger logger)
{
    private readonly MailSiteContent _content = options.Content;

    private bool IsMetricsEndPoint(ConnectionInfo connection)
    {
        foreach (var ep in options.MetricsEndPoints)
        {
            if (ep.Port == connection.LocalPort && (ep.Address.Equals(System.Net.IPAddress.Any) || ep.Address.Equals(System.Net.IPAddress.IPv6Any)
                || (connection.LocalIpAddress is { } local && (local.Equals(ep.Address) || (local.IsIPv4MappedToIPv6 && local.MapToIPv4().Equals(ep.Address))))))
                return true;
        }
        return false;
    }

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        response.Headers[HeaderNames.XContentTypeOptions] = "nosniff";
        string path = request.Path.Value ?? "";
        string host = HostOf(request);
        bool get = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);

        if (IsMetricsEndPoint(context.Connection))
        {
            // A metrics endpoint serves /metrics and nothing else (no ACME, no policy, no autoconfig).
            if (get && path == "/metrics" && options.Metrics is { } metrics)
            {
                await WriteAsync(context, 200, "text/plain; version=0.0.4; charset=utf-8", Encoding.UTF8.GetBytes(metrics.Render()), cache: false).ConfigureAwait(false);
                return;
            }
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }

        if (path.StartsWith(Security.Acme.Http01ChallengeResponder.PathPrefix, StringComparison.Ordinal))
        {
            if (get && options.Http01 is { } http01 && http01.TryGetResponse(path, out string keyAuthorization))
            {
                logger.LogInformation("acme http-01 answered path={Path} from={Remote}", path, context.Connection.RemoteIpAddress);
                await WriteAsync(context, 200, "application/octet-stream", Encoding.ASCII.GetBytes(keyAuthorization), cache: false).ConfigureAwait(false);
                return;
            }
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }
        if (!request.IsHttps)
        {
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }

        // MTA-STS: only at mta-sts.DOMAIN.
        if (path == MtaStsPolicyFile.Path)
        {
            if (get && _content.MtaStsPolicy is { } policy && host.StartsWith("mta-sts.", StringComparison.Ordinal)
                && await IsLocalAsync(host["mta-sts.".Length..], context.RequestAborted).ConfigureAwait(false))
            {
                logger.LogInformation("mta-sts policy served host={Host} from={Remote}", host, context.Connection.RemoteIpAddress);
                await WriteAsync(context, 200, "text/plain; charset=utf-8", Encoding.ASCII.GetBytes(MtaStsPolicyFile.Text(policy)), cache: true).ConfigureAwait(false);
                return;
            }
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }

        if (_content.ClientSettings is not { } settings)
        {
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }
        if (get && path is "/mail/config-v1.1.xml" or "/.well-known/autoconfig/mail/config-v1.1.xml")
        {
            string? domain = await DomainForAsync(host, "autoconfig.", request.Query["emailaddress"], context.RequestAborted).ConfigureAwait(false);
            if (domain is not null)
            {
                logger.LogInformation("autoconfig served domain={Domain} from={Remote}", domain, context.Connection.RemoteIpAddress);
                await WriteAsync(context, 200, "application/xml; charset=utf-8", ClientConfiguration.Thunderbird(domain, settings), cache: false).ConfigureAwait(false);
                return;
            }
        }
        else if (get && path == "/apple.mobileconfig")
        {
            string email = request.Query["emailaddress"].ToString().Trim();
            string? domain = await DomainForAsync(host, "autoconfig.", email, context.RequestAborted).ConfigureAwait(false);
            if (domain is not null && AddressDomain(email) == domain)
            {
                logger.LogInformation("apple profile served domain={Domain} from={Remote}", domain, context.Connection.RemoteIpAddress);
                response.Headers.ContentDisposition = "attachment; filename=\"" + domain + ".mobileconfig\"";
                await WriteAsync(context, 200, "application/x-apple-aspen-config", ClientConfiguration.AppleProfile(email, domain, settings), cache: false).ConfigureAwait(false);
                return;
            }
        }
        else if (path.Equals("/autodiscover/autodiscover.xml", StringComparison.OrdinalIgnoreCase))
        {
            if (!HttpMethods.IsPost(request.Method))
            {
                response.Headers.Allow = "POST";
                await WriteAsync(context, 405, "text/plain; charset=utf-8", "POST an Autodiscover request\n"u8.ToArray(), cache: false).ConfigureAwait(false);
                return;
            }
            await AutodiscoverAsync(context, host, settings).ConfigureAwait(false);
            return;
        }
        await NotFoundAsync(context).ConfigureAwait(false);
    }

    private async Task AutodiscoverAsync(HttpContext context, string host, MailClientSettings settings)
    {
        var request = context.Request;
        if (request.ContentLength > ClientConfiguration.MaxAutodiscoverRequestBytes)
        {
            await WriteAsync(context, 413, "text/plain; charset=utf-8", "request too large\n"u8.ToArray(), cache: false).ConfigureAwait(false);
            return;
        }
        // Read at most the limit (+1 to tell "too large"), whatever Content-Length or chunking says.
        byte[] buffer = new byte[ClientConfiguration.MaxAutodiscoverRequestBytes + 1];
        int length = 0;
        try
        {
            while (length < buffer.Length)
            {
                int n = await request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted).ConfigureAwait(false);
                if (n == 0) break;
                length += n;
            }
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own body limit (WebServer.MaxRequestBodyBytes) or a malformed chunked body.
            await WriteAsync(context, e.StatusCode, "text/plain; charset=utf-8", "bad request body\n"u8.ToArray(), cache: false).ConfigureAwait(false);
            return;
        }
        if (length > ClientConfiguration.MaxAutodiscoverRequestBytes)
        {
            await WriteAsync(context, 413, "text/plain; charset=utf-8", "request too large\n"u8.ToArray(), cache: false).ConfigureAwait(false);
            return;
        }
        string? email = ClientConfiguration.ReadAutodiscoverRequest(buffer.AsSpan(0, length), out string? error);
        if (email is null)
        {
            logger.LogDebug("autodiscover request refused from={Remote}: {Error}", context.Connection.RemoteIpAddress, error);
            await WriteAsync(context, 400, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes("bad request: " + error + "\n"), cache: false).ConfigureAwait(false);
            return;
        }
        string? domain = await DomainForAsync(host, "autodiscover.", email, context.RequestAborted).ConfigureAwait(false);
        if (domain is null || AddressDomain(email) != domain)
        {
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }
        logger.LogInformation("autodiscover served domain={Domain} from={Remote}", domain, context.Connection.RemoteIpAddress);
        await WriteAsync(context, 200, "application/xml; charset=utf-8", ClientConfiguration.Autodiscover(email, settings), cache: false).ConfigureAwait(false);
    }

    /// <summary>
    /// The mail domain a request is about: DOMAIN for PREFIX.DOMAIN (also autoconfig. for autodiscover,
    /// as clients try both), or the address's domain when asked at the server's own host name.
    /// </summary>
    private async ValueTask<string?> DomainForAsync(string host, string prefix, string? email, CancellationToken ct)
    {
        foreach (string p in new[] { prefix, "autoconfig.", "autodiscover." }.Distinct())
        {
            if (host.StartsWith(p, StringComparison.Ordinal) && await IsLocalAsync(host[p.Length..], ct).ConfigureAwait(false))
                return host[p.Length..];
        }
        if (_content.ServerHostNames.Contains(host, StringComparer.OrdinalIgnoreCase) && AddressDomain(email) is { } d && await IsLocalAsync(d, ct).ConfigureAwait(false))
            return d;
        return null;
    }

    private static string? AddressDomain(string? email)
    {
        if (string.IsNullOrEmpty(email)) return null;
        int at = email.LastIndexOf('@');
        if (at <= 0 || at == email.Length - 1) return null;
        try
        {
            return new IdnMapping().GetAscii(email[(at + 1)..].TrimEnd('.')).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private async ValueTask<bool> IsLocalAsync(string domain, CancellationToken ct) =>
        domain.Length > 0 && domain.Length <= 253 && await _content.IsLocalDomain(domain, ct).ConfigureAwait(false);

    /// <summary>The request's host name, lower case, without port and trailing dot.</summary>
    private static string HostOf(HttpRequest request)
    {
        string host = request.Host.Host;
        return host.TrimEnd('.').ToLowerInvariant();
    }

    private static Task NotFoundAsync(HttpContext context) =>
        WriteAsync(context, 404, "text/plain; charset=utf-8", "not found\n"u8.ToArray(), cache: false);

    private static async Task WriteAsync(HttpContext context, int status, string contentType, byte[] body, bool cache)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength = body.Length;
        // The policy may be cached briefly by proxies; senders cache it by max_age themselves.
        response.Headers.CacheControl = cache ? "max-age=300" : "no-store";
        if (!HttpMethods.IsHead(context.Request.Method))
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }
}
