using System.CommandLine;
using System.Net;
using Postern.Dns;

namespace Postern.Cli;

/// <summary><c>postern dns ...</c>: DNS diagnostics with Postern's own resolver.</summary>
internal static class DnsCommands
{
    /// <summary>Exit codes of <c>dns lookup</c>: 0 records found, 1 no such records, 2 temporary failure, 3 permanent error.</summary>
    internal const int ExitFound = 0, ExitNotFound = 1, ExitTemporary = 2, ExitPermanent = 3;

    public static Command Create()
    {
        var dns = new Command("dns", "DNS tools using Postern's resolver.");
        dns.Subcommands.Add(LookupCommand());
        return dns;
    }

    private static Command LookupCommand()
    {
        var type = new Argument<string>("type") { Description = "Record type: A, AAAA, MX, TXT, CNAME, PTR, SRV, TLSA, NS, SOA, CAA, DS, DNSKEY, ... or TYPEnnn." };
        var name = new Argument<string>("name") { Description = "Domain name (Unicode allowed), or an IP address for PTR." };
        var server = new Option<string?>("--server") { Description = "Resolver to ask, IP[:PORT]. Default: the nameservers of /etc/resolv.conf." };
        var trust = new Option<bool>("--trust-server") { Description = "Believe the AD bit of --server even if it is not on loopback." };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for each response.", DefaultValueFactory = _ => 5 };
        var cmd = new Command("lookup", "Look up DNS records and say whether they were DNSSEC-authentic.\n" +
            "Exit code: 0 found, 1 no such name or no records of the type, 2 temporary failure (SERVFAIL, timeout), 3 other errors.")
        {
            type, name, server, trust, timeout,
        };
        cmd.SetAction(async (parse, cancellationToken) =>
        {
            string typeText = parse.GetValue(type)!;
            string nameText = parse.GetValue(name)!;
            if (!DnsRecord.TryParseType(typeText, out DnsRecordType recordType))
            {
                await Console.Error.WriteLineAsync($"unknown record type \"{typeText}\"").ConfigureAwait(false);
                return ExitPermanent;
            }
            IPEndPoint? endpoint = null;
            string? serverText = parse.GetValue(server);
            if (serverText is not null && !DnsResolverOptions.TryParseServer(serverText, out endpoint))
            {
                await Console.Error.WriteLineAsync($"invalid server \"{serverText}\" (expected IP or IP:PORT)").ConfigureAwait(false);
                return ExitPermanent;
            }
            double seconds = parse.GetValue(timeout);
            var options = new DnsResolverOptions
            {
                Servers = endpoint is null ? [] : [endpoint],
                TrustedServers = endpoint is not null && parse.GetValue(trust) ? [endpoint.Address] : null,
                Timeout = TimeSpan.FromSeconds(seconds is > 0 and <= 60 ? seconds : 5),
                CacheMaxEntries = 0,
            };
            var resolver = new DnsResolver(options);
            if (recordType == DnsRecordType.PTR && IPAddress.TryParse(nameText, out IPAddress? address))
                nameText = DnsName.ReverseName(address);
            DnsResult<DnsRecord> result = await resolver.QueryAsync(nameText, recordType, cancellationToken).ConfigureAwait(false);
            return Print(result, resolver);
        });
        return cmd;
    }

    private static int Print(DnsResult<DnsRecord> result, DnsResolver resolver)
    {
        TextWriter o = Console.Out;
        foreach (CnameRecord c in result.CnameChain) o.WriteLine(c.ToString());
        foreach (DnsRecord r in result.Records) o.WriteLine(r.ToString());
        string server = result.Server ?? string.Join(", ", resolver.Servers);
        switch (result.Kind)
        {
            case DnsOutcomeKind.Success:
                break;
            case DnsOutcomeKind.NotFound:
                o.WriteLine(result.Outcome == DnsOutcome.NxDomain
                    ? $";; {result.CanonicalName}: no such domain (NXDOMAIN)"
                    : $";; {result.CanonicalName}: no {DnsRecord.FormatType(result.Type)} records");
                break;
            default:
                Console.Error.WriteLine(";; lookup failed: " + result.Describe());
                break;
        }
        foreach (ExtendedDnsError e in result.ExtendedErrors)
            if (result.Kind is DnsOutcomeKind.Success or DnsOutcomeKind.NotFound) o.WriteLine(";; " + e);
        if (result.Kind is DnsOutcomeKind.Success or DnsOutcomeKind.NotFound)
        {
            o.WriteLine(result.Authentic
                ? $";; authentic: yes (DNSSEC-validated by trusted resolver {server})"
                : $";; authentic: no (not DNSSEC-validated, or resolver {server} not trusted)");
        }
        return result.Kind switch
        {
            DnsOutcomeKind.Success => ExitFound,
            DnsOutcomeKind.NotFound => ExitNotFound,
            DnsOutcomeKind.TemporaryFailure => ExitTemporary,
            _ => ExitPermanent,
        };
    }
}
