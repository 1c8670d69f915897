// The network resolver: cache first, then each configured server in order, each try
// bounded by the timeout, rounds repeated up to Attempts times for servers that did not
// answer. A server that answers with an error (SERVFAIL, REFUSED) is not asked again in
// later rounds: its resolver has already tried. The AD bit counts only from servers the
// options trust.
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Postern.Dns.Wire;

namespace Postern.Dns;

/// <summary>
/// A DNS stub resolver: asks recursive resolvers over UDP (TCP after truncation) with EDNS0
/// and the DO bit, trusts their AD bit only when configured to, and caches answers by TTL.
/// </summary>
/// <remarks>Thread-safe; create one per process and share it.</remarks>
public sealed class DnsResolver : DnsResolverBase
{
    private readonly DnsResolverOptions _options;
    private readonly ILogger _logger;
    private readonly DnsCache _cache;
    private readonly ConcurrentDictionary<(string, DnsRecordType), Lazy<Task<DnsExchange>>> _inflight = new();

    /// <summary>Creates a resolver. Without servers in the options, reads them from resolv.conf.</summary>
    public DnsResolver(DnsResolverOptions? options = null, ILogger<DnsResolver>? logger = null)
        : base((options ?? new DnsResolverOptions()).MaxCnameChain)
    {
        options ??= new DnsResolverOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        TimeSpan timeout = options.Timeout;
        int attempts = options.Attempts;
        IReadOnlyList<IPEndPoint> servers = options.Servers;
        if (servers.Count == 0)
        {
            ResolvConf conf = ReadResolvConf(options.ResolvConfPath);
            servers = conf.Servers;
            timeout = conf.Timeout ?? timeout;
            attempts = conf.Attempts ?? attempts;
            // resolv.conf(5): without nameserver lines, the local machine is used.
            if (servers.Count == 0) servers = [new IPEndPoint(IPAddress.Loopback, DnsResolverOptions.DnsPort)];
        }
        _options = new DnsResolverOptions
        {
            Servers = servers,
            TrustedServers = options.TrustedServers,
            Timeout = timeout > TimeSpan.Zero ? timeout : TimeSpan.FromSeconds(3),
            Attempts = Math.Clamp(attempts, 1, 10),
            EdnsBufferSize = Math.Max((ushort)512, options.EdnsBufferSize),
            CacheMaxEntries = options.CacheMaxEntries,
            MaxCacheTtl = options.MaxCacheTtl,
            MaxNegativeCacheTtl = options.MaxNegativeCacheTtl,
            MaxCnameChain = MaxCnameChain,
            TimeProvider = options.TimeProvider,
        };
        _cache = new DnsCache(options.CacheMaxEntries, options.MaxCacheTtl, options.MaxNegativeCacheTtl, options.TimeProvider);
    }

    /// <summary>The servers asked, in order.</summary>
    public IReadOnlyList<IPEndPoint> Servers => _options.Servers;

    /// <summary>Number of answers currently cached.</summary>
    public int CachedCount => _cache.Count;

    /// <inheritdoc/>
    protected override async ValueTask<DnsExchange> ExchangeAsync(string name, DnsRecordType type, CancellationToken cancellationToken)
    {
        if (_cache.TryGet(name, type, out DnsExchange cached)) return cached;
        // Concurrent identical questions share one resolution (a burst of SPF checks for one
        // domain sends one query). The shared work is not tied to any one caller's token, so a
        // caller that gives up does not fail the others; it is bounded by timeouts anyway.
        var key = (name, type);
        Lazy<Task<DnsExchange>>? created = null;
        created = new Lazy<Task<DnsExchange>>(() => ResolveSharedAsync(key, created!));
        Lazy<Task<DnsExchange>> shared = _inflight.GetOrAdd(key, created);
        return await shared.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<DnsExchange> ResolveSharedAsync((string Name, DnsRecordType Type) key, Lazy<Task<DnsExchange>> self)
    {
        try
        {
            DnsExchange ex = await ResolveAsync(key.Name, key.Type, CancellationToken.None).ConfigureAwait(false);
            _cache.Store(key.Name, key.Type, ex);
            return ex;
        }
        finally
        {
            _inflight.TryRemove(new KeyValuePair<(string, DnsRecordType), Lazy<Task<DnsExchange>>>(key, self));
        }
    }

    private async Task<DnsExchange> ResolveAsync(string name, DnsRecordType type, CancellationToken cancellationToken)
    {
        IReadOnlyList<IPEndPoint> servers = _options.Servers;
        var answeredWithError = new bool[servers.Count];
        DnsExchange? errorAnswer = null;
        DnsExchange? lastFailure = null;
        for (int attempt = 0; attempt < _options.Attempts; attempt++)
        {
            for (int i = 0; i < servers.Count; i++)
            {
                if (answeredWithError[i]) continue;
                DnsExchange ex = await AskAsync(servers[i], name, type, cancellationToken).ConfigureAwait(false);
                if (ex.Outcome is DnsOutcome.Success or DnsOutcome.NoData or DnsOutcome.NxDomain) return ex;
                if (ex.Outcome is DnsOutcome.ServFail or DnsOutcome.Refused or DnsOutcome.FormatError or DnsOutcome.NotImplemented or DnsOutcome.OtherError)
                {
                    answeredWithError[i] = true;
                    errorAnswer ??= ex;
                }
                else
                {
                    lastFailure = ex;
                }
            }
        }
        return errorAnswer ?? lastFailure ?? DnsExchange.Failure(DnsOutcome.Timeout, null, "no servers");
    }

    private async Task<DnsExchange> AskAsync(IPEndPoint server, string name, DnsRecordType type, CancellationToken cancellationToken)
    {
        string serverText = server.ToString();
        var question = new DnsQuestion(name, type);
        bool edns = true;
        // At most two rounds: with EDNS, then without if the server rejects EDNS (RFC 6891 §7).
        for (int round = 0; round < 2; round++)
        {
            // RFC 5452 §9.2: ids must be unpredictable.
            ushort id = (ushort)RandomNumberGenerator.GetInt32(0, 65536);
            byte[] query = edns
                ? DnsMessageWriter.BuildQuery(id, name, type, _options.EdnsBufferSize, dnssecOk: true)
                : DnsMessageWriter.Write(new DnsMessage { Id = id, RecursionDesired = true, AuthenticData = true, Questions = { question } });
            TransportResult result;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(_options.Timeout);
                try
                {
                    result = await DnsTransport.QueryUdpAsync(server, query, id, question, edns ? _options.EdnsBufferSize : 512, timeout.Token).ConfigureAwait(false);
                    if (result.Response is { Truncated: true })
                    {
                        // RFC 7766 §5: a truncated UDP answer is retried over TCP.
                        _logger.LogDebug("dns truncated response, retrying over tcp name={Name} type={Type} server={Server}", name, type, serverText);
                        timeout.CancelAfter(_options.Timeout);
                        result = await DnsTransport.QueryTcpAsync(server, query, id, question, timeout.Token).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    _logger.LogDebug("dns timeout name={Name} type={Type} server={Server}", name, type, serverText);
                    return DnsExchange.Failure(DnsOutcome.Timeout, serverText,
                        string.Create(CultureInfo.InvariantCulture, $"no response within {_options.Timeout.TotalSeconds:0.###}s"));
                }
                catch (System.Net.Sockets.SocketException e)
                {
                    _logger.LogDebug("dns network error name={Name} type={Type} server={Server} error={Error}", name, type, serverText, e.SocketErrorCode);
                    return DnsExchange.Failure(DnsOutcome.NetworkError, serverText, e.Message);
                }
                catch (IOException e)
                {
                    return DnsExchange.Failure(DnsOutcome.NetworkError, serverText, e.Message);
                }
            }
            if (result.Response is not { } response)
            {
                _logger.LogWarning("dns rejected response name={Name} type={Type} server={Server} reason={Reason}", name, type, serverText, result.Detail);
                return DnsExchange.Failure(result.Failure, serverText, result.Detail);
            }
            if (edns && response.ResponseCode == DnsResponseCode.FormErr && response.Edns is null)
            {
                edns = false;
                continue;
            }
            DnsExchange ex = DnsExchange.FromResponse(response, _options.IsTrusted(server.Address), serverText);
            _logger.LogDebug("dns answer name={Name} type={Type} server={Server} rcode={Rcode} answers={Count} ad={Ad} authentic={Authentic}",
                name, type, serverText, response.ResponseCode, response.Answers.Count, response.AuthenticData, ex.Authentic);
            return ex;
        }
        return DnsExchange.Failure(DnsOutcome.FormatError, serverText, "server rejects queries with and without EDNS");
    }

    private ResolvConf ReadResolvConf(string path)
    {
        try
        {
            return DnsResolverOptions.ParseResolvConf(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("dns cannot read {Path}: {Error}; using 127.0.0.1", path, e.Message);
            return new ResolvConf([], null, null);
        }
    }
}
