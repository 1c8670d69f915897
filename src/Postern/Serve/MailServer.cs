// `postern serve`: composes the services of postern.conf over one data folder. Everything that
// can fail on configuration (certificates, data folder, ports) fails in StartAsync with a message
// naming the setting or file, before the server is announced; nothing is left listening then.
using System.Net;
using Microsoft.Extensions.Logging;
using Postern.Config;
using Postern.Dns;
using Postern.Security.AuthResults;
using Postern.Smtp.Delivery;
using Postern.Imap.Server;
using Postern.Security.Tls;
using Postern.Smtp.Server;
using Postern.Store.Reports;
using Postern.Store.Junk;
using Postern.Store.Sqlite;
using Postern.Queue;
using Postern.Queue.Sqlite;
using Postern.Queue.Reports;
using Postern.Smtp.Client;
using Postern.Setup;
using Postern.Web;

namespace Postern.Serve;

/// <summary>A running server: store, listeners and the control socket.</summary>
internal sealed class MailServer : IAsyncDisposable
{
    private readonly LoadedConfig _config;
    private readonly ILogger _logger;
    private readonly List<ImapServer> _imap = [];
    private readonly List<SmtpServer> _smtp = [];
    private readonly List<WebServer> _web = [];
    private readonly TaskCompletionSource _stopRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SqliteMailStore? _store;
    private DnsResolver? _dns;
    private ControlSocket? _control;
    private AcmeService? _acme;
    private DirectoryChangeCheck? _directoryChanges;
    private DmarcEvaluationRecorder? _dmarcEvaluations;
    private SqliteDmarcEvaluationStore? _dmarcStore;
    private TlsResultRecorder? _tlsResults;
    private SqliteReportLog? _reportLog;
    private ReportSender? _reports;
    private IncomingReportReceiver? _incomingReports;
    private IncomingReportRetention? _incomingRetention;
    private SqliteQueueStore? _queueStore;
    private OutgoingQueue? _queue;
    private JunkFilter? _junkFilter;
    private PrometheusExporter? _metrics;
    private JunkTrainer? _junkTrainer;
    private Postern.Security.MtaSts.MtaStsClient? _mtaSts;
    private MtaStsPolicyRefresher? _mtaStsRefresher;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task<string>> _imports = [];

    public MailServer(LoadedConfig config, ILogger logger)
    {
        _config = config;
        _logger = logger;
    }

    /// <summary>Completes when <c>postern stop</c> asks the server to stop.</summary>
    public Task StopRequested => _stopRequested.Task;

    /// <summary>What listens where, for the start-up message.</summary>
    public List<string> Endpoints { get; } = [];

    /// <summary>Opens the store, binds every listener and the control socket. Throws <see cref="StartException"/> with a clear message.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ServerConfig c = _config.Config;
        string data = _config.DataDirectory;
        ServerThreads.RaisePoolMinimum();
        if (!Directory.Exists(data))
            throw new StartException($"data-dir: {data} does not exist (`postern quickstart` creates it)");
        CheckWritable(data);
        try
        {
            await ControlSocket.EnsureNoServerRunningAsync(data).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new StartException($"control socket: {e.Message}");
        }

        try
        {
            _store = SqliteMailStore.Open(data);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Store.StoreException or Microsoft.Data.Sqlite.SqliteException)
        {
            throw new StartException($"data-dir: cannot open the store in {data}: {e.Message}");
        }

        // The domains get ACME certificates for their web names (mta-sts., autoconfig., autodiscover.):
        // those known now at once; those added or removed later when the domain check sees them (AcmeService.Start).
        var domains = (await ListDomainNamesAsync(cancellationToken).ConfigureAwait(false)).ToList();
        _acme = AcmeService.Create(_config, _logger, domains);
        var certificates = new Dictionary<string, CertificateSelector>();
        var configuredFiles = new Dictionary<string, List<CertificateFiles>>();
        foreach (var (name, l) in c.Listeners)
        {
            if (l.Tls.KeyCerts.Count == 0 && !l.Tls.Acme) continue;
            try
            {
                // The ACME certificate (when the listener uses ACME) comes first, then the configured files.
                var files = new List<CertificateFiles>();
                if (_acme is not null && _acme.Files.TryGetValue(name, out var acmeFiles)) files.AddRange(acmeFiles);
                configuredFiles[name] = [.. l.Tls.KeyCerts.Select(k => new CertificateFiles(_config.Resolve(k.CertFile), _config.Resolve(k.KeyFile)))];
                files.AddRange(configuredFiles[name]);
                var selector = new CertificateSelector(files);
                selector.ReloadFailed = (files, e) => _logger.LogError("certificate reload failed cert={Cert} key={Key} error={Error}; the previous certificate stays in use", files.CertificatePath, files.KeyPath, e.Message);
                string listener = name;
                selector.PendingFilesLoaded = files => _logger.LogInformation("listener={Listener} certificates for the domains loaded on a later try ({Count} pairs)", listener, files.Count);
                certificates[name] = selector;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                throw new StartException($"listeners.{name}.tls: {e.Message}");
            }
        }

        try
        {
            // DMARC evaluations for aggregate reports, in DATA/reports.db (not durable like mail: see docs/sender-authentication.md).
            _dmarcStore = SqliteDmarcEvaluationStore.Open(data);
            _dmarcEvaluations = new DmarcEvaluationRecorder(_dmarcStore, _logger);
            // Outgoing TLS session results (counted per day for TLS reports) and the sent-report log, same database.
            _tlsResults = new TlsResultRecorder(SqliteTlsResultStore.Open(data), _logger);
            _reportLog = SqliteReportLog.Open(data);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Store.StoreException or Microsoft.Data.Sqlite.SqliteException)
        {
            throw new StartException($"data-dir: cannot open {SqliteDmarcEvaluationStore.FileName} in {data}: {e.Message}");
        }
        try
        {
            // DMARC aggregate and TLS reports arriving at the domains' reporting addresses (see docs/transport-security.md).
            var incoming = SqliteIncomingReportStore.Open(data);
            _incomingReports = new IncomingReportReceiver(incoming, _store.Directory, _logger);
            // Received reports older than reports.received-retention-days go at start and daily (0: kept forever).
            if (c.Reports.ReceivedRetentionDays > 0)
            {
                _incomingRetention = new IncomingReportRetention(incoming, TimeSpan.FromDays(c.Reports.ReceivedRetentionDays), _logger);
                _incomingRetention.Start();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Store.StoreException or Microsoft.Data.Sqlite.SqliteException)
        {
            throw new StartException($"data-dir: cannot open {ReportsSchema.FileName} in {data}: {e.Message}");
        }

        string tmp = Path.Combine(data, "tmp");
        Directory.CreateDirectory(tmp);
        byte[] connectionIdKey = Cli.CidCommand.LoadOrCreateKey(data);
        _dns = new DnsResolver(new DnsResolverOptions
        {
            Servers = [.. c.Dns.Nameservers.Select(n => DnsResolverOptions.TryParseServer(n, out var ep) ? ep! : throw new StartException($"dns.nameservers: {n}"))],
            TrustedServers = c.Dns.TrustedNameservers.Count == 0 ? null : [.. c.Dns.TrustedNameservers.Select(IPAddress.Parse)],
        });
        StartQueue(c, data);
        StartReports(c);
        await StartJunkFilterAsync(c, cancellationToken).ConfigureAwait(false);
        foreach (var (name, l) in c.Listeners)
        {
            var ips = l.Ips.Select(IPAddress.Parse).ToList();
            var listeners = new List<ImapListener>();
            if (l.Imap.Enabled) listeners.AddRange(ips.Select(ip => new ImapListener(new IPEndPoint(ip, l.Imap.Port), ImplicitTls: false)));
            if (l.Imaps.Enabled)
            {
                if (!certificates.ContainsKey(name))
                    throw new StartException($"listeners.{name}.imaps: implicit TLS needs a certificate: listeners.{name}.tls.key-certs or listeners.{name}.tls.acme");
                listeners.AddRange(ips.Select(ip => new ImapListener(new IPEndPoint(ip, l.Imaps.Port), ImplicitTls: true)));
            }
            StartSmtp(name, l, ips, certificates.GetValueOrDefault(name), tmp, connectionIdKey);
            if (listeners.Count == 0) continue;
            var imap = new ImapServer(new ImapServerOptions
            {
                Listeners = listeners,
                CertificateContextSelector = certificates.TryGetValue(name, out var sel) ? sel.SelectContext : null,
                HostName = l.Hostname.Length > 0 ? l.Hostname : c.Hostname,
                TempDirectory = tmp,
                MaxConnectionsPerIp = l.MaxConnectionsPerIp,
            }, _store, logger: _logger);
            _imap.Add(imap);
            try
            {
                imap.Start();
            }
            catch (IOException e)
            {
                throw new StartException($"listeners.{name}: {e.Message}{BindHint(e)}");
            }
            Endpoints.AddRange(imap.BoundEndPoints.Select(ep => $"{name}: imap{(listeners.First(x => x.EndPoint.Port == ep.Port).ImplicitTls ? "s" : "")} {ep}"));
        }

        foreach (var (name, l) in c.Listeners)
            await StartWebAsync(name, l, certificates.GetValueOrDefault(name), cancellationToken).ConfigureAwait(false);

        if (_acme is not null)
        {
            // A domain added or removed while running: the listeners' selectors get the new set of files.
            _acme.FilesChanged = acmeFiles =>
            {
                foreach (var (name, files) in acmeFiles)
                {
                    if (!certificates.TryGetValue(name, out var selector)) continue;
                    try
                    {
                        selector.ReplaceFiles([.. files, .. configuredFiles[name]]);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
                    {
                        _logger.LogError("listener={Listener} certificates not updated for the domains: {Error}; the previous ones stay in use, tried again at each certificate check", name, e.Message);
                    }
                }
            };
            // The domain list is read again only when the global database changed (DirectoryChangeCheck).
            _directoryChanges = new DirectoryChangeCheck(Path.Combine(data, "postern.db"));
            _acme.Start(ListDomainNamesAsync, _directoryChanges.HasChanged);
            Endpoints.AddRange(_acme.Endpoints);
        }

        try
        {
            _control = await ControlSocket.StartAsync(data, HandleControlAsync, _logger).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            throw new StartException($"control socket: {e.Message}");
        }
    }

    /// <summary>
    /// The outgoing queue: local domains are delivered into the store (DSNs to local senders),
    /// everything else directly to the recipient domain's MX hosts.
    /// </summary>
    private void StartQueue(ServerConfig c, string data)
    {
        QueueConfig q = c.Queue;
        foreach (var (key, value) in new[] { ("max-attempts", q.MaxAttempts), ("first-retry-seconds", q.FirstRetrySeconds), ("delayed-dsn-after-minutes", q.DelayedDsnAfterMinutes),
                     ("retention-days", q.RetentionDays), ("max-concurrent-deliveries", q.MaxConcurrentDeliveries), ("max-concurrent-per-domain", q.MaxConcurrentPerDomain) })
        {
            if (value < 1) throw new StartException($"queue.{key}: must be at least 1");
        }
        if (q.MaxMessagesPerDay < 0 || q.MaxFirstTimeRecipientsPerDay < 0) throw new StartException("queue: daily limits cannot be negative (0 means no limit)");
        try
        {
            _queueStore = SqliteQueueStore.Open(data);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or Microsoft.Data.Sqlite.SqliteException)
        {
            throw new StartException($"data-dir: cannot open the queue in {Path.Combine(data, "queue")}: {e.Message}");
        }
        var local = new LocalDeliveryTransport(_store!, new DirectoryRecipientResolver(_store!.Directory), c.Hostname, _incomingReports);
        // Remote domains: the configured transports and routes (direct to MX hosts by default, see docs/outgoing.md).
        // DANE and MTA-STS for direct delivery; MTA-STS policies cached in queue.db and refreshed ahead of expiry (docs/transport-security.md).
        _mtaSts = new Postern.Security.MtaSts.MtaStsClient(_dns!, _queueStore);
        _mtaStsRefresher = new MtaStsPolicyRefresher(_queueStore, _mtaSts, logger: _logger);
        var security = new DeliverySecurityOptions { MtaSts = _mtaSts, DomainMemory = _queueStore, TlsResults = _tlsResults };
        IOutboundTransport remote = OutboundTransportFactory.Create(_config, _dns!, new SmtpClientOptions { LocalHostName = c.Hostname }, security);
        _queue = new OutgoingQueue(new QueueOptions
        {
            DataDirectory = data,
            HostName = c.Hostname,
            MaxAttempts = q.MaxAttempts,
            FirstRetryInterval = TimeSpan.FromSeconds(q.FirstRetrySeconds),
            DelayedDsnAfter = TimeSpan.FromMinutes(q.DelayedDsnAfterMinutes),
            Retention = TimeSpan.FromDays(q.RetentionDays),
            MaxConcurrentDeliveries = q.MaxConcurrentDeliveries,
            MaxConcurrentPerDomain = q.MaxConcurrentPerDomain,
            MaxMessagesPerDay = q.MaxMessagesPerDay,
            MaxFirstTimeRecipientsPerDay = q.MaxFirstTimeRecipientsPerDay,
        }, _queueStore, new LocalFirstTransport(_store.Directory, local, remote), new FileDkimKeySource(data), _logger);
        _queue.Start();
        if (c.OutgoingTls.MtaSts) _mtaStsRefresher.Start(); // outgoing-tls.mta-sts: false: no policy lookups at all
    }

    /// <summary>The TLS and DMARC report sender (docs/transport-security.md, docs/sender-authentication.md): hourly, through the queue.</summary>
    private void StartReports(ServerConfig c)
    {
        ReportsConfig r = c.Reports;
        string hostDomain = HostDomain(c.Hostname);
        _reports = new ReportSender(new OutgoingReportOptions
        {
            TlsEnabled = r.Tls.Enabled,
            TlsOnlyFailures = r.Tls.OnlyFailures,
            DmarcEnabled = r.Dmarc.Enabled,
            OrganizationName = r.OrganizationName.Length > 0 ? r.OrganizationName : hostDomain,
            FromAddress = r.FromAddress.Length > 0 ? r.FromAddress : "postmaster@" + hostDomain,
            HostName = c.Hostname,
            SuppressionPeriod = TimeSpan.FromDays(r.SuppressionDays),
        }, _dns!, _queue, _tlsResults!.Store, _dmarcStore, _reportLog!, logger: _logger);
        _reports.Start();
    }

    /// <summary>The domain of a host name: mail.example.com gives example.com; a name of two labels is its own domain.</summary>
    internal static string HostDomain(string hostName)
    {
        string h = hostName.TrimEnd('.').ToLowerInvariant();
        int dot = h.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && h.IndexOf('.', dot + 1) > 0 ? h[(dot + 1)..] : h;
    }

    /// <summary>The junk filter (docs/junk.md): classifies incoming mail, and a trainer follows the accounts' $Junk/$NotJunk keywords.</summary>
    private async Task StartJunkFilterAsync(ServerConfig c, CancellationToken cancellationToken)
    {
        if (!c.JunkFilter.Enabled) return;
        _store!.JunkMaxWords = c.JunkFilter.MaxWords;
        _junkFilter = new JunkFilter(new JunkFilterOptions
        {
            Threshold = c.JunkFilter.Threshold,
            MinJunkMessages = c.JunkFilter.MinTrained,
            MinHamMessages = c.JunkFilter.MinTrained,
        });
        _junkTrainer = new JunkTrainer(_store, _junkFilter, _logger);
        var accounts = await _store.Directory.ListAccountsAsync(cancellationToken).ConfigureAwait(false);
        _junkTrainer.Start(accounts.Select(a => a.Name));
    }

    private void StartSmtp(string name, ListenerConfig l, List<IPAddress> ips, CertificateSelector? certificates, string tmp, byte[] connectionIdKey)
    {
        var listeners = new List<SmtpListener>();
        foreach (var (enabled, port, kind) in new[] { (l.Smtp.Enabled, l.Smtp.Port, SmtpListenerKind.Mx), (l.Submission.Enabled, l.Submission.Port, SmtpListenerKind.Submission), (l.Submissions.Enabled, l.Submissions.Port, SmtpListenerKind.Submissions) })
        {
            if (!enabled) continue;
            if (kind == SmtpListenerKind.Submissions && certificates is null)
                throw new StartException($"listeners.{name}.submissions: implicit TLS needs a certificate: listeners.{name}.tls.key-certs or listeners.{name}.tls.acme");
            listeners.AddRange(ips.Select(ip => new SmtpListener(new IPEndPoint(ip, port), kind)));
        }
        if (listeners.Count == 0) return;
        var smtp = new SmtpServer(new SmtpServerOptions
        {
            Listeners = listeners,
            CertificateContextSelector = certificates is null ? null : certificates.SelectContext,
            HostName = l.Hostname.Length > 0 ? l.Hostname : _config.Config.Hostname,
            TempDirectory = tmp,
            ConnectionIdKey = connectionIdKey,
            // SPF, DKIM, DMARC and iprev on mail from other servers (authenticated submissions skip it);
            // each DMARC evaluation is kept for the aggregate reports; then DSNs about mail we sent are
            // linked to the queue.
            MessageCheckers = [new SenderAuthenticationChecker(new MessageAuthenticator(_dns!, new MessageAuthenticatorOptions { HostName = _config.Config.Hostname }))
                {
                    Evaluated = RecordDmarcEvaluation,
                },
                new IncomingDsnChecker(_queue!)],
            // DNS blocklists of this listener, asked at MAIL FROM on the smtp service only.
            ClientCheckers = l.Dnsbl.Count == 0 ? [] : [new DnsblClientChecker(_dns!, l.Dnsbl, _logger)],
            OutgoingQueue = _queue,
            JunkFilter = _junkFilter,
            // Reports sent to the domains' reporting addresses are stored after delivery.
            DeliveredObserver = _incomingReports,
        }, _store!, logger: _logger);
        _smtp.Add(smtp);
        try
        {
            smtp.Start();
        }
        catch (IOException e)
        {
            throw new StartException($"listeners.{name}: {e.Message}{BindHint(e)}");
        }
        Endpoints.AddRange(smtp.BoundEndPoints.Select(ep => $"{name}: {listeners.First(x => x.EndPoint.Port == ep.Port).Kind.ToString().ToLowerInvariant()} {ep}"));
    }

    /// <summary>The web listener of a listener (https, http): MTA-STS policy, autoconfiguration, ACME validations.</summary>
    private async Task StartWebAsync(string name, ListenerConfig l, CertificateSelector? certificates, CancellationToken cancellationToken)
    {
        if (!l.Https.Enabled && !l.Http.Enabled && !l.Metrics.Enabled) return;
        if (l.Https.Enabled && certificates is null)
            throw new StartException($"listeners.{name}.https: HTTPS needs a certificate: listeners.{name}.tls.key-certs or listeners.{name}.tls.acme");
        ServerConfig c = _config.Config;
        var ips = l.Ips.Select(IPAddress.Parse).ToList();
        var store = _store!;
        var web = new WebServer(new WebServerOptions
        {
            HttpsEndPoints = l.Https.Enabled ? [.. ips.Select(ip => new IPEndPoint(ip, l.Https.Port))] : [],
            HttpEndPoints = l.Http.Enabled ? [.. ips.Select(ip => new IPEndPoint(ip, l.Http.Port))] : [],
            MetricsEndPoints = l.Metrics.Enabled ? [.. ips.Select(ip => new IPEndPoint(ip, l.Metrics.Port))] : [],
            Metrics = l.Metrics.Enabled ? _metrics ??= new PrometheusExporter() : null,
            CertificateSelector = certificates is null ? null : certificates.Select,
            CertificateContextSelector = certificates is null ? null : certificates.SelectContext,
            // Validations arrive on the acme ports; when the web listener has them, it answers.
            Http01 = _acme is not null && l.Http.Enabled && l.Http.Port == c.Acme.HttpPort ? _acme.Http01 : null,
            TlsAlpn01 = _acme is not null && l.Https.Enabled && l.Https.Port == c.Acme.TlsAlpnPort ? _acme.TlsAlpn01 : null,
            Content = new MailSiteContent
            {
                IsLocalDomain = (domain, ct) => new ValueTask<bool>(store.Directory.IsLocalDomainAsync(domain, ct)),
                MtaStsPolicy = WebServices.MtaStsPolicy(c),
                ClientSettings = WebServices.ClientSettings(c),
                ServerHostNames = [.. c.Listeners.Values.Select(x => x.Hostname).Where(h => h.Length > 0).Append(c.Hostname).Select(h => h.TrimEnd('.').ToLowerInvariant()).Distinct()],
            },
            MaxConnections = 1000,
        }, _logger);
        try
        {
            await web.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await web.DisposeAsync().ConfigureAwait(false);
            throw new StartException($"listeners.{name}: {e.Message}{BindHint(e)}");
        }
        _web.Add(web);
        Endpoints.AddRange(web.BoundEndPoints.Select(b => $"{name}: {(l.Metrics.Enabled && b.EndPoint.Port == l.Metrics.Port ? "metrics" : b.Scheme)} {b.EndPoint}"));
    }

    private async Task<IReadOnlyList<string>> ListDomainNamesAsync(CancellationToken cancellationToken) =>
        [.. (await _store!.Directory.ListDomainsAsync(cancellationToken).ConfigureAwait(false)).Select(d => d.Name)];

    private void RecordDmarcEvaluation(IncomingMessage message, MessageAuthentication result) =>
        _dmarcEvaluations?.Record(DmarcEvaluationRecord.From(result, message.Recipients, DateTimeOffset.UtcNow));

    private static string BindHint(IOException e) =>
        e.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AccessDenied }
            ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE; see docs/install.md)" : "";

    private Task<string> HandleControlAsync(string request)
    {
        switch (request)
        {
            case "ping":
                return Task.FromResult("pong\n");
            case "stop":
                _logger.LogInformation("stop requested through the control socket");
                _stopRequested.TrySetResult();
                return Task.FromResult("stopping\n");
            case "reports send" or "reports dry-run":
                return _reports is null ? Task.FromResult("error: the report sender is not running\n") : RunReportsAsync(request == "reports dry-run");
            case var i when i.StartsWith(ImportControl.Prefix, StringComparison.Ordinal):
                return _store is null ? Task.FromResult("error: the store is not open\nexit 1\n")
                    : ImportControl.Decode(i) is { } ir ? RunImportAsync(ir) : Task.FromResult("error: malformed import request\nexit 1\n");
            case var q when q.StartsWith(QueueControl.Prefix, StringComparison.Ordinal):
                return _queue is null ? Task.FromResult("error: the queue is not running\n")
                    : QueueControl.Decode(q) is { } qr ? QueueControl.RunAsync(_queue, qr) : Task.FromResult("error: malformed queue request\n");
            default:
                return Task.FromResult($"error: unknown request \"{(request.Length > 40 ? request[..40] + "..." : request)}\"\n");
        }
    }

    private async Task<string> RunReportsAsync(bool dryRun)
    {
        // What is still in the recorders' buffers belongs to today, which is not reported yet; flushing keeps the CLI's view current.
        if (_tlsResults is not null) await _tlsResults.FlushAsync().ConfigureAwait(false);
        return Cli.ReportsFormat.Format(await _reports!.RunAsync(dryRun).ConfigureAwait(false), dryRun);
    }

    /// <summary>An import through the control socket; stopping the server cancels it (committed batches stay) and waits for it.</summary>
    private async Task<string> RunImportAsync(ImportRequest request)
    {
        var task = Task.Run(async () =>
        {
            _logger.LogInformation("import started kind={Kind} path={Path} account={Account}", request.Kind, request.Path, request.Account);
            string answer;
            try
            {
                answer = await ImportControl.RunAsync(_store!, request, _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Whatever went wrong is the import's failure, reported to the command; the server runs on.
                _logger.LogError("import failed path={Path} account={Account} error={Error}", request.Path, request.Account, e.Message);
                answer = $"error: import failed: {e.Message}\n{ImportControl.ExitPrefix}1\n";
            }
            _logger.LogInformation("import ended path={Path} account={Account} result={Result}", request.Path, request.Account,
                answer.Split('\n', StringSplitOptions.RemoveEmptyEntries).Reverse().Skip(1).FirstOrDefault() ?? "");
            return answer;
        });
        lock (_imports) _imports.Add(task);
        try
        {
            return await task.ConfigureAwait(false);
        }
        finally
        {
            lock (_imports) _imports.Remove(task);
        }
    }

    private static void CheckWritable(string data)
    {
        string probe = Path.Combine(data, ".write-test-" + Environment.ProcessId);
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartException($"data-dir: {data} is not writable by this user: {e.Message}");
        }
    }

    /// <summary>Stops accepting, gives sessions <paramref name="grace"/> to finish, then closes everything.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task[] imports;
        lock (_imports) imports = [.. _imports];
        await Task.WhenAll(imports).ConfigureAwait(false);
        if (_control is not null) await _control.DisposeAsync().ConfigureAwait(false);
        _control = null;
        if (_acme is not null) await _acme.DisposeAsync().ConfigureAwait(false);
        _acme = null;
        await Task.WhenAll(_imap.Select(s => s.StopAsync(grace)).Concat(_smtp.Select(s => s.StopAsync(grace))).Concat(_web.Select(w => w.StopAsync(grace)))).ConfigureAwait(false);
        if (_reports is not null) await _reports.StopAsync().ConfigureAwait(false);
        if (_queue is not null) await _queue.StopAsync().ConfigureAwait(false);
        if (_junkTrainer is not null) await _junkTrainer.DisposeAsync().ConfigureAwait(false);
        _junkTrainer = null;
        if (_mtaStsRefresher is not null) await _mtaStsRefresher.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_control is not null) await _control.DisposeAsync().ConfigureAwait(false);
        if (_acme is not null) await _acme.DisposeAsync().ConfigureAwait(false);
        _acme = null;
        _directoryChanges?.Dispose();
        _directoryChanges = null;
        foreach (var s in _imap) await s.DisposeAsync().ConfigureAwait(false);
        foreach (var s in _smtp) await s.DisposeAsync().ConfigureAwait(false);
        if (_reports is not null) await _reports.DisposeAsync().ConfigureAwait(false);
        _reports = null;
        foreach (var w in _web) await w.DisposeAsync().ConfigureAwait(false);
        if (_queue is not null) await _queue.DisposeAsync().ConfigureAwait(false);
        if (_mtaStsRefresher is not null) await _mtaStsRefresher.DisposeAsync().ConfigureAwait(false);
        _mtaSts?.Dispose();
        if (_queueStore is not null) await _queueStore.DisposeAsync().ConfigureAwait(false);
        if (_dmarcEvaluations is not null) await _dmarcEvaluations.DisposeAsync().ConfigureAwait(false);
        else if (_dmarcStore is not null) await _dmarcStore.DisposeAsync().ConfigureAwait(false);
        _dmarcEvaluations = null;
        _dmarcStore = null;
        if (_tlsResults is not null) await _tlsResults.DisposeAsync().ConfigureAwait(false);
        _tlsResults = null;
        if (_reportLog is not null) await _reportLog.DisposeAsync().ConfigureAwait(false);
        _reportLog = null;
        if (_incomingRetention is not null) await _incomingRetention.DisposeAsync().ConfigureAwait(false);
        _incomingRetention = null;
        if (_incomingReports is not null) await _incomingReports.DisposeAsync().ConfigureAwait(false);
        _incomingReports = null;
        if (_junkTrainer is not null) await _junkTrainer.DisposeAsync().ConfigureAwait(false);
        _junkTrainer = null;
        _metrics?.Dispose();
        _metrics = null;
        if (_store is not null) await _store.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }
}

/// <summary>A reason the server cannot start, worded for the operator.</summary>
internal sealed class StartException(string message) : Exception(message);
