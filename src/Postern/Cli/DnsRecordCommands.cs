// `postern config dnsrecords DOMAIN` and `postern config dnscheck DOMAIN`: the DNS records a
// domain needs (the same set quickstart prints), and a comparison of live DNS with them.
using System.CommandLine;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Postern.Config;
using Postern.Dns;
using Postern.Security.MtaSts;
using Postern.Setup;
using Postern.Store;

namespace Postern.Cli;

/// <summary>DNS record commands of a configured server.</summary>
internal static class DnsRecordCommands
{
    public static Command CreateRecords()
    {
        var domain = new Argument<string>("DOMAIN") { Description = "A local domain." };
        var config = ServeCommand.ConfigOption();
        var cmd = new Command("dnsrecords", "Print every DNS record the domain needs, in zone-file syntax with a comment each.") { domain, config };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            if (await PrepareAsync(parse.GetValue(domain)!, parse.GetValue(config)!, ct).ConfigureAwait(false) is not { } p) return ServeCommand.ExitConfig;
            await using (p.Store)
                Console.Out.Write(DnsRecordSet.Build(p.Inputs));
            return CliCommon.ExitOk;
        }));
        return cmd;
    }

    public static Command CreateCheck()
    {
        var domain = new Argument<string>("DOMAIN") { Description = "A local domain." };
        var config = ServeCommand.ConfigOption();
        var cmd = new Command("dnscheck", "Look up the domain's records through the configured resolver and list each problem with its fix.\n" +
            "Exit code: 0 all records are right, 1 problems found, 2 configuration error.")
        {
            domain, config,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            if (await PrepareAsync(parse.GetValue(domain)!, parse.GetValue(config)!, ct).ConfigureAwait(false) is not { } p) return ServeCommand.ExitConfig;
            await using (p.Store)
            {
                var c = p.Loaded.Config;
                var resolver = new DnsResolver(new DnsResolverOptions
                {
                    Servers = [.. c.Dns.Nameservers.Select(n => DnsResolverOptions.TryParseServer(n, out var ep) ? ep! : throw new IOException($"dns.nameservers: {n}"))],
                    TrustedServers = c.Dns.TrustedNameservers.Count == 0 ? null : [.. c.Dns.TrustedNameservers.Select(IPAddress.Parse)],
                    CacheMaxEntries = 0,
                });
                // The policy is fetched as a sender would: through the resolver, verified against the system's roots, no redirects.
                using var sts = new MtaStsClient(resolver, new InMemoryMtaStsPolicyCache(), new MtaStsFetchOptions { Timeout = TimeSpan.FromSeconds(15) });
                var report = await DnsCheck.RunAsync(resolver, p.Inputs, ServedKeyDigests(p.Loaded), ct,
                    p.Inputs.WebServices ? sts.FetchPolicyAsync : null).ConfigureAwait(false);
                foreach (var problem in report.Problems)
                {
                    Console.Out.WriteLine($"PROBLEM {problem.Name}: {problem.Problem}");
                    Console.Out.WriteLine($"  fix: {problem.Fix}");
                }
                foreach (var note in report.Notes) Console.Out.WriteLine("NOTE " + note);
                Console.Out.WriteLine(report.Problems.Count == 0
                    ? $"{p.Inputs.Domain}: all {report.Checked} checks passed"
                    : $"{p.Inputs.Domain}: {report.Problems.Count} problem(s) in {report.Checked} checks");
                return report.Problems.Count == 0 ? CliCommon.ExitOk : CliCommon.ExitError;
            }
        }));
        return cmd;
    }

    private sealed record Prepared(LoadedConfig Loaded, IMailStore Store, DnsRecordInputs Inputs);

    private static async Task<Prepared?> PrepareAsync(string domainText, string configPath, CancellationToken ct)
    {
        if (DomainCommands.NormalizeDomain(domainText, out string? error) is not { } d)
        {
            CliCommon.Fail(error!);
            return null;
        }
        LoadedConfig loaded;
        try
        {
            loaded = ConfigLoader.Load(configPath);
        }
        catch (ConfigException e)
        {
            foreach (var line in e.Errors) Console.Error.WriteLine(line);
            return null;
        }
        var store = CliCommon.OpenExisting(loaded.DataDirectory);
        if (store is null) return null;
        if (!await store.Directory.IsLocalDomainAsync(d, ct).ConfigureAwait(false))
        {
            await store.DisposeAsync().ConfigureAwait(false);
            CliCommon.Fail($"{d} is not a local domain (see `postern config domain list`)");
            return null;
        }
        var inputs = await DomainDnsInputs.BuildAsync(loaded, store, d, SystemChecks.PublicAddresses(), ct).ConfigureAwait(false);
        return new Prepared(loaded, store, inputs);
    }

    /// <summary>The SHA-256 of the public key of each certificate file the listeners serve (ACME certificates are always on a host key).</summary>
    private static List<(string Path, string Sha256)> ServedKeyDigests(LoadedConfig loaded)
    {
        var list = new List<(string, string)>();
        foreach (var kc in loaded.Config.Listeners.Values.Where(l => l.Smtp.Enabled && !l.Tls.Acme).SelectMany(l => l.Tls.KeyCerts))
        {
            string path = loaded.Resolve(kc.CertFile);
            try
            {
                using var cert = X509Certificate2.CreateFromPemFile(path);
                list.Add((path, Convert.ToHexStringLower(SHA256.HashData(cert.PublicKey.ExportSubjectPublicKeyInfo()))));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                // `config test` reports unreadable certificate files.
            }
        }
        return list;
    }

    public static Command CreateAdminPassword()
    {
        var dir = CliCommon.DataDirectoryOption();
        var file = new Option<string?>("--password-file") { Description = "Read the password from the first line of this file.", HelpName = "FILE" };
        var stdin = new Option<bool>("--password-stdin") { Description = "Read the password from the first line of standard input." };
        var cmd = new Command("adminpassword", "Set the administrator password (for the admin web pages). Without a password option, a strong one is generated and printed once.")
        {
            dir, file, stdin,
        };
        cmd.SetAction(parse =>
        {
            var (password, generated, error) = CliCommon.ReadPassword(parse.GetValue(file), parse.GetValue(stdin));
            if (error is not null) return CliCommon.Fail(error);
            string data = parse.GetValue(dir)!;
            if (!File.Exists(Path.Combine(data, "postern.db"))) return CliCommon.Fail($"no Postern data in {data} (use --dir)");
            try
            {
                AdminPassword.Set(data, password!);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return CliCommon.Fail(e.Message);
            }
            Console.Out.WriteLine("admin password set");
            if (generated) Console.Out.WriteLine($"password: {password}");
            return CliCommon.ExitOk;
        });
        return cmd;
    }
}
