// What quickstart can check about the machine it runs on. Every check is bounded in time and
// only ever warns: quickstart must work on a machine without network (or in a test).
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Postern.Dns;

namespace Postern.Setup;

/// <summary>Machine checks for quickstart; each returns warnings, never throws.</summary>
internal static class SystemChecks
{
    /// <summary>Time each network check may take.</summary>
    public static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(4);

    /// <summary>Global unicast addresses of this machine's interfaces (not loopback, private, link-local or ULA).</summary>
    public static List<IPAddress> PublicAddresses()
    {
        var list = new List<IPAddress>();
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                if (nic.OperationalStatus != OperationalStatus.Up) continue;
                foreach (var a in nic.GetIPProperties().UnicastAddresses)
                {
                    if (IsPublic(a.Address) && !list.Contains(a.Address)) list.Add(a.Address);
                }
            }
        }
        catch (NetworkInformationException)
        {
        }
        return list;
    }

    /// <summary>Whether an address is globally routable (RFC 1918, 6598, 4193, 4291 ranges excluded).</summary>
    public static bool IsPublic(IPAddress ip)
    {
        if (IPAddress.IsLoopback(ip) || ip.IsIPv6LinkLocal || ip.IsIPv6SiteLocal || ip.IsIPv6Multicast || ip.IsIPv4MappedToIPv6) return false;
        byte[] b = ip.GetAddressBytes();
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            return !(b[0] == 10 || b[0] == 0 || b[0] >= 224
                || (b[0] == 172 && (b[1] & 0xF0) == 16)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 100 && (b[1] & 0xC0) == 64)
                || (b[0] == 198 && (b[1] & 0xFE) == 18)                   // benchmarking, RFC 2544
                || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2)           // IETF protocol assignments, TEST-NET-1
                || (b[0] == 198 && b[1] == 51 && b[2] == 100)             // TEST-NET-2
                || (b[0] == 203 && b[1] == 0 && b[2] == 113));            // TEST-NET-3 (RFC 5737)
        }
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return false; // documentation, RFC 3849
        return (b[0] & 0xE0) == 0x20; // 2000::/3 global unicast
    }

    /// <summary>Warnings about reverse DNS, DNSSEC validation and outgoing port 25.</summary>
    public static async Task<List<string>> RunAsync(string hostName, IReadOnlyList<IPAddress> publicIPs, DnsResolverBase resolver)
    {
        var warnings = new List<string>();
        if (publicIPs.Count == 0)
            warnings.Add("no public IP address on this machine's interfaces (behind NAT?): other servers must reach it on port 25 at the address of the A/AAAA records");
        foreach (var ip in publicIPs)
        {
            using var cts = new CancellationTokenSource(CheckTimeout);
            try
            {
                var ptr = await resolver.LookupPtrAsync(ip, cts.Token).ConfigureAwait(false);
                if (ptr.Outcome != DnsOutcome.Success)
                    warnings.Add($"reverse DNS of {ip}: {ptr.Outcome}; ask your provider to set it to {hostName} (many servers refuse mail from addresses without it)");
                else if (!ptr.Records.Any(p => string.Equals(p.Target.TrimEnd('.'), hostName, StringComparison.OrdinalIgnoreCase)))
                    warnings.Add($"reverse DNS of {ip} is {string.Join(", ", ptr.Records.Select(p => p.Target))}, not {hostName}; ask your provider to change it");
            }
            catch (OperationCanceledException)
            {
                warnings.Add($"reverse DNS of {ip}: no answer within {CheckTimeout.TotalSeconds} s");
            }
        }
        using (var cts = new CancellationTokenSource(CheckTimeout))
        {
            try
            {
                // A name in a signed zone: a validating resolver answers with the AD bit.
                var signed = await resolver.LookupTxtAsync("ietf.org", cts.Token).ConfigureAwait(false);
                if (signed.Outcome != DnsOutcome.Success)
                    warnings.Add($"could not check whether the resolver validates DNSSEC (ietf.org TXT: {signed.Outcome}); DANE needs a validating resolver such as unbound on this machine");
                else if (!signed.Authentic)
                    warnings.Add("the DNS resolver does not validate DNSSEC (or is not trusted): DANE and DNSSEC results need a validating resolver on this machine, such as unbound (see docs/dns.md)");
            }
            catch (OperationCanceledException)
            {
                warnings.Add("the DNS resolver did not answer in time");
            }
        }
        using (var cts = new CancellationTokenSource(CheckTimeout))
        {
            try
            {
                var mx = await resolver.LookupMxAsync("gmail.com", cts.Token).ConfigureAwait(false);
                string? target = mx.Records.OrderBy(m => m.Preference).Select(m => m.Exchange).FirstOrDefault();
                if (target is null)
                    warnings.Add("could not look up a well-known MX to test outgoing port 25");
                else
                {
                    using var tcp = new TcpClient();
                    await tcp.ConnectAsync(target.TrimEnd('.'), 25, cts.Token).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                warnings.Add("outgoing connections to port 25 seem blocked: many providers block them; ask yours to open them, or send through a smarthost (see docs/install.md)");
            }
        }
        return warnings;
    }
}
