// `postern config describe`: the commented reference of postern.conf, generated from the
// ServerConfig classes so it cannot drift from what the loader accepts. docs/config.md
// embeds the same text (a test compares them).
using System.Collections;
using System.Reflection;
using System.Text;

namespace Postern.Config;

/// <summary>Prints a commented configuration file.</summary>
internal static class ConfigDescriber
{
    private const int Width = 88;

    /// <summary>A complete example: one public listener with every service and a certificate.</summary>
    public static ServerConfig Example() => new()
    {
        Hostname = "mail.example.com",
        Listeners = new()
        {
            ["public"] = new ListenerConfig
            {
                Ips = ["0.0.0.0", "::"],
                Tls = new TlsConfig { KeyCerts = [new KeyCertConfig { CertFile = "tls/mail.example.com.crt", KeyFile = "tls/mail.example.com.key" }] },
                Smtp = new ServiceConfig { Enabled = true, Port = 25 },
                Submission = new ServiceConfig { Enabled = true, Port = 587 },
                Submissions = new ServiceConfig { Enabled = true, Port = 465 },
                Imap = new ServiceConfig { Enabled = true, Port = 143 },
                Imaps = new ServiceConfig { Enabled = true, Port = 993 },
                Https = new ServiceConfig { Enabled = true, Port = 443 },
                Http = new ServiceConfig { Enabled = true, Port = 80 },
            },
        },
        Transports = new()
        {
            ["provider"] = new TransportConfig
            {
                Type = TransportType.Smarthost,
                Host = "smtp.provider.example",
                Port = 587,
                Tls = TransportTls.Starttls,
                Username = "me@provider.example",
                PasswordFile = "provider-password",
            },
        },
        Routes = [new RouteConfig { FromDomains = ["example.com"], ToDomains = [], MinimumAttempt = 1, Transport = "provider" }],
    };

    /// <summary>The reference text: every setting with its documentation, values from <paramref name="config"/>.</summary>
    public static string Describe(ServerConfig? config = null)
    {
        var sb = new StringBuilder();
        var cls = typeof(ServerConfig).GetCustomAttribute<DocAttribute>();
        Comment(sb, "", cls?.Text ?? "");
        sb.Append("#\n");
        WriteObject(sb, config ?? Example(), new ServerConfig(), "");
        return sb.ToString();
    }

    /// <summary>Writes the settings of <paramref name="obj"/>; <paramref name="defaults"/> is what the loader uses when a setting is left out.</summary>
    private static void WriteObject(StringBuilder sb, object obj, object defaults, string indent)
    {
        bool first = true;
        foreach (var prop in ConfigLoader.Settings(obj.GetType()))
        {
            if (!first && indent.Length == 0) sb.Append('\n');
            first = false;
            var doc = prop.GetCustomAttribute<DocAttribute>();
            string text = doc?.Text ?? "";
            if (doc is { Optional: false })
                text += " Required.";
            else if (DefaultText(prop.GetValue(defaults)) is { } d)
                text += $" Default: {d}.";
            Comment(sb, indent, text);
            string key = ConfigLoader.KeyOf(prop.Name);
            object? value = prop.GetValue(obj);
            switch (value)
            {
                case string or int or double or bool or Enum:
                    sb.Append(indent).Append(key).Append(": ").Append(Scalar(value)).Append('\n');
                    break;
                case IDictionary { Count: 0 }:
                    sb.Append(indent).Append(key).Append(": {}\n");
                    break;
                case IDictionary dict:
                    sb.Append(indent).Append(key).Append(":\n");
                    foreach (DictionaryEntry e in dict)
                    {
                        sb.Append(indent).Append("  ").Append(e.Key).Append(":\n");
                        WriteObject(sb, e.Value!, Activator.CreateInstance(e.Value!.GetType())!, indent + "    ");
                    }
                    break;
                case IList list when prop.PropertyType.GetGenericArguments()[0] is var t && (t == typeof(string) || t == typeof(int)):
                    sb.Append(indent).Append(key).Append(": [")
                      .Append(string.Join(", ", list.Cast<object>().Select(Scalar))).Append("]\n");
                    break;
                case IList list:
                    sb.Append(indent).Append(key).Append(':');
                    if (list.Count == 0) { sb.Append(" []\n"); break; }
                    sb.Append('\n');
                    foreach (var item in list)
                    {
                        var inner = new StringBuilder();
                        WriteObject(inner, item!, Activator.CreateInstance(item!.GetType())!, indent + "    ");
                        // Turn the first setting line of the item into a "- " list entry.
                        string s = inner.ToString();
                        int at = FirstSettingLine(s, indent + "    ");
                        sb.Append(s[..at]).Append(indent).Append("  - ").Append(s[(at + indent.Length + 4)..]);
                    }
                    break;
                case not null:
                    sb.Append(indent).Append(key).Append(":\n");
                    WriteObject(sb, value, prop.GetValue(defaults) ?? Activator.CreateInstance(value.GetType())!, indent + "  ");
                    break;
            }
        }
    }

    private static int FirstSettingLine(string s, string indent)
    {
        int pos = 0;
        while (pos < s.Length)
        {
            if (string.CompareOrdinal(s, pos, indent, 0, indent.Length) == 0 && pos + indent.Length < s.Length && s[pos + indent.Length] != '#')
                return pos;
            int nl = s.IndexOf('\n', pos);
            if (nl < 0) break;
            pos = nl + 1;
        }
        return 0;
    }

    private static string? DefaultText(object? value) => value switch
    {
        string s when s.Length == 0 => null,
        string or int or double or bool or Enum => Scalar(value),
        _ => null,
    };

    private static string Scalar(object value) => value switch
    {
        bool b => b ? "true" : "false",
        Enum e => ConfigLoader.KeyOf(e.ToString()),
        int i => i.ToString(System.Globalization.CultureInfo.InvariantCulture),
        double d => d.ToString("0.0##", System.Globalization.CultureInfo.InvariantCulture),
        string s when s.Length == 0 => "\"\"",
        string s when s.AsSpan().IndexOfAny(":#*&!{}[],'\"") >= 0 || s.Trim() != s => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"",
        string s => s,
        _ => value.ToString() ?? "",
    };

    private static void Comment(StringBuilder sb, string indent, string text)
    {
        var line = new StringBuilder();
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && indent.Length + 2 + line.Length + 1 + word.Length > Width)
            {
                sb.Append(indent).Append("# ").Append(line).Append('\n');
                line.Clear();
            }
            if (line.Length > 0) line.Append(' ');
            line.Append(word);
        }
        if (line.Length > 0) sb.Append(indent).Append("# ").Append(line).Append('\n');
    }
}
