// What the web listener serves, from postern.conf: the MTA-STS policy (the same object gives the
// served file and the id in the printed _mta-sts record) and the mail client settings for
// autoconfiguration. `serve`, `config dnsrecords` and `config dnscheck` all ask here.
using Postern.Config;
using Postern.Security.MtaSts;
using Postern.Web;

namespace Postern.Setup;

/// <summary>The web listener's content as the configuration defines it.</summary>
internal static class WebServices
{
    /// <summary>Whether a listener serves HTTPS with a certificate (so MTA-STS and autoconfiguration are served).</summary>
    public static bool Served(ServerConfig c) =>
        c.Listeners.Values.Any(l => l.Https.Enabled && (l.Tls.KeyCerts.Count > 0 || l.Tls.Acme));

    /// <summary>The host names of the listeners that receive mail (smtp), the top-level host name first.</summary>
    public static IReadOnlyList<string> MxHostNames(ServerConfig c)
    {
        var names = new List<string>();
        foreach (var l in c.Listeners.Values.Where(l => l.Smtp.Enabled))
        {
            string h = (l.Hostname.Length > 0 ? l.Hostname : c.Hostname).TrimEnd('.').ToLowerInvariant();
            if (!names.Contains(h)) names.Add(h);
        }
        string main = c.Hostname.TrimEnd('.').ToLowerInvariant();
        if (names.Remove(main) || names.Count == 0) names.Insert(0, main);
        return names;
    }

    /// <summary>The MTA-STS policy (RFC 8461 §3.2) of every domain.</summary>
    public static MtaStsPolicy MtaStsPolicy(ServerConfig c) => new(
        c.MtaSts.Mode switch
        {
            MtaStsModeSetting.Testing => MtaStsMode.Testing,
            MtaStsModeSetting.None => MtaStsMode.None,
            _ => MtaStsMode.Enforce,
        },
        TimeSpan.FromSeconds(c.MtaSts.MaxAgeSeconds),
        MxHostNames(c));

    /// <summary>The services clients are told about: the first enabled port of each kind; TLS services only with a certificate.</summary>
    public static MailClientSettings ClientSettings(ServerConfig c)
    {
        int? Port(Func<ListenerConfig, ServiceConfig> service, bool needsTls) =>
            c.Listeners.Values.Where(l => !needsTls || l.Tls.KeyCerts.Count > 0 || l.Tls.Acme).Select(service).FirstOrDefault(s => s.Enabled)?.Port;
        return new MailClientSettings(c.Hostname.TrimEnd('.').ToLowerInvariant(),
            ImapsPort: Port(l => l.Imaps, true), ImapPort: Port(l => l.Imap, false),
            SubmissionsPort: Port(l => l.Submissions, true), SubmissionPort: Port(l => l.Submission, false));
    }

    /// <summary>The names under a domain that the web listener answers for, each in the ACME certificate of the domain.</summary>
    public static IReadOnlyList<string> NamesOf(string domain) =>
        ["mta-sts." + domain, "autoconfig." + domain, "autodiscover." + domain];
}
