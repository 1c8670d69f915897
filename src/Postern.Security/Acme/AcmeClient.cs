// An ACME client (RFC 8555). Every request after the directory is a JWS POST signed with the
// account key; each carries a fresh anti-replay nonce taken from the previous response
// (§6.5), and a badNonce refusal is retried with the nonce of the refusal (§6.5: "clients
// SHOULD retry"). Waiting for the server (authorizations, order processing) honours
// Retry-After (§7.5.1, §7.4) within a bounded time. Responses are size-limited; errors come back
// as problem documents (RFC 7807) and surface as AcmeException with a readable message.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Postern.Security.Acme;

/// <summary>Options of an <see cref="AcmeClient"/>.</summary>
public sealed record AcmeClientOptions
{
    /// <summary>URL of the ACME directory, e.g. https://acme-v02.api.letsencrypt.org/directory.</summary>
    public required Uri DirectoryUri { get; init; }

    /// <summary>
    /// Extra root certificates to trust for the ACME server's HTTPS certificate only (a test CA
    /// such as pebble's). Empty: the system's trust store.
    /// </summary>
    public X509Certificate2Collection TrustedRoots { get; init; } = [];

    /// <summary>Timeout of one HTTP request.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one wait for a challenge validation or an order's processing may take.</summary>
    public TimeSpan PollTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Longest pause between two polls, whatever Retry-After says.</summary>
    public TimeSpan MaxPollInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Clock, for tests.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>An External Account Binding credential handed out by the CA (RFC 8555 §7.3.4).</summary>
/// <param name="KeyId">The key identifier.</param>
/// <param name="MacKey">The HMAC key (base64url-decoded).</param>
public sealed record ExternalAccountBinding(string KeyId, byte[] MacKey);

/// <summary>Talks to one ACME server with one account key.</summary>
public sealed class AcmeClient : IDisposable
{
    /// <summary>Most identifiers in one order.</summary>
    public const int MaxIdentifiers = 100;
    /// <summary>Largest response body read (a certificate chain is a few kilobytes).</summary>
    public const int MaxResponseBytes = 1 << 20;
    private const int MaxBadNonceRetries = 10;

    private readonly AcmeClientOptions _options;
    private readonly AcmeAccountKey _key;
    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<string> _nonces = new();
    private AcmeDirectory? _directory;

    /// <summary>Creates a client; the account key stays owned by the caller.</summary>
    public AcmeClient(AcmeClientOptions options, AcmeAccountKey accountKey, ILogger? logger = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _key = accountKey;
        _logger = logger ?? NullLogger.Instance;
        _http = new HttpClient(handler ?? CreateHandler(options.TrustedRoots), disposeHandler: true) { Timeout = options.RequestTimeout };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Postern", "1.0"));
    }

    /// <summary>The account URL ("kid") once <see cref="RegisterAccountAsync"/> succeeded.</summary>
    public string? AccountUrl { get; private set; }

    /// <summary>
    /// An HTTP handler that validates the server certificate normally, or, given roots, against
    /// those roots only (for test CAs). Validation is never switched off.
    /// </summary>
    public static SocketsHttpHandler CreateHandler(X509Certificate2Collection trustedRoots)
    {
        ArgumentNullException.ThrowIfNull(trustedRoots);
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false };
        if (trustedRoots.Count > 0)
        {
            var roots = new X509Certificate2Collection(trustedRoots);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, chain, errors) =>
            {
                // Host name mismatches and a missing certificate are never forgiven.
                if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None || cert is null) return false;
                if (errors == SslPolicyErrors.None) return true;
                using var custom = new X509Chain();
                custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                custom.ChainPolicy.CustomTrustStore.AddRange(roots);
                custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                if (chain is not null)
                {
                    foreach (var e in chain.ChainElements.Skip(1)) custom.ChainPolicy.ExtraStore.Add(e.Certificate);
                }
                return custom.Build(cert as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(cert.GetRawCertData()));
            };
        }
        return handler;
    }

    /// <summary>The key authorization for a challenge token (RFC 8555 §8.1).</summary>
    public string KeyAuthorization(string token) => _key.KeyAuthorization(token);

    /// <summary>Fetches (once) the directory.</summary>
    public async Task<AcmeDirectory> GetDirectoryAsync(CancellationToken cancellationToken)
    {
        if (_directory is not null) return _directory;
        using var request = new HttpRequestMessage(HttpMethod.Get, _options.DirectoryUri);
        var (response, body) = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        using (response)
        {
            if (!response.IsSuccessStatusCode)
                throw Failure($"directory {_options.DirectoryUri}", response, body);
            _directory = AcmeDirectory.Parse(ParseJson(body, _options.DirectoryUri), _options.DirectoryUri);
            return _directory;
        }
    }

    /// <summary>
    /// Creates the account for this key, or finds the existing one (RFC 8555 §7.3), agreeing to
    /// the terms of service. Returns the account URL.
    /// </summary>
    public async Task<string> RegisterAccountAsync(IReadOnlyList<string> contactEmails, ExternalAccountBinding? binding, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(contactEmails);
        var dir = await GetDirectoryAsync(cancellationToken).ConfigureAwait(false);
        if (dir.ExternalAccountRequired && binding is null)
            throw new AcmeException($"the ACME server {_options.DirectoryUri} requires External Account Binding: set its key id and HMAC key");
        var sb = new StringBuilder("{\"termsOfServiceAgreed\":true");
        if (contactEmails.Count > 0)
            sb.Append(",\"contact\":").Append(JsonSerializer.Serialize(contactEmails.Select(c => "mailto:" + c).ToArray()));
        sb.Append('}');
        string? eab = binding is null ? null : _key.ExternalAccountBinding(binding.KeyId, binding.MacKey, dir.NewAccount.AbsoluteUri);
        var (response, body) = await PostAsync(dir.NewAccount, sb.ToString(), useKid: false, cancellationToken, eab).ConfigureAwait(false);
        using (response)
        {
            // 201: created; 200: an account with this key already exists (§7.3.1).
            AccountUrl = response.Headers.Location?.AbsoluteUri ?? throw new AcmeException("the ACME server created an account without telling its URL (no Location)");
            var status = AcmeJson.String(ParseJson(body, dir.NewAccount), "status");
            if (status is not (null or "valid"))
                throw new AcmeException($"ACME account {AccountUrl} is {status}");
            _logger.LogInformation("acme account={Account} created={Created}", AccountUrl, response.StatusCode == HttpStatusCode.Created);
            return AccountUrl;
        }
    }

    /// <summary>Orders a certificate for DNS names (RFC 8555 §7.4).</summary>
    public async Task<AcmeOrder> NewOrderAsync(IReadOnlyList<string> dnsNames, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dnsNames);
        if (dnsNames.Count == 0 || dnsNames.Count > MaxIdentifiers)
            throw new ArgumentException($"an order has 1 to {MaxIdentifiers} names", nameof(dnsNames));
        var dir = await GetDirectoryAsync(cancellationToken).ConfigureAwait(false);
        string payload = JsonSerializer.Serialize(new { identifiers = dnsNames.Select(n => new { type = "dns", value = n }).ToArray() });
        var (response, body) = await PostAsync(dir.NewOrder, payload, useKid: true, cancellationToken).ConfigureAwait(false);
        using (response)
        {
            var url = response.Headers.Location ?? throw new AcmeException("the ACME server created an order without telling its URL (no Location)");
            return AcmeOrder.Parse(ParseJson(body, dir.NewOrder), url);
        }
    }

    /// <summary>Reads an order (POST-as-GET).</summary>
    public async Task<AcmeOrder> GetOrderAsync(Uri url, CancellationToken cancellationToken)
    {
        var (response, body) = await PostAsync(url, null, useKid: true, cancellationToken).ConfigureAwait(false);
        using (response) return AcmeOrder.Parse(ParseJson(body, url), url);
    }

    /// <summary>Reads an authorization (POST-as-GET).</summary>
    public async Task<AcmeAuthorization> GetAuthorizationAsync(Uri url, CancellationToken cancellationToken)
    {
        var (response, body) = await PostAsync(url, null, useKid: true, cancellationToken).ConfigureAwait(false);
        using (response) return AcmeAuthorization.Parse(ParseJson(body, url), url);
    }

    /// <summary>Tells the server that a challenge is ready to be validated (RFC 8555 §7.5.1: POST "{}").</summary>
    public async Task RespondToChallengeAsync(AcmeChallenge challenge, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(challenge);
        var (response, _) = await PostAsync(challenge.Url, "{}", useKid: true, cancellationToken).ConfigureAwait(false);
        response.Dispose();
    }

    /// <summary>Polls an authorization until it is no longer pending (bounded by <see cref="AcmeClientOptions.PollTimeout"/>).</summary>
    public async Task<AcmeAuthorization> WaitForAuthorizationAsync(Uri url, CancellationToken cancellationToken)
    {
        long deadline = Deadline();
        while (true)
        {
            var (response, body) = await PostAsync(url, null, useKid: true, cancellationToken).ConfigureAwait(false);
            AcmeAuthorization authz;
            using (response) authz = AcmeAuthorization.Parse(ParseJson(body, url), url);
            if (authz.Status != "pending") return authz;
            await PauseAsync(response, deadline, $"validation of {authz.Identifier}", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Polls an order while it is pending (its authorizations being validated), bounded by <see cref="AcmeClientOptions.PollTimeout"/>.</summary>
    public async Task<AcmeOrder> WaitForOrderAsync(Uri url, CancellationToken cancellationToken)
    {
        long deadline = Deadline();
        while (true)
        {
            var (response, body) = await PostAsync(url, null, useKid: true, cancellationToken).ConfigureAwait(false);
            AcmeOrder order;
            using (response) order = AcmeOrder.Parse(ParseJson(body, url), url);
            if (order.Status != "pending") return order;
            await PauseAsync(response, deadline, "order", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends the CSR (DER) to the order's finalize URL (RFC 8555 §7.4) and waits until the order is valid.</summary>
    public async Task<AcmeOrder> FinalizeAsync(AcmeOrder order, byte[] csrDer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(order);
        ArgumentNullException.ThrowIfNull(csrDer);
        string payload = "{\"csr\":\"" + Base64Url.Encode(csrDer) + "\"}";
        var (response, body) = await PostAsync(order.Finalize, payload, useKid: true, cancellationToken).ConfigureAwait(false);
        long deadline = Deadline();
        while (true)
        {
            using (response) order = AcmeOrder.Parse(ParseJson(body, order.Url), order.Url);
            if (order.Status == "valid" && order.Certificate is not null) return order;
            if (order.Status == "invalid")
                throw new AcmeException($"the order for the certificate failed: {order.Error?.ToString() ?? "no reason given"}", order.Error);
            if (order.Status is not ("processing" or "valid"))
                throw new AcmeException($"the order is {order.Status} after finalization; expected processing or valid");
            await PauseAsync(response, deadline, "certificate issuance", cancellationToken).ConfigureAwait(false);
            (response, body) = await PostAsync(order.Url, null, useKid: true, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Downloads the issued certificate chain as PEM, leaf first (RFC 8555 §7.4.2).</summary>
    public async Task<string> DownloadCertificateAsync(Uri url, CancellationToken cancellationToken)
    {
        var (response, body) = await PostAsync(url, null, useKid: true, cancellationToken, accept: "application/pem-certificate-chain").ConfigureAwait(false);
        using (response)
        {
            string pem = Encoding.ASCII.GetString(body);
            if (!pem.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
                throw new AcmeException($"the certificate at {url} is not a PEM chain");
            return pem;
        }
    }

    private long Deadline() => _options.Time.GetTimestamp() + (long)(_options.PollTimeout.TotalSeconds * _options.Time.TimestampFrequency);

    private async Task PauseAsync(HttpResponseMessage response, long deadline, string what, CancellationToken cancellationToken)
    {
        TimeSpan wait = TimeSpan.FromSeconds(1);
        // RFC 8555 §7.5.1 / §8.2: Retry-After as seconds or as an HTTP date.
        var ra = response.Headers.RetryAfter;
        if (ra?.Delta is { } delta) wait = delta;
        else if (ra?.Date is { } date) wait = date - _options.Time.GetUtcNow();
        if (wait < TimeSpan.FromMilliseconds(200)) wait = TimeSpan.FromMilliseconds(200);
        if (wait > _options.MaxPollInterval) wait = _options.MaxPollInterval;
        long now = _options.Time.GetTimestamp();
        if (now + (long)(wait.TotalSeconds * _options.Time.TimestampFrequency) > deadline)
            throw new AcmeException($"the ACME server did not complete the {what} within {_options.PollTimeout.TotalSeconds:0} seconds");
        await Task.Delay(wait, _options.Time, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string> NonceAsync(CancellationToken cancellationToken)
    {
        if (_nonces.TryDequeue(out var n)) return n;
        var dir = await GetDirectoryAsync(cancellationToken).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Head, dir.NewNonce);
        var (response, body) = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        using (response)
        {
            if (!response.IsSuccessStatusCode) throw Failure("new nonce", response, body);
            if (_nonces.TryDequeue(out n)) return n;
            throw new AcmeException($"the ACME server gave no Replay-Nonce at {dir.NewNonce}");
        }
    }

    private async Task<(HttpResponseMessage, byte[])> PostAsync(Uri url, string? payload, bool useKid, CancellationToken cancellationToken, string? eab = null, string? accept = null)
    {
        if (useKid && AccountUrl is null) throw new InvalidOperationException("register the account first");
        for (int attempt = 0; ; attempt++)
        {
            string nonce = await NonceAsync(cancellationToken).ConfigureAwait(false);
            byte[] jws = _key.Sign(url.AbsoluteUri, nonce, useKid ? AccountUrl : null, payload, eab);
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(jws) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/jose+json");
            if (accept is not null) request.Headers.Accept.ParseAdd(accept);
            var (response, body) = await SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode) return (response, body);
            var problem = AcmeProblem.Parse(body, (int)response.StatusCode);
            if (problem?.ShortType == "badNonce" && attempt < MaxBadNonceRetries)
            {
                // RFC 8555 §6.5: retry with the nonce this error response carried.
                _logger.LogDebug("acme badNonce url={Url}; retrying", url);
                response.Dispose();
                continue;
            }
            using (response) throw Failure(url.AbsolutePath, response, body);
        }
    }

    private async Task<(HttpResponseMessage, byte[])> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new AcmeException($"cannot reach the ACME server at {request.RequestUri}: {Innermost(e)}", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new AcmeException($"the ACME server at {request.RequestUri} did not answer within {_options.RequestTimeout.TotalSeconds:0} seconds", e);
        }
        try
        {
            if (response.Headers.TryGetValues("Replay-Nonce", out var values))
            {
                foreach (var v in values.Take(1)) _nonces.Enqueue(v);
            }
            byte[] body = await ReadBoundedAsync(response, cancellationToken).ConfigureAwait(false);
            return (response, body);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > MaxResponseBytes)
            throw new AcmeException($"the ACME server's answer is larger than {MaxResponseBytes} bytes");
        using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16384];
        int n;
        while ((n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + n > MaxResponseBytes) throw new AcmeException($"the ACME server's answer is larger than {MaxResponseBytes} bytes");
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e.Message;
    }

    private static JsonElement ParseJson(byte[] body, Uri from)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new AcmeException($"{from} did not answer with JSON: {e.Message}", e);
        }
    }

    private static AcmeException Failure(string what, HttpResponseMessage response, byte[] body)
    {
        var problem = AcmeProblem.Parse(body, (int)response.StatusCode);
        if (problem is not null && problem.Type != "about:blank" || problem?.Detail.Length > 0)
            return new AcmeException($"the ACME server refused ({what}): {problem}", problem);
        return new AcmeException($"the ACME server answered {(int)response.StatusCode} {response.ReasonPhrase} to {what}");
    }

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();
}
