// Reads postern.conf onto the ServerConfig classes. Strict on purpose: an unknown key, a
// wrong type or a missing required setting is an error naming the file, line and column,
// and every error of the file is reported at once, before any listener starts.
using System.Collections;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;
using Postern.Dns;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Postern.Config;

/// <summary>Configuration errors, each as "FILE:LINE:COLUMN: problem".</summary>
internal sealed class ConfigException(IReadOnlyList<string> errors) : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>Loads and validates <c>postern.conf</c>.</summary>
internal static class ConfigLoader
{
    /// <summary>Most bytes of a configuration file; a larger one is a mistake, not a configuration.</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Reads, binds and validates the file; throws <see cref="ConfigException"/> listing every problem.</summary>
    public static LoadedConfig Load(string path)
    {
        string full = Path.GetFullPath(path);
        string text;
        try
        {
            var info = new FileInfo(full);
            if (!info.Exists)
                throw new ConfigException([$"{path}: no such file (create one with `postern quickstart`)"]);
            if (info.Length > MaxFileBytes)
                throw new ConfigException([$"{path}: {info.Length} bytes, more than a configuration file can be ({MaxFileBytes})"]);
            text = File.ReadAllText(full, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException([$"{path}: cannot read: {e.Message}"]);
        }
        return new LoadedConfig(Parse(text, path), full);
    }

    /// <summary>Binds and validates configuration text; <paramref name="fileName"/> appears in the errors.</summary>
    public static ServerConfig Parse(string text, string fileName)
    {
        var ctx = new BindContext(fileName);
        var yaml = new YamlStream();
        try
        {
            yaml.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ConfigException([$"{fileName}:{e.Start.Line}:{e.Start.Column}: not valid YAML: {e.Message}"]);
        }
        if (yaml.Documents.Count != 1 || yaml.Documents[0].RootNode is not YamlMappingNode root)
            throw new ConfigException([$"{fileName}: expected one YAML document with settings (key: value lines)"]);
        var config = (ServerConfig)ctx.BindObject(typeof(ServerConfig), root, "");
        Validate(config, ctx);
        if (ctx.Errors.Count > 0)
            throw new ConfigException(ctx.Errors);
        return config;
    }

    /// <summary>The kebab-case key of a property: <c>DataDir</c> is <c>data-dir</c>.</summary>
    public static string KeyOf(string propertyName)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < propertyName.Length; i++)
        {
            char c = propertyName[i];
            if (char.IsUpper(c) && i > 0) sb.Append('-');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>Settings bound from YAML: public read-write properties, in declaration order.</summary>
    public static IEnumerable<PropertyInfo> Settings(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.CanWrite).OrderBy(p => p.MetadataToken);

    private static void Validate(ServerConfig c, BindContext ctx)
    {
        if (ctx.Errors.Count > 0) return; // structural errors first; checks below assume a bound tree
        if (!IsHostName(c.Hostname))
            ctx.Error("hostname", $"\"{c.Hostname}\" is not a host name (for example mail.example.com)");
        if (string.IsNullOrWhiteSpace(c.DataDir))
            ctx.Error("data-dir", "must not be empty");
        if (c.ShutdownGraceSeconds is < 0 or > 3600)
            ctx.Error("shutdown-grace-seconds", "must be between 0 and 3600");
        if (c.Reports.SuppressionDays is < 1 or > 3650)
            ctx.Error("reports.suppression-days", "must be between 1 and 3650");
        if (c.Reports.ReceivedRetentionDays is < 0 or > 36500)
            ctx.Error("reports.received-retention-days", "must be between 0 (keep forever) and 36500");
        if (c.Reports.FromAddress.Length > 0 && (c.Reports.FromAddress.Count(ch => ch == '@') != 1 || c.Reports.FromAddress.StartsWith('@')
            || c.Reports.FromAddress.EndsWith('@') || c.Reports.FromAddress.Any(ch => ch <= ' ' || ch >= 0x7f || ch is '<' or '>')))
            ctx.Error("reports.from-address", $"\"{c.Reports.FromAddress}\" is not a mail address (for example reports@example.com)");
        if (c.Listeners.Count == 0)
            ctx.Error("listeners", "at least one listener is needed");
        var bound = new Dictionary<(string Ip, int Port), string>();
        foreach (var (name, l) in c.Listeners)
        {
            string at = $"listeners.{name}";
            if (l.Ips.Count == 0)
                ctx.Error(at + ".ips", "at least one IP address is needed");
            for (int i = 0; i < l.Ips.Count; i++)
            {
                if (!IPAddress.TryParse(l.Ips[i], out _))
                    ctx.Error($"{at}.ips[{i}]", $"\"{l.Ips[i]}\" is not an IP address");
            }
            if (l.Hostname.Length > 0 && !IsHostName(l.Hostname))
                ctx.Error(at + ".hostname", $"\"{l.Hostname}\" is not a host name");
            if (l.MaxConnectionsPerIp < 1)
                ctx.Error(at + ".max-connections-per-ip", "must be at least 1");
            for (int i = 0; i < l.Dnsbl.Count; i++)
            {
                if (!IsHostName(l.Dnsbl[i].TrimEnd('.')))
                    ctx.Error($"{at}.dnsbl[{i}]", $"\"{l.Dnsbl[i]}\" is not a DNS zone name (for example zen.spamhaus.org)");
            }
            foreach (var (service, svc) in Services(l))
            {
                if (!svc.Enabled) continue;
                if (svc.Port is < 1 or > 65535)
                {
                    ctx.Error($"{at}.{service}.port", $"{svc.Port} is not a TCP port (1-65535)");
                    continue;
                }
                foreach (var ip in l.Ips)
                {
                    if (bound.TryGetValue((ip, svc.Port), out var other))
                        ctx.Error($"{at}.{service}.port", $"{ip} port {svc.Port} is already used by {other}");
                    else
                        bound[(ip, svc.Port)] = $"{at}.{service}";
                }
            }
            for (int i = 0; i < l.Tls.KeyCerts.Count; i++)
            {
                var kc = l.Tls.KeyCerts[i];
                if (kc.CertFile.Length == 0) ctx.Error($"{at}.tls.key-certs[{i}].cert-file", "missing");
                if (kc.KeyFile.Length == 0) ctx.Error($"{at}.tls.key-certs[{i}].key-file", "missing");
            }
        }
        if (c.MtaSts.MaxAgeSeconds is < 0 or > 31_557_600)
            ctx.Error("mta-sts.max-age-seconds", "must be between 0 and 31557600 (one year, RFC 8461 §3.2)");
        if (c.JunkFilter.Threshold is <= 0.5 or > 1 || double.IsNaN(c.JunkFilter.Threshold))
            ctx.Error("junk-filter.threshold", "must be above 0.5 and at most 1");
        if (c.JunkFilter.MinTrained is < 1 or > 100_000)
            ctx.Error("junk-filter.min-trained", "must be between 1 and 100000");
        if (c.JunkFilter.MaxWords is < 1000 or > 100_000_000)
            ctx.Error("junk-filter.max-words", "must be between 1000 and 100000000");
        ValidateAcme(c, bound, ctx);
        for (int i = 0; i < c.Dns.Nameservers.Count; i++)
        {
            if (!DnsResolverOptions.TryParseServer(c.Dns.Nameservers[i], out _))
                ctx.Error($"dns.nameservers[{i}]", $"\"{c.Dns.Nameservers[i]}\" is not IP or IP:port");
        }
        for (int i = 0; i < c.Dns.TrustedNameservers.Count; i++)
        {
            if (!IPAddress.TryParse(c.Dns.TrustedNameservers[i], out _))
                ctx.Error($"dns.trusted-nameservers[{i}]", $"\"{c.Dns.TrustedNameservers[i]}\" is not an IP address");
        }
        ValidateTransports(c, ctx);
    }

    private static void ValidateTransports(ServerConfig c, BindContext ctx)
    {
        foreach (var (name, t) in c.Transports)
        {
            string at = "transports." + name;
            bool single = t.Type != TransportType.Direct;
            if (single && t.Host.Length == 0)
                ctx.Error(at + ".host", $"a {KeyOf(t.Type.ToString())} needs a host");
            if (single && t.Host.Length > 0 && !IsHostName(t.Host) && !IPAddress.TryParse(t.Host, out _))
                ctx.Error(at + ".host", $"\"{t.Host}\" is not a host name or IP address");
            if (!single && t.Host.Length > 0)
                ctx.Error(at + ".host", "direct delivery goes to the MX hosts: host is for smarthost and relay");
            if (t.Port is < 0 or > 65535)
                ctx.Error(at + ".port", $"{t.Port} is not a TCP port (1-65535, or 0 for the default)");
            if (t.Username.Length > 0 && t.Type != TransportType.Smarthost)
                ctx.Error(at + ".username", "AUTH is for a smarthost (type: smarthost)");
            if (t.Type == TransportType.Smarthost && t.Username.Length == 0)
                ctx.Error(at + ".username", "a smarthost needs a user name and password-file (without AUTH, use type: relay)");
            if ((t.Username.Length > 0) != (t.PasswordFile.Length > 0))
                ctx.Error(at + (t.Username.Length > 0 ? ".password-file" : ".username"), "username and password-file go together");
            if (t.Type == TransportType.Direct && t.Tls != TransportTls.Auto)
                ctx.Error(at + ".tls", "direct delivery uses opportunistic STARTTLS; tls is for smarthost and relay");
            if (t.Type == TransportType.Smarthost && t.Tls is TransportTls.None or TransportTls.Opportunistic)
                ctx.Error(at + ".tls", "a smarthost gets the password: use starttls or implicit, so that it is sent over verified TLS");
            if (t.Socks5.Length > 0 && !TrySplitHostPort(t.Socks5, out _, out _))
                ctx.Error(at + ".socks5", $"\"{t.Socks5}\" is not host:port");
            if (t.Socks5.Length == 0 && (t.Socks5Username.Length > 0 || t.Socks5PasswordFile.Length > 0))
                ctx.Error(at + ".socks5", "socks5-username and socks5-password-file are given without socks5");
            if ((t.Socks5Username.Length > 0) != (t.Socks5PasswordFile.Length > 0))
                ctx.Error(at + ".socks5-password-file", "socks5-username and socks5-password-file go together");
        }
        for (int i = 0; i < c.Routes.Count; i++)
        {
            RouteConfig r = c.Routes[i];
            string at = $"routes[{i}]";
            if (r.Transport != "direct" && !c.Transports.ContainsKey(r.Transport))
                ctx.Error(at + ".transport", $"\"{r.Transport}\" is not a transport (known: {string.Join(", ", c.Transports.Keys.Append("direct").Distinct())})");
            if (r.MinimumAttempt < 1)
                ctx.Error(at + ".minimum-attempt", "must be at least 1");
            foreach (var (key, list) in new[] { ("from-domains", r.FromDomains), ("to-domains", r.ToDomains) })
            {
                for (int j = 0; j < list.Count; j++)
                {
                    string d = list[j].StartsWith('.') ? list[j][1..] : list[j];
                    if (!IsHostName(d))
                        ctx.Error($"{at}.{key}[{j}]", $"\"{list[j]}\" is not a domain (a leading dot matches subdomains)");
                }
            }
        }
    }

    /// <summary>Splits "host:port" or "[v6]:port".</summary>
    public static bool TrySplitHostPort(string text, out string host, out int port)
    {
        host = "";
        port = 0;
        int colon = text.LastIndexOf(':');
        if (colon <= 0) return false;
        host = text[..colon].Trim('[', ']');
        return int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and <= 65535
            && (IsHostName(host) || IPAddress.TryParse(host, out _));
    }

    private static void ValidateAcme(ServerConfig c, Dictionary<(string Ip, int Port), string> bound, BindContext ctx)
    {
        var a = c.Acme;
        foreach (var (name, l) in c.Listeners)
        {
            string at = $"listeners.{name}.tls";
            if (l.Tls.Acme && a.DirectoryUrl.Length == 0)
                ctx.Error(at + ".acme", "needs acme.directory-url (the certificate authority's ACME directory)");
            for (int i = 0; i < l.Tls.AcmeNames.Count; i++)
            {
                if (!IsHostName(l.Tls.AcmeNames[i]))
                    ctx.Error($"{at}.acme-names[{i}]", $"\"{l.Tls.AcmeNames[i]}\" is not a host name");
            }
            if (!l.Tls.Acme && l.Tls.AcmeNames.Count > 0)
                ctx.Error(at + ".acme-names", "given, but tls.acme is not true");
        }
        if (a.DirectoryUrl.Length > 0 && !(Uri.TryCreate(a.DirectoryUrl, UriKind.Absolute, out var u) && u.Scheme == Uri.UriSchemeHttps))
            ctx.Error("acme.directory-url", $"\"{a.DirectoryUrl}\" is not an https:// URL (RFC 8555 §6.1 requires HTTPS)");
        if (a.ContactEmail.Length > 0 && (a.ContactEmail.IndexOf('@', StringComparison.Ordinal) is <= 0 || a.ContactEmail.EndsWith('@') || a.ContactEmail.Any(char.IsWhiteSpace)))
            ctx.Error("acme.contact-email", $"\"{a.ContactEmail}\" is not an email address");
        if ((a.EabKeyId.Length > 0) != (a.EabHmacKey.Length > 0))
            ctx.Error(a.EabKeyId.Length > 0 ? "acme.eab-hmac-key" : "acme.eab-key-id", "External Account Binding needs both eab-key-id and eab-hmac-key");
        if (a.EabHmacKey.Length > 0 && !IsBase64Url(a.EabHmacKey))
            ctx.Error("acme.eab-hmac-key", "is not base64url text (letters, digits, - and _)");
        if (a.RenewDays is < 1 or > 365)
            ctx.Error("acme.renew-days", "must be between 1 and 365");
        foreach (var (key, port) in new[] { ("tls-alpn-port", a.TlsAlpnPort), ("http-port", a.HttpPort) })
        {
            if (port is < 0 or > 65535) ctx.Error("acme." + key, $"{port} is not a TCP port (1-65535, or 0 for off)");
        }
        if (!c.Listeners.Values.Any(l => l.Tls.Acme)) return;
        if (a.TlsAlpnPort == 0 && a.HttpPort == 0)
            ctx.Error("acme", "tls-alpn-port and http-port are both 0: no challenge could be answered");
        if (a.TlsAlpnPort != 0 && a.TlsAlpnPort == a.HttpPort)
            ctx.Error("acme.http-port", "must differ from tls-alpn-port");
        foreach (var l in c.Listeners.Values.Where(l => l.Tls.Acme))
        {
            foreach (var ip in l.Ips)
            {
                foreach (var (key, port) in new[] { ("tls-alpn-port", a.TlsAlpnPort), ("http-port", a.HttpPort) })
                {
                    // The web listener answers validations on its own ports: tls-alpn-01 on https, http-01 on http.
                    if (port > 0 && bound.TryGetValue((ip, port), out var other) && !other.EndsWith(key == "tls-alpn-port" ? ".https" : ".http", StringComparison.Ordinal))
                        ctx.Error("acme." + key, $"{ip} port {port} is already used by {other}");
                }
            }
        }
    }

    private static bool IsBase64Url(string s) => s.TrimEnd('=').All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_');

    /// <summary>The services of a listener with their keys.</summary>
    public static IEnumerable<(string Key, ServiceConfig Service)> Services(ListenerConfig l) =>
        Settings(typeof(ListenerConfig)).Where(p => p.PropertyType == typeof(ServiceConfig))
            .Select(p => (KeyOf(p.Name), (ServiceConfig)p.GetValue(l)!));

    /// <summary>RFC 1035 §2.3.1 host name (after IDNA), at least one dot not required (localhost is a name).</summary>
    public static bool IsHostName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 253) return false;
        string ascii;
        try
        {
            ascii = new IdnMapping().GetAscii(name.TrimEnd('.'));
        }
        catch (ArgumentException)
        {
            return false;
        }
        foreach (var label in ascii.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-') return false;
            foreach (char ch in label)
            {
                if (!(char.IsAsciiLetterOrDigit(ch) || ch == '-')) return false;
            }
        }
        return true;
    }

    private sealed class BindContext(string fileName)
    {
        private readonly Dictionary<string, Mark> _marks = new(StringComparer.Ordinal);

        public List<string> Errors { get; } = [];

        public void Error(string path, string message)
        {
            // The closest bound ancestor gives the line when the setting itself was left out.
            string p = path;
            Mark? mark = null;
            while (true)
            {
                if (_marks.TryGetValue(p, out var m)) { mark = m; break; }
                int cut = Math.Max(p.LastIndexOf('.'), p.LastIndexOf('['));
                if (cut <= 0) { if (p.Length > 0 && _marks.TryGetValue("", out var r)) mark = r; break; }
                p = p[..cut];
            }
            string where = mark is { } mk ? $"{fileName}:{mk.Line}:{mk.Column}" : fileName;
            Errors.Add($"{where}: {(path.Length > 0 ? path + ": " : "")}{message}");
        }

        private void Error(YamlNode node, string path, string message)
        {
            _marks.TryAdd(path, node.Start);
            Error(path, message);
        }

        public object BindObject(Type type, YamlMappingNode node, string path)
        {
            _marks[path] = node.Start;
            object obj = Activator.CreateInstance(type)!;
            var props = Settings(type).ToDictionary(p => KeyOf(p.Name), StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (keyNode, valueNode) in node.Children)
            {
                if (keyNode is not YamlScalarNode { Value: { } key })
                {
                    Error(keyNode, path, "a setting name must be a plain word");
                    continue;
                }
                string at = path.Length == 0 ? key : path + "." + key;
                if (!props.TryGetValue(key, out var prop))
                {
                    Error(keyNode, at, $"unknown setting (known here: {string.Join(", ", props.Keys)})");
                    continue;
                }
                if (!seen.Add(key))
                {
                    Error(keyNode, at, "given twice");
                    continue;
                }
                _marks[at] = valueNode.Start;
                if (IsNull(valueNode))
                    continue; // the default stays
                var value = BindValue(prop.PropertyType, valueNode, at);
                if (value is not null)
                    prop.SetValue(obj, value);
            }
            foreach (var (key, prop) in props)
            {
                if (!seen.Contains(key) && prop.GetCustomAttribute<DocAttribute>() is { Optional: false })
                    Error(path.Length == 0 ? key : path + "." + key, "missing (required)");
            }
            return obj;
        }

        private static bool IsNull(YamlNode node) =>
            node is YamlScalarNode s && s.Style == YamlDotNet.Core.ScalarStyle.Plain && (s.Value is null or "" or "~" or "null");

        private object? BindValue(Type type, YamlNode node, string path)
        {
            if (type == typeof(string) || type == typeof(int) || type == typeof(double) || type == typeof(bool) || type.IsEnum)
            {
                if (node is not YamlScalarNode { Value: { } text })
                {
                    Error(node, path, "expected a single value, not a list or a group of settings");
                    return null;
                }
                return BindScalar(type, text, node, path);
            }
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
            {
                Type item = type.GetGenericArguments()[0];
                if (node is not YamlSequenceNode seq)
                {
                    Error(node, path, "expected a list (- item lines, or [a, b])");
                    return null;
                }
                var list = (IList)Activator.CreateInstance(type)!;
                int i = 0;
                foreach (var child in seq.Children)
                {
                    string at = $"{path}[{i++}]";
                    _marks[at] = child.Start;
                    if (BindValue(item, child, at) is { } v) list.Add(v);
                }
                return list;
            }
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
            {
                Type item = type.GetGenericArguments()[1];
                if (node is not YamlMappingNode map)
                {
                    Error(node, path, "expected named entries (name: followed by indented settings)");
                    return null;
                }
                var dict = (IDictionary)Activator.CreateInstance(type)!;
                foreach (var (k, v) in map.Children)
                {
                    if (k is not YamlScalarNode { Value: { Length: > 0 } name } || !name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_'))
                    {
                        Error(k, path, "an entry name is letters, digits, - and _");
                        continue;
                    }
                    string at = path + "." + name;
                    _marks[at] = v.Start;
                    if (dict.Contains(name)) { Error(k, at, "given twice"); continue; }
                    if (BindValue(item, v, at) is { } bound) dict[name] = bound;
                }
                return dict;
            }
            if (node is not YamlMappingNode m)
            {
                Error(node, path, "expected a group of settings (indented key: value lines)");
                return null;
            }
            return BindObject(type, m, path);
        }

        private object? BindScalar(Type type, string text, YamlNode node, string path)
        {
            if (type == typeof(string)) return text;
            if (type == typeof(int))
            {
                if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n)) return n;
                Error(node, path, $"\"{text}\" is not a whole number");
                return null;
            }
            if (type == typeof(double))
            {
                if (double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)) return d;
                Error(node, path, $"\"{text}\" is not a number");
                return null;
            }
            if (type == typeof(bool))
            {
                switch (text.ToLowerInvariant())
                {
                    case "true" or "yes" or "on": return true;
                    case "false" or "no" or "off": return false;
                }
                Error(node, path, $"\"{text}\" is not true or false");
                return null;
            }
            foreach (var name in Enum.GetNames(type))
            {
                if (string.Equals(KeyOf(name), text, StringComparison.OrdinalIgnoreCase))
                    return Enum.Parse(type, name);
            }
            Error(node, path, $"\"{text}\" is not one of {string.Join(", ", Enum.GetNames(type).Select(KeyOf))}");
            return null;
        }
    }
}

/// <summary>A configuration with the folder that its relative paths are relative to.</summary>
internal sealed record LoadedConfig(ServerConfig Config, string FilePath)
{
    public string Folder => Path.GetDirectoryName(FilePath)!;

    /// <summary>A path from the file, made absolute against the file's folder.</summary>
    public string Resolve(string path) => Path.GetFullPath(path, Folder);

    public string DataDirectory => Resolve(Config.DataDir);
}
