using System.CommandLine;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Postern.Dns;
using Postern.Smtp.Client;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Postern.Security.Dane;

namespace Postern.Cli;

/// <summary><c>postern dane ...</c>: TLSA records for DANE (RFC 6698, RFC 7671, RFC 7672).</summary>
internal static class DaneCommands
{
    public static Command Create()
    {
        var dane = new Command("dane", "DANE: TLSA records for the mail server's certificates (RFC 6698, RFC 7672).");
        dane.Subcommands.Add(MakeRecordCommand());
        dane.Subcommands.Add(DialCommand());
        dane.Subcommands.Add(DialMxCommand());
        return dane;
    }

    /// <summary>Exit codes of dial: 0 verified, 1 DANE failed, 2 no usable TLSA records, 3 connection or TLS error.</summary>
    internal const int DialVerified = 0, DialFailed = 1, DialNoRecords = 2, DialError = 3;

    private static Command DialCommand()
    {
        var target = new Argument<string>("host:port") { Description = "The server, e.g. mx.example.org:25 (STARTTLS) or mx.example.org:465 (implicit TLS)." };
        var tlsa = new Option<string[]>("--tlsa") { Description = "A TLSA record to check against, \"usage selector matching hex\" (repeatable); default: look up _PORT._tcp.HOST.", AllowMultipleArgumentsPerToken = false };
        var server = new Option<string?>("--server") { Description = "Resolver for the TLSA lookup, IP[:PORT]. Default: the nameservers of /etc/resolv.conf." };
        var implicitTls = new Option<bool>("--implicit-tls") { Description = "TLS from the start (as on port 465, which implies it) instead of STARTTLS." };
        var cmd = new Command("dial", "Connect to an SMTP server, start TLS and check its certificate against TLSA records (RFC 7672).") { target, tlsa, server, implicitTls };
        cmd.SetAction(async (parse, cancellationToken) =>
        {
            string text = parse.GetValue(target)!;
            int colon = text.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(text[(colon + 1)..], out int port) || port is < 1 or > 65535)
            {
                Console.Error.WriteLine("postern: expected HOST:PORT, e.g. mx.example.org:25");
                return DialError;
            }
            string host = text[..colon].Trim('[', ']');
            string tlsaName = $"_{port}._tcp.{host}";
            var records = new List<TlsaRecord>();
            foreach (string r in parse.GetValue(tlsa) ?? [])
            {
                string[] f = r.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length != 4 || !byte.TryParse(f[0], out byte u) || !byte.TryParse(f[1], out byte sel) || !byte.TryParse(f[2], out byte m))
                {
                    Console.Error.WriteLine($"postern: --tlsa \"{r}\": expected \"usage selector matching hex\"");
                    return DialError;
                }
                byte[] data;
                try
                {
                    data = Convert.FromHexString(f[3]);
                }
                catch (FormatException)
                {
                    Console.Error.WriteLine($"postern: --tlsa \"{r}\": the data is not hex");
                    return DialError;
                }
                records.Add(new TlsaRecord(tlsaName, 0, u, sel, m, data));
            }
            if (records.Count == 0)
            {
                IPEndPoint? endpoint = null;
                string? serverText = parse.GetValue(server);
                if (serverText is not null && !DnsResolverOptions.TryParseServer(serverText, out endpoint))
                {
                    Console.Error.WriteLine($"postern: invalid server \"{serverText}\" (expected IP or IP:PORT)");
                    return DialError;
                }
                var resolver = new DnsResolver(new DnsResolverOptions { Servers = endpoint is null ? [] : [endpoint], CacheMaxEntries = 0 });
                DnsResult<TlsaRecord> found = await resolver.LookupTlsaAsync(tlsaName, cancellationToken).ConfigureAwait(false);
                Console.WriteLine($"TLSA {tlsaName}: {found.Outcome}, {(found.Authentic ? "DNSSEC-authentic" : "not DNSSEC-authentic (DANE does not apply)")}");
                if (!found.Authentic)
                    return DialNoRecords;
                records.AddRange(found.Records);
            }
            foreach (TlsaRecord r in records)
                Console.WriteLine($"TLSA {r.FormatData()}");

            return await DialOneAsync(host, host, port, records, port == 465 || parse.GetValue(implicitTls), cancellationToken).ConfigureAwait(false);
        });
        return cmd;
    }

    /// <summary>Connects to <paramref name="connectTo"/>:<paramref name="port"/>, starts TLS and checks the chain of <paramref name="host"/> against the records; prints and returns the exit code.</summary>
    /// <param name="host">The name sent as SNI (the TLSA base domain, RFC 7672 §8.1).</param>
    /// <param name="referenceNames">The DANE-TA reference identifiers (RFC 7672 §3.2.2); default: <paramref name="host"/>.</param>
    private static async Task<int> DialOneAsync(string host, string connectTo, int port, IReadOnlyList<TlsaRecord> records, bool implicitTls, CancellationToken cancellationToken,
        IReadOnlyList<string>? referenceNames = null)
    {
        var verifier = new DaneServerVerifier(records, referenceNames ?? [host]);
        try
        {
            using var tcp = new TcpClient();
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connectTimeout.CancelAfter(TimeSpan.FromSeconds(30));
            await tcp.ConnectAsync(connectTo, port, connectTimeout.Token).ConfigureAwait(false);
            Console.WriteLine($"connected to {tcp.Client.RemoteEndPoint}");
            var decision = new OutboundTlsDecision(OutboundTlsMode.Opportunistic, "dane", verifier);
            var options = new SmtpClientOptions { LocalHostName = System.Net.Dns.GetHostName() };
            if (implicitTls)
            {
                // Implicit TLS (RFC 8314): the handshake first; the verdict is the verifier's, the connection is only looked at.
                await using var ssl = new SslStream(tcp.GetStream(), false, (_, cert, chain, errors) =>
                {
                    verifier.Verify(host, cert, chain, errors);
                    return true;
                });
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = host }, cancellationToken).ConfigureAwait(false);
                Console.WriteLine($"TLS {ssl.SslProtocol} {ssl.NegotiatedCipherSuite}");
            }
            else
            {
                await using var smtp = new SmtpClientConnection(tcp.GetStream(), options);
                await smtp.HelloAsync(cancellationToken).ConfigureAwait(false);
                if (!smtp.Capabilities.StartTls)
                {
                    Console.WriteLine("the server does not offer STARTTLS");
                    return DialFailed;
                }
                await smtp.StartTlsAsync(host, decision, cancellationToken).ConfigureAwait(false);
                Console.WriteLine($"TLS {smtp.Tls.Version} {smtp.Tls.Cipher}");
                await smtp.QuitAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or SmtpClientException or TlsHandshakeException or System.Security.Authentication.AuthenticationException)
        {
            if (verifier.Result is null)
            {
                Console.Error.WriteLine($"postern: {host}:{port}: {e.Message}");
                return DialError;
            }
        }
        if (verifier.Leaf is { } leaf)
            Console.WriteLine($"certificate {leaf.Subject}, public key {DaneVerifier.Describe(new TlsaRecord("", 0, 3, 1, 1, DaneVerifier.AssociationData(leaf, 1, 1)))} {Convert.ToHexStringLower(DaneVerifier.AssociationData(leaf, 1, 1))}");
        DaneResult? result = verifier.Result;
        Console.WriteLine(result is null ? "DANE: no certificate seen" : $"DANE: {result.Status}: {result.Detail}");
        return result?.Status switch
        {
            DaneStatus.Verified => DialVerified,
            DaneStatus.NoUsableRecords => DialNoRecords,
            _ => DialFailed,
        };
    }

    private static Command DialMxCommand()
    {
        var domain = new Argument<string>("domain") { Description = "The recipient domain, e.g. example.org." };
        var server = new Option<string?>("--server") { Description = "Resolver, IP[:PORT] (it must validate DNSSEC). Default: the nameservers of /etc/resolv.conf." };
        var portOption = new Option<int>("--port") { Description = "SMTP port of the MX hosts (25).", DefaultValueFactory = _ => 25 };
        var cmd = new Command("dialmx", "Look up a domain's MX hosts with their DNSSEC status, then dial each as `dane dial` does (RFC 7672).") { domain, server, portOption };
        cmd.SetAction(async (parse, cancellationToken) =>
        {
            string name = parse.GetValue(domain)!.Trim().TrimEnd('.');
            int port = parse.GetValue(portOption);
            IPEndPoint? endpoint = null;
            string? serverText = parse.GetValue(server);
            if (serverText is not null && !DnsResolverOptions.TryParseServer(serverText, out endpoint))
            {
                Console.Error.WriteLine($"postern: invalid server \"{serverText}\" (expected IP or IP:PORT)");
                return DialError;
            }
            if (port is < 1 or > 65535)
            {
                Console.Error.WriteLine("postern: --port must be 1 to 65535");
                return DialError;
            }
            var dns = new DnsResolver(new DnsResolverOptions { Servers = endpoint is null ? [] : [endpoint], CacheMaxEntries = 0 });
            var resolver = new MxResolver(dns);
            MxResolution mx = await resolver.ResolveDomainAsync(name, cancellationToken).ConfigureAwait(false);
            if (mx.Failure is not null)
            {
                Console.Error.WriteLine($"postern: {mx.Failure}");
                return DialError;
            }
            bool secure = mx.Hosts.Count > 0 && mx.Hosts[0].Authentic;
            Console.WriteLine($"MX {name}: {(mx.Implicit ? "no MX records, the domain itself (implicit MX)" : string.Join(", ", mx.Hosts.Select(h => $"{h.Preference} {h.Name}")))}; "
                + (secure ? "DNSSEC-authentic" : "not DNSSEC-authentic (DANE does not apply to this domain)"));
            int worst = DialVerified;
            foreach (MxHost host in mx.Hosts)
            {
                Console.WriteLine();
                Console.WriteLine($"== {host.Name}");
                HostAddresses addresses = await resolver.ResolveAddressesAsync(host, cancellationToken).ConfigureAwait(false);
                if (addresses.Error is not null)
                {
                    Console.WriteLine($"{host.Name}: {addresses.Error}");
                    worst = Worse(worst, DialError);
                    continue;
                }
                Console.WriteLine($"addresses: {string.Join(", ", addresses.Addresses)}; {(addresses.Authentic ? "DNSSEC-authentic" : "not DNSSEC-authentic")}");
                string hostName = host.Name.TrimEnd('.');
                if (addresses.ExpandedName is { } expandedName)
                    Console.WriteLine($"{hostName} is an alias of {expandedName}");
                if (!host.Authentic)
                {
                    Console.WriteLine($"verdict {host.Name}: no DANE (the MX lookup is not DNSSEC-authentic; RFC 7672 §2.2.1)");
                    worst = Worse(worst, DialNoRecords);
                    continue;
                }
                // RFC 7672 §2.2.2-2.2.3: the candidate TLSA base domains (for a secure CNAME, the expanded name first), as delivery does.
                DaneTlsaResult tlsa = await DaneTlsaLookup.LookupAsync(dns, hostName, addresses, port, int.MaxValue, cancellationToken).ConfigureAwait(false);
                if (tlsa.Candidates.Count == 0)
                {
                    Console.WriteLine($"verdict {host.Name}: no DANE (the address lookup is not DNSSEC-authentic; RFC 7672 §2.2.2)");
                    worst = Worse(worst, DialNoRecords);
                    continue;
                }
                foreach ((string queried, DnsResult<TlsaRecord> found) in tlsa.Lookups)
                    Console.WriteLine($"TLSA {queried}: {found.Outcome}, {(found.Authentic ? "DNSSEC-authentic" : "not DNSSEC-authentic")}");
                if (tlsa.LookupFailed)
                {
                    Console.WriteLine($"verdict {host.Name}: TLSA lookup failed: delivery would be deferred (RFC 7672 §2.1.2)");
                    worst = Worse(worst, DialFailed);
                    continue;
                }
                if (tlsa.BaseDomain is not { } baseDomain)
                {
                    Console.WriteLine($"verdict {host.Name}: no DANE (no DNSSEC-authentic TLSA records)");
                    worst = Worse(worst, DialNoRecords);
                    continue;
                }
                Console.WriteLine($"TLSA base domain {baseDomain} (sent as SNI, RFC 7672 §8.1)");
                foreach (TlsaRecord r in tlsa.Records)
                    Console.WriteLine($"TLSA {r.FormatData()}");
                IReadOnlyList<string> names = DaneTlsaLookup.ReferenceNames(baseDomain, hostName, name, mx.ExpandedDomain);
                int code = await DialOneAsync(baseDomain, addresses.Addresses[0].ToString(), port, tlsa.Records, false, cancellationToken, names).ConfigureAwait(false);
                Console.WriteLine($"verdict {host.Name}: " + code switch
                {
                    DialVerified => "verified",
                    DialNoRecords => "no usable TLSA records: TLS required without authentication (RFC 7672 §2.2)",
                    DialFailed => "NOT verified: delivery would be deferred",
                    _ => "connection error",
                });
                worst = Worse(worst, code);
            }
            return worst;
        });
        return cmd;
    }

    /// <summary>The exit code of several hosts: a failure beats a connection error beats no records beats verified.</summary>
    private static int Worse(int a, int b)
    {
        static int Rank(int c) => c switch { DialFailed => 3, DialError => 2, DialNoRecords => 1, _ => 0 };
        return Rank(b) > Rank(a) ? b : a;
    }

    private static Command MakeRecordCommand()
    {
        var usage = new Argument<byte>("usage") { Description = "Certificate usage: 3 (DANE-EE, the server's own key; recommended) or 2 (DANE-TA, a CA in the chain)." };
        var selector = new Argument<byte>("selector") { Description = "Selector: 1 (public key; survives renewals with the same key) or 0 (whole certificate)." };
        var matching = new Argument<byte>("matching") { Description = "Matching type: 1 (SHA-256), 2 (SHA-512) or 0 (full data)." };
        var file = new Argument<string>("file") { Description = "A PEM certificate, or for selector 1 also a PEM public or private key." };
        var cmd = new Command("makerecord", "Print the TLSA record data (\"usage selector matching hex\") for a certificate or key.") { usage, selector, matching, file };
        cmd.SetAction(parse =>
        {
            byte u = parse.GetValue(usage), s = parse.GetValue(selector), m = parse.GetValue(matching);
            if (u > 3 || s > 1 || m > 2)
            {
                Console.Error.WriteLine("postern: usage must be 0-3, selector 0 or 1, matching type 0-2");
                return 1;
            }
            if (u is 0 or 1)
                Console.Error.WriteLine("postern: warning: PKIX usages (0, 1) are not used for SMTP (RFC 7672 §3.1.3); use 3 or 2");
            string path = parse.GetValue(file)!;
            string pem;
            try
            {
                pem = File.ReadAllText(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"postern: {path}: {ex.Message}");
                return 1;
            }
            byte[]? data = Select(pem, s);
            if (data is null)
            {
                Console.Error.WriteLine(s == 0
                    ? $"postern: {path}: no PEM certificate found (selector 0 needs a certificate)"
                    : $"postern: {path}: no PEM certificate, public key or private key found");
                return 1;
            }
            byte[] association = m switch { 1 => SHA256.HashData(data), 2 => SHA512.HashData(data), _ => data };
            Console.WriteLine($"{u} {s} {m} {Convert.ToHexStringLower(association)}");
            return 0;
        });
        return cmd;
    }

    /// <summary>The bytes the selector covers: the DER certificate (0) or its SubjectPublicKeyInfo (1).</summary>
    private static byte[]? Select(string pem, byte selector)
    {
        try
        {
            if (pem.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
            {
                using X509Certificate2 cert = X509Certificate2.CreateFromPem(pem);
                return selector == 0 ? cert.RawData : cert.PublicKey.ExportSubjectPublicKeyInfo();
            }
            if (selector == 0)
                return null;
            foreach (Func<AsymmetricAlgorithm> create in new Func<AsymmetricAlgorithm>[] { () => ECDsa.Create(), () => RSA.Create() })
            {
                using AsymmetricAlgorithm key = create();
                try
                {
                    key.ImportFromPem(pem);
                    return key.ExportSubjectPublicKeyInfo();
                }
                catch (ArgumentException)
                {
                }
                catch (CryptographicException)
                {
                }
            }
            return null;
        }
        catch (CryptographicException)
        {
            return null;
        }
    }
}
