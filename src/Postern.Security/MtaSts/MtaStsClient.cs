using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Postern.Dns;

namespace Postern.Security.MtaSts;

// How a sending server finds the MTA-STS policy of a recipient domain (RFC 8461 §3):
//   1. Look up the TXT record at _mta-sts.DOMAIN. Only that name is queried: when the
//      recipient domain itself is a CNAME, its target's policy is not consulted (a single
//      unauthenticated CNAME answer must not redirect the policy lookup to another domain).
//   2. With a cached, unexpired policy of the same id, use the cache.
//   3. Otherwise fetch https://mta-sts.DOMAIN/.well-known/mta-sts.txt: certificate verified
//      (system CAs) for that name, no redirects, a time limit, at most 64 KiB, text/plain.
//   4. When the record is missing or invalid, or the fetch fails, a cached unexpired policy
//      stays in force (that is what protects against an attacker stripping the TXT record).
// The cache is an interface so that the server keeps policies in its database.

/// <summary>A policy as remembered between deliveries.</summary>
/// <param name="Domain">The recipient domain (lower case, A-labels).</param>
/// <param name="Id">The id of the TXT record the policy was fetched for.</param>
/// <param name="Policy">The policy.</param>
/// <param name="Fetched">When it was fetched.</param>
public sealed record CachedMtaStsPolicy(string Domain, string Id, MtaStsPolicy Policy, DateTimeOffset Fetched)
{
    /// <summary>When the policy stops applying (fetch time plus max_age).</summary>
    public DateTimeOffset Expires => Fetched + Policy.MaxAge;
}

/// <summary>Where MTA-STS policies are remembered.</summary>
public interface IMtaStsPolicyCache
{
    /// <summary>The cached policy of a domain, expired or not, or null.</summary>
    ValueTask<CachedMtaStsPolicy?> GetAsync(string domain, CancellationToken cancellationToken);

    /// <summary>Stores or replaces the policy of a domain.</summary>
    ValueTask PutAsync(CachedMtaStsPolicy policy, CancellationToken cancellationToken);
}

/// <summary>An in-memory cache of at most <see cref="MaxEntries"/> domains (for tools and tests; the server keeps them in its database).</summary>
public sealed class InMemoryMtaStsPolicyCache : IMtaStsPolicyCache
{
    /// <summary>Entries kept; past it the oldest fetch is dropped.</summary>
    public const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<string, CachedMtaStsPolicy> _entries = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public ValueTask<CachedMtaStsPolicy?> GetAsync(string domain, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_entries.TryGetValue(domain, out var p) ? p : null);

    /// <inheritdoc/>
    public ValueTask PutAsync(CachedMtaStsPolicy policy, CancellationToken cancellationToken)
    {
        if (_entries.Count >= MaxEntries && !_entries.ContainsKey(policy.Domain))
        {
            var oldest = _entries.Values.MinBy(e => e.Fetched);
            if (oldest is not null)
                _entries.TryRemove(oldest.Domain, out _);
        }
        _entries[policy.Domain] = policy;
        return ValueTask.CompletedTask;
    }
}

/// <summary>The policy that applies to a recipient domain, and how it was found.</summary>
/// <param name="Policy">The policy in force, or null when the domain has none.</param>
/// <param name="Id">Its id.</param>
/// <param name="FromCache">True when the cached copy was used.</param>
/// <param name="Error">What went wrong on the way (invalid record, fetch failure), for logs and TLS reports; null when nothing did.</param>
/// <param name="PolicyInvalid">The policy file was fetched but is not a valid policy (TLSRPT <c>sts-policy-invalid</c>, not <c>sts-policy-fetch-error</c>).</param>
/// <param name="RecordInvalid">
/// The <c>_mta-sts</c> TXT record is unusable: more than one <c>v=STSv1</c> record, or one without a valid id (RFC 8461 §3.1).
/// It counts as no record, so a cached unexpired policy stays in force (§3.3); TLS reports get an <c>sts-policy-invalid</c> failure.
/// </param>
public sealed record MtaStsLookup(MtaStsPolicy? Policy, string? Id, bool FromCache, string? Error, bool PolicyInvalid = false, bool RecordInvalid = false)
{
    /// <summary>No policy.</summary>
    public static MtaStsLookup NoPolicy { get; } = new(null, null, false, null);
}

/// <summary>Options of the HTTPS policy fetch.</summary>
public sealed class MtaStsFetchOptions
{
    /// <summary>Time limit of one fetch, connection included (RFC 8461 §3.3 suggests at most a minute).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The HTTPS port (443; tests use others).</summary>
    public int Port { get; init; } = 443;

    /// <summary>Roots to trust instead of the system CA store (tests, private CAs); null for the system store.</summary>
    public X509Certificate2Collection? TrustedRoots { get; init; }

    /// <summary>Overrides how the policy host's addresses are found (tests); by default the DNS resolver is asked.</summary>
    public Func<string, CancellationToken, ValueTask<IReadOnlyList<IPAddress>>>? ResolveHost { get; init; }
}

/// <summary>Finds and caches the MTA-STS policies of recipient domains (RFC 8461).</summary>
public sealed class MtaStsClient : IDisposable
{
    private readonly IDnsResolver _dns;
    private readonly IMtaStsPolicyCache _cache;
    private readonly MtaStsFetchOptions _options;
    private readonly TimeProvider _time;
    private readonly HttpClient _http;

    /// <summary>Creates a client.</summary>
    public MtaStsClient(IDnsResolver dns, IMtaStsPolicyCache cache, MtaStsFetchOptions? options = null, TimeProvider? time = null)
    {
        _dns = dns;
        _cache = cache;
        _options = options ?? new MtaStsFetchOptions();
        _time = time ?? TimeProvider.System;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // RFC 8461 §3.3: redirects MUST NOT be followed.
            UseCookies = false,
            UseProxy = false,
            ConnectTimeout = _options.Timeout,
            MaxResponseHeadersLength = 16, // KiB
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            ConnectCallback = ConnectAsync,
        };
        if (_options.TrustedRoots is { } roots)
            handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, sent, errors) => ValidateWithRoots(cert, sent, errors, roots);
        _http = new HttpClient(handler) { Timeout = _options.Timeout };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Postern", "1"));
    }

    /// <summary>The policy in force for <paramref name="domain"/> (RFC 8461 §3.1-3.3: a live policy, else a cached unexpired one); never throws for network or DNS errors.</summary>
    public async Task<MtaStsLookup> GetPolicyAsync(string domain, CancellationToken cancellationToken)
    {
        domain = domain.TrimEnd('.').ToLowerInvariant();
        DateTimeOffset now = _time.GetUtcNow();
        CachedMtaStsPolicy? cached = await _cache.GetAsync(domain, cancellationToken).ConfigureAwait(false);
        if (cached is not null && cached.Expires <= now)
            cached = null;

        (MtaStsRecord? record, string? recordError, bool recordInvalid) = await LookupRecordCoreAsync(domain, cancellationToken).ConfigureAwait(false);
        // RFC 8461 §3.1: an invalid record (or several) means no policy is available now: nothing new is fetched,
        // and a cached unexpired policy stays in force (§3.3: "the sender MUST apply that cached policy").
        if (record is null)
        {
            return cached is not null
                ? new MtaStsLookup(cached.Policy, cached.Id, true, recordError, RecordInvalid: recordInvalid)
                : MtaStsLookup.NoPolicy with { Error = recordError, RecordInvalid = recordInvalid };
        }
        if (cached is not null && cached.Id == record.Id)
            return new MtaStsLookup(cached.Policy, cached.Id, true, null);

        (MtaStsPolicy? policy, string? fetchError, bool invalid) = await FetchCoreAsync(domain, cancellationToken).ConfigureAwait(false);
        if (policy is null)
            return cached is not null ? new MtaStsLookup(cached.Policy, cached.Id, true, fetchError, invalid) : new MtaStsLookup(null, record.Id, false, fetchError, invalid);
        await _cache.PutAsync(new CachedMtaStsPolicy(domain, record.Id, policy, now), cancellationToken).ConfigureAwait(false);
        return new MtaStsLookup(policy, record.Id, false, null);
    }

    /// <summary>
    /// Proactive refresh (RFC 8461 §3.3: cached policies SHOULD be refreshed before they expire, about once a day): fetches the policy of a domain again while its record is
    /// still published, so that a cached policy does not run out between deliveries. A missing
    /// record or a failed fetch leaves the cache as it is (the policy stays until max_age ends).
    /// </summary>
    /// <returns>Null when the policy was refreshed, else why not.</returns>
    public async Task<string?> RefreshAsync(string domain, CancellationToken cancellationToken)
    {
        domain = domain.TrimEnd('.').ToLowerInvariant();
        (MtaStsRecord? record, string? recordError) = await LookupRecordAsync(domain, cancellationToken).ConfigureAwait(false);
        if (record is null)
            return recordError ?? $"no MTA-STS record at _mta-sts.{domain}";
        (MtaStsPolicy? policy, string? fetchError, _) = await FetchCoreAsync(domain, cancellationToken).ConfigureAwait(false);
        if (policy is null)
            return fetchError;
        await _cache.PutAsync(new CachedMtaStsPolicy(domain, record.Id, policy, _time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>The <c>_mta-sts</c> TXT record of a domain, or null with the reason (none is not an error).</summary>
    public async Task<(MtaStsRecord? Record, string? Error)> LookupRecordAsync(string domain, CancellationToken cancellationToken)
    {
        (MtaStsRecord? record, string? error, _) = await LookupRecordCoreAsync(domain, cancellationToken).ConfigureAwait(false);
        return (record, error);
    }

    /// <summary>The record lookup, also telling whether a failure was an invalid record (rather than none or a DNS error).</summary>
    private async Task<(MtaStsRecord? Record, string? Error, bool Invalid)> LookupRecordCoreAsync(string domain, CancellationToken cancellationToken)
    {
        DnsResult<TxtRecord> txt = await _dns.LookupTxtAsync("_mta-sts." + domain, cancellationToken).ConfigureAwait(false);
        if (txt.Kind == DnsOutcomeKind.TemporaryFailure)
            return (null, $"temporary DNS error looking up _mta-sts.{domain}: {txt.Outcome}", false);
        if (!txt.IsSuccess)
            return (null, null, false);
        // RFC 8461 §3.1: records not starting with v=STSv1 are discarded; exactly one must remain.
        var candidates = txt.Records.Select(r => r.Text).Where(t => t.StartsWith("v=STSv1", StringComparison.Ordinal)).ToList();
        if (candidates.Count == 0)
            return (null, null, false);
        if (candidates.Count > 1)
            return (null, $"{candidates.Count} MTA-STS records at _mta-sts.{domain}", true);
        MtaStsRecord? record = MtaStsRecord.Parse(candidates[0], out string? error);
        return (record, record is null ? $"invalid MTA-STS record at _mta-sts.{domain}: {error}" : null, record is null);
    }

    /// <summary>Fetches and parses https://mta-sts.DOMAIN/.well-known/mta-sts.txt; null with the reason on any failure.</summary>
    public async Task<(MtaStsPolicy? Policy, string? Error)> FetchPolicyAsync(string domain, CancellationToken cancellationToken)
    {
        (MtaStsPolicy? policy, string? error, _) = await FetchCoreAsync(domain, cancellationToken).ConfigureAwait(false);
        return (policy, error);
    }

    /// <summary>The fetch, also telling whether a failure was an invalid policy (rather than no policy fetched).</summary>
    private async Task<(MtaStsPolicy? Policy, string? Error, bool Invalid)> FetchCoreAsync(string domain, CancellationToken cancellationToken)
    {
        string host = "mta-sts." + domain;
        string url = _options.Port == 443
            ? $"https://{host}/.well-known/mta-sts.txt"
            : $"https://{host}:{_options.Port}/.well-known/mta-sts.txt";
        // One deadline for the whole fetch, body included: a server dripping its body slowly is bounded too.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.Timeout);
        CancellationToken token = deadline.Token;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
                return (null, $"{url}: HTTP {(int)response.StatusCode}{(response.Headers.Location is { } loc ? " to " + loc : "")}", false);
            if (response.Content.Headers.ContentType?.MediaType is not "text/plain")
                return (null, $"{url}: media type {response.Content.Headers.ContentType?.MediaType ?? "(none)"}, not text/plain", false);
            if (response.Content.Headers.ContentLength > MtaStsPolicy.MaxSize)
                return (null, $"{url}: policy larger than {MtaStsPolicy.MaxSize} bytes", false);
            await using Stream body = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
            byte[] buffer = new byte[MtaStsPolicy.MaxSize + 1];
            int total = 0, n;
            while (total < buffer.Length && (n = await body.ReadAsync(buffer.AsMemory(total), token).ConfigureAwait(false)) > 0)
                total += n;
            MtaStsPolicy? policy = MtaStsPolicy.Parse(buffer.AsSpan(0, total), out string? error);
            return (policy, policy is null ? $"{url}: {error}" : null, policy is null);
        }
        catch (HttpRequestException ex)
        {
            return (null, $"{url}: {Describe(ex)}", false);
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"{url}: {ex.Message}", false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"{url}: no answer within {_options.Timeout.TotalSeconds:0} s", false);
        }
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        string host = context.DnsEndPoint.Host;
        IReadOnlyList<IPAddress> addresses;
        if (_options.ResolveHost is { } resolve)
        {
            addresses = await resolve(host, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            DnsResult<IPAddress> ips = await _dns.LookupIPAsync(host, cancellationToken).ConfigureAwait(false);
            if (!ips.IsSuccess || ips.Records.Count == 0)
                throw new HttpRequestException($"cannot resolve {host}: {ips.Outcome}");
            addresses = ips.Records;
        }
        Exception? last = null;
        foreach (IPAddress ip in addresses.OrderBy(a => a.AddressFamily == AddressFamily.InterNetworkV6 ? 0 : 1))
        {
            var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(ip, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
        }
        throw new HttpRequestException($"cannot connect to {host}: {last?.Message ?? "no addresses"}", last);
    }

    private static bool ValidateWithRoots(X509Certificate? certificate, X509Chain? sent, SslPolicyErrors errors, X509Certificate2Collection roots)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
            return false;
        using var cert = new X509Certificate2(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        // The intermediates the server sent (the platform's chain holds them in its extra store).
        if (sent is not null)
            chain.ChainPolicy.ExtraStore.AddRange(sent.ChainPolicy.ExtraStore);
        return chain.Build(cert);
    }

    private static string Describe(HttpRequestException ex) =>
        ex.InnerException is { } inner && inner.Message != ex.Message ? $"{ex.Message} ({inner.Message})" : ex.Message;

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();
}
