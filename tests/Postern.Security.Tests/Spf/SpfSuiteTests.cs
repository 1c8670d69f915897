using System.Net;
using Postern.Dns;
using Postern.Security.Spf;
using YamlDotNet.RepresentationModel;

namespace Postern.Security.Tests.Spf;

/// <summary>
/// The openspf RFC 7208 conformance suite (Spf/Data/rfc7208-tests.yml, license beside it),
/// each group's zone served by an in-memory resolver.
/// </summary>
public class SpfSuiteTests
{
    public sealed record SuiteCase(string Group, string Name, string Helo, string Host, string MailFrom, string[] Results, string? Explanation, int ZoneIndex)
    {
        public override string ToString() => Name;
    }

    private static readonly Lazy<(List<SuiteCase> Cases, List<YamlMappingNode> Zones)> Suite = new(Load);

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (SuiteCase c in Suite.Value.Cases) data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Case_gives_expected_result(string name)
    {
        SuiteCase c = Suite.Value.Cases.Single(x => x.Name == name);
        InMemoryDnsResolver dns = BuildZone(Suite.Value.Zones[c.ZoneIndex]);
        var verifier = new SpfVerifier(dns, new SpfOptions { ReceivingHost = "receiver.example" });
        SpfCheckResult r = await verifier.CheckMailFromAsync(IPAddress.Parse(c.Host), c.Helo, c.MailFrom);
        string got = r.Result.ToKeyword();
        Assert.True(c.Results.Contains(got), $"{c.Group} / {c.Name}: got {got} ({r.Problem}), expected {string.Join(" or ", c.Results)}");
        if (c.Explanation is not null && r.Result == SpfResult.Fail)
        {
            if (c.Explanation == "DEFAULT") Assert.Null(r.Explanation);
            // The suite's IPv6 nibbles are upper case (pyspf's output); RFC 7208 §7.4's example is lower case. DNS names are case-insensitive.
            else Assert.Equal(c.Explanation, r.Explanation, ignoreCase: true);
        }
    }

    [Fact]
    public void Suite_has_all_cases() => Assert.True(Suite.Value.Cases.Count >= 200, $"only {Suite.Value.Cases.Count} cases loaded");

    private static (List<SuiteCase>, List<YamlMappingNode>) Load()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Spf", "Data", "rfc7208-tests.yml");
        var yaml = new YamlStream();
        using (var reader = new StreamReader(path)) yaml.Load(reader);
        var cases = new List<SuiteCase>();
        var zones = new List<YamlMappingNode>();
        foreach (YamlDocument doc in yaml.Documents)
        {
            var root = (YamlMappingNode)doc.RootNode;
            string group = ((YamlScalarNode)root.Children[new YamlScalarNode("description")]).Value!;
            zones.Add(root.Children.TryGetValue(new YamlScalarNode("zonedata"), out YamlNode? z) ? (YamlMappingNode)z : new YamlMappingNode());
            foreach ((YamlNode key, YamlNode value) in (YamlMappingNode)root.Children[new YamlScalarNode("tests")])
            {
                var t = (YamlMappingNode)value;
                string S(string k) => t.Children.TryGetValue(new YamlScalarNode(k), out YamlNode? n) ? ((YamlScalarNode)n).Value ?? "" : "";
                YamlNode res = t.Children[new YamlScalarNode("result")];
                string[] results = res is YamlSequenceNode seq ? [.. seq.Children.Select(x => ((YamlScalarNode)x).Value!)] : [((YamlScalarNode)res).Value!];
                string? exp = t.Children.ContainsKey(new YamlScalarNode("explanation")) ? S("explanation") : null;
                cases.Add(new SuiteCase(group, ((YamlScalarNode)key).Value!, S("helo"), S("host"), S("mailfrom"), results, exp, zones.Count - 1));
            }
        }
        return (cases, zones);
    }

    /// <summary>The group's zone. SPF entries are served as TXT unless the name has TXT entries of its own (README).</summary>
    private static InMemoryDnsResolver BuildZone(YamlMappingNode zonedata)
    {
        var dns = new InMemoryDnsResolver();
        foreach ((YamlNode nameNode, YamlNode recordsNode) in zonedata)
        {
            string name = SpfVerifier.EscapeForDns(((YamlScalarNode)nameNode).Value!);
            var entries = ((YamlSequenceNode)recordsNode).Children;
            bool hasTxt = entries.Any(e => e is YamlMappingNode m && m.Children.ContainsKey(new YamlScalarNode("TXT")));
            bool timeout = entries.Any(e => e is YamlScalarNode { Value: "TIMEOUT" });
            var types = new HashSet<string>();
            foreach (YamlNode entry in entries)
            {
                if (entry is YamlScalarNode s)
                {
                    continue;
                }
                foreach ((YamlNode typeNode, YamlNode data) in (YamlMappingNode)entry)
                {
                    string type = ((YamlScalarNode)typeNode).Value!;
                    if (data is not YamlScalarNode { Value: "NONE" } && !(type == "SPF" && hasTxt)) types.Add(type == "SPF" ? "TXT" : type);
                    switch (type)
                    {
                        case "SPF" when hasTxt:
                            break;
                        case "SPF" or "TXT":
                            if (data is YamlScalarNode { Value: "NONE" }) break;
                            dns.Zone.Add(new TxtRecord(name, 300, TxtStrings(data)));
                            break;
                        case "A" or "AAAA":
                            dns.Zone.AddAddress(name, ((YamlScalarNode)data).Value!);
                            break;
                        case "MX":
                        {
                            var seq = (YamlSequenceNode)data;
                            string target = ((YamlScalarNode)seq.Children[1]).Value!;
                            dns.Zone.Add(new MxRecord(name, 300, ushort.Parse(((YamlScalarNode)seq.Children[0]).Value!, System.Globalization.CultureInfo.InvariantCulture), target.Length == 0 ? "." : target));
                            break;
                        }
                        case "PTR":
                            dns.Zone.Add(new PtrRecord(name, 300, ((YamlScalarNode)data).Value!));
                            break;
                        case "CNAME":
                            dns.Zone.AddCname(name, ((YamlScalarNode)data).Value!);
                            break;
                        default:
                            throw new InvalidOperationException($"record type {type} not handled by the driver");
                    }
                }
            }
            // TIMEOUT: every lookup of the name that the listed records do not answer times out.
            if (timeout)
                foreach (DnsRecordType t in new[] { DnsRecordType.TXT, DnsRecordType.A, DnsRecordType.AAAA, DnsRecordType.MX, DnsRecordType.PTR })
                    if (!types.Contains(t.ToString())) dns.SetFailure(name, DnsOutcome.Timeout, t);
        }
        return dns;
    }

    private static byte[][] TxtStrings(YamlNode data)
    {
        IEnumerable<string> strings = data is YamlSequenceNode seq ? seq.Children.Select(x => ((YamlScalarNode)x).Value ?? "") : [((YamlScalarNode)data).Value ?? ""];
        var list = new List<byte[]>();
        foreach (string s in strings)
        {
            byte[] b = System.Text.Encoding.UTF8.GetBytes(s);
            for (int i = 0; i < b.Length || (i == 0 && b.Length == 0); i += 255) list.Add(b.AsSpan(i, Math.Min(255, b.Length - i)).ToArray());
        }
        return [.. list];
    }
}
