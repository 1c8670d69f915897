// `postern config dkim list|add|rm`: the DKIM keys the server signs a domain's outgoing mail with.
// Keys are files in DATA/dkim/DOMAIN (see DkimKeyFolder); the queue reads the folder when it signs,
// so a change applies to the next message without a restart.
using System.CommandLine;
using System.Globalization;
using Postern.Setup;

namespace Postern.Cli;

/// <summary>DKIM key management for local domains.</summary>
internal static class DkimKeyCommands
{
    public static Command Create()
    {
        var cmd = new Command("dkim", "DKIM signing keys of a domain (files in DATA/dkim/DOMAIN; every key there signs outgoing mail).");

        var listDomain = DomainArgument();
        var listDir = CliCommon.DataDirectoryOption();
        var list = new Command("list", "The domain's keys: selector, algorithm, creation date, then the DNS record of each.") { listDomain, listDir };
        list.SetAction(parse =>
        {
            if (DomainCommands.NormalizeDomain(parse.GetValue(listDomain)!, out string? error) is not { } d) return CliCommon.Fail(error!);
            var problems = new List<string>();
            var keys = DkimKeyFolder.List(parse.GetValue(listDir)!, d, problems);
            foreach (var p in problems) Console.Error.WriteLine("postern: " + p);
            if (keys.Count == 0) Console.Out.WriteLine($"; no DKIM key for {d}: outgoing mail is not signed (add one with `postern config dkim add {d}`)");
            foreach (var k in keys)
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{k.Selector}\t{k.Algorithm}\t{k.Created:yyyy-MM-ddTHH:mm:ssZ}"));
                Console.Out.WriteLine($"  {k.Selector}._domainkey.{d}. IN TXT {DnsRecordSet.TxtStrings(k.Record)}");
            }
            return problems.Count == 0 ? CliCommon.ExitOk : CliCommon.ExitError;
        });

        var addDomain = DomainArgument();
        var type = new Option<string>("--type") { Description = "ed25519 (RFC 8463) or rsa.", DefaultValueFactory = _ => "ed25519" };
        type.AcceptOnlyFromAmong("ed25519", "rsa");
        var bits = new Option<int>("--bits") { Description = "RSA key size (2048 to 4096).", DefaultValueFactory = _ => 2048 };
        var addDir = CliCommon.DataDirectoryOption();
        var add = new Command("add", "Generate a key under a new selector and print the DNS record to publish. It signs from the next message on: publish the record first.")
        {
            addDomain, type, bits, addDir,
        };
        add.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            if (DomainCommands.NormalizeDomain(parse.GetValue(addDomain)!, out string? error) is not { } d) return CliCommon.Fail(error!);
            int b = parse.GetValue(bits);
            if (b is < 2048 or > 4096) return CliCommon.Fail("--bits is between 2048 and 4096");
            string data = parse.GetValue(addDir)!;
            await using (var store = CliCommon.OpenExisting(data))
            {
                if (store is null) return CliCommon.ExitError;
                if (!await store.Directory.IsLocalDomainAsync(d, ct).ConfigureAwait(false))
                    return CliCommon.Fail($"{d} is not a local domain; add it first with `postern config domain add {d}`");
            }
            var key = DkimKeyFolder.Generate(data, d, parse.GetValue(type) == "rsa", b);
            Console.Out.WriteLine($"; new DKIM key {key.Selector} ({key.Algorithm}) in {key.Path}");
            Console.Out.WriteLine("; publish this record now: the key signs outgoing mail from the next message on.");
            Console.Out.WriteLine($"{key.Selector}._domainkey.{d}. IN TXT {DnsRecordSet.TxtStrings(key.Record)}");
            return CliCommon.ExitOk;
        }));

        var rmDomain = DomainArgument();
        var selector = new Argument<string>("SELECTOR") { Description = "The key's selector, as `config dkim list` shows it." };
        var rmDir = CliCommon.DataDirectoryOption();
        var rm = new Command("rm", "Stop signing with a key: its file moves to DATA/dkim/DOMAIN/retired (never deleted). Keep its DNS record a few days for mail in transit.")
        {
            rmDomain, selector, rmDir,
        };
        rm.SetAction(parse =>
        {
            if (DomainCommands.NormalizeDomain(parse.GetValue(rmDomain)!, out string? error) is not { } d) return CliCommon.Fail(error!);
            string data = parse.GetValue(rmDir)!, s = parse.GetValue(selector)!;
            string? moved;
            try
            {
                moved = DkimKeyFolder.Retire(data, d, s);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return CliCommon.Fail(e.Message);
            }
            if (moved is null) return CliCommon.Fail($"no DKIM key {s} for {d} (see `postern config dkim list {d}`)");
            Console.Out.WriteLine($"key {s} of {d} retired to {moved}");
            Console.Out.WriteLine($"; keep {s}._domainkey.{d} in DNS for a few days (mail in transit is verified with it), then remove it.");
            if (DkimKeyFolder.List(data, d).Count == 0)
                Console.Out.WriteLine($"; {d} has no DKIM key left: its outgoing mail is not signed, and DMARC relies on SPF alone.");
            return CliCommon.ExitOk;
        });

        cmd.Subcommands.Add(list);
        cmd.Subcommands.Add(add);
        cmd.Subcommands.Add(rm);
        return cmd;
    }

    private static Argument<string> DomainArgument() => new("DOMAIN") { Description = "A local domain." };
}
