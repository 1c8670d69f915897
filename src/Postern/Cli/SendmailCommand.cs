// `postern sendmail`: a stand-in for /usr/sbin/sendmail, for cron jobs and web applications.
// Reads a message on standard input, completes its header (From, Date, Message-ID), and
// submits it over SMTP with AUTH to a submission service (this server's, or localserve's by
// default), using Postern's SMTP client. Arguments follow sendmail's: recipients, -t, -f,
// -F, -i/-oi; other common flags (-o*, -B*, -v, -bm) are accepted and ignored.
// Exit codes follow sysexits.h: 0 sent, 64 usage, 65 bad message, 69 refused (permanent),
// 75 try again later (temporary), 78 configuration.
using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Postern.Mail;
using Postern.Smtp.Client;

namespace Postern.Cli;

/// <summary>The <c>sendmail</c> command.</summary>
internal static class SendmailCommand
{
    public const string DefaultConfigPath = "/etc/postern/sendmail.conf";
    public const int ExUsage = 64, ExDataErr = 65, ExUnavailable = 69, ExTempFail = 75, ExConfig = 78;

    /// <summary>Largest message read from standard input.</summary>
    public const int MaxMessageBytes = 64 * 1024 * 1024;

    public static Command Create()
    {
        var cmd = new Command("sendmail", "Send a message read on standard input, like /usr/sbin/sendmail (-t, -f, -F, -i), through a submission server with AUTH (see docs/outgoing.md).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        var args = new Argument<string[]>("arguments") { Arity = ArgumentArity.ZeroOrMore, Description = "Recipients and sendmail flags: -t, -f FROM, -F NAME, -i, --config FILE (default " + DefaultConfigPath + ")." };
        cmd.Arguments.Add(args);
        // PosternCli hands `sendmail` arguments to RunAsync before System.CommandLine sees them
        // (sendmail flags such as -fADDR are not its syntax); this action serves --help only.
        cmd.SetAction(async (parse, ct) =>
            await RunAsync([.. parse.GetValue(args) ?? [], .. parse.UnmatchedTokens], Console.OpenStandardInput(), ct).ConfigureAwait(false));
        return cmd;
    }

    private sealed class Settings
    {
        public string Host = "127.0.0.1";
        public int Port = 1587;
        public SmarthostTlsMode Tls = SmarthostTlsMode.StartTls;
        public bool TlsVerify = true;
        public string? Username;
        public string? Password;
        public string? From;
    }

    internal static async Task<int> RunAsync(IReadOnlyList<string> args, Stream input, CancellationToken ct)
    {
        var recipients = new List<string>();
        bool fromHeaders = false, dotEnds = true;
        string? envelopeFrom = null, fullName = null, configPath = null;
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            string? Value(string flag)
            {
                if (a.Length > flag.Length) return a[flag.Length..];
                return i + 1 < args.Count ? args[++i] : null;
            }
            if (a == "--config") { configPath = i + 1 < args.Count ? args[++i] : null; if (configPath is null) return Usage("--config needs a file"); }
            else if (a == "-t") fromHeaders = true;
            else if (a is "-i" or "-oi") dotEnds = false;
            else if (a.StartsWith("-f", StringComparison.Ordinal)) { envelopeFrom = Value("-f"); if (envelopeFrom is null) return Usage("-f needs an address"); }
            else if (a.StartsWith("-F", StringComparison.Ordinal)) { fullName = Value("-F"); if (fullName is null) return Usage("-F needs a name"); }
            else if (a.StartsWith("-o", StringComparison.Ordinal) || a.StartsWith("-B", StringComparison.Ordinal) || a is "-v" or "-bm" or "-U" or "-m" or "-n" or "-em" or "-ep" or "-eq") { }
            else if (a.StartsWith("-b", StringComparison.Ordinal)) return Usage($"{a}: only sending a message (-bm) is supported");
            else if (a.StartsWith('-') && a != "--") return Usage($"unknown flag {a}");
            else if (a != "--") recipients.AddRange(a.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        (Settings? settings, string? error) = LoadSettings(configPath);
        if (settings is null) return Fail(ExConfig, error!);

        byte[]? raw = await ReadInputAsync(input, dotEnds, ct).ConfigureAwait(false);
        if (raw is null) return Fail(ExDataErr, $"message larger than {MaxMessageBytes} bytes");
        string text = Encoding.UTF8.GetString(raw);
        int split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string header = split < 0 ? (text.Contains(':', StringComparison.Ordinal) && !text.StartsWith("\r\n", StringComparison.Ordinal) ? text : "") : text[..(split + 2)];
        string body = split < 0 ? (header.Length > 0 ? "" : text) : text[(split + 4)..];
        var fields = HeaderFields(header);

        if (fromHeaders)
        {
            foreach (var (name, value) in fields)
            {
                if (name is "to" or "cc" or "bcc")
                    recipients.AddRange(AddressParser.ParseMailboxes(value).Select(m => m.Address));
            }
            // RFC 5322 §3.6.3: Bcc recipients are not shown to the others.
            header = RemoveFields(header, "bcc");
        }
        recipients = recipients.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (recipients.Count == 0) return Usage("no recipients (give addresses, or -t to take them from To, Cc and Bcc)");
        foreach (string r in recipients)
        {
            if (MailAddress.TryParse(r) is null) return Fail(ExDataErr, $"not an email address: {r}");
        }

        string from = envelopeFrom ?? settings.From ?? settings.Username ?? "";
        if (from.Length > 0 && MailAddress.TryParse(from) is null) return Fail(ExDataErr, $"not an email address: {from}");
        var add = new StringBuilder();
        if (!fields.Any(f => f.Name == "from"))
        {
            if (from.Length == 0) return Fail(ExConfig, "no sender: give -f, or from in the configuration");
            add.Append("From: ").Append(fullName is null ? from : EncodedWords.EncodePhrase(fullName) + " <" + from + ">").Append("\r\n");
        }
        if (!fields.Any(f => f.Name == "date"))
            add.Append("Date: ").Append(MailDate.Format(DateTimeOffset.Now)).Append("\r\n");
        if (!fields.Any(f => f.Name == "message-id"))
        {
            string domain = from.Contains('@', StringComparison.Ordinal) ? from[(from.LastIndexOf('@') + 1)..] : "localhost";
            add.Append("Message-ID: <").Append(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12))).Append('@').Append(domain).Append(">\r\n");
        }
        byte[] message = Encoding.UTF8.GetBytes(add + header + "\r\n" + body);

        bool eightBit = message.Any(b => b >= 0x80);
        bool utf8 = !Ascii.IsValid(from) || recipients.Any(r => !Ascii.IsValid(r)) || !Ascii.IsValid(add + header);
        string firstDomain = recipients[0][(recipients[0].LastIndexOf('@') + 1)..];
        var request = new OutboundRequest(firstDomain, from, recipients.Select(r => new OutboundRecipient(r)).ToList(), () => new MemoryStream(message),
            message.Length, eightBit, utf8, false, null, null, 1, from.Contains('@', StringComparison.Ordinal) ? from[(from.LastIndexOf('@') + 1)..] : "");
        var transport = new SmarthostTransport(new SmarthostOptions
        {
            Name = "sendmail",
            Host = settings.Host,
            Port = settings.Port,
            Tls = settings.Tls,
            UserName = settings.Username,
            Password = settings.Password,
            Verifier = settings.TlsVerify ? SystemCaVerifier.Instance : new AnyCertificate(),
            Client = new SmtpClientOptions { LocalHostName = Environment.MachineName.Length > 0 ? Environment.MachineName : "localhost" },
        });
        OutboundResult result = await transport.DeliverAsync(request, ct).ConfigureAwait(false);
        int exit = 0;
        foreach (OutboundRecipientResult r in result.Recipients)
        {
            if (r.Delivered) continue;
            Console.Error.WriteLine($"postern sendmail: {r.Address}: {(r.Permanent ? "refused" : "not sent, try again later")}: {r.Code.ToString(CultureInfo.InvariantCulture)} {r.Enhanced} {r.Text}");
            exit = r.Permanent && exit != ExTempFail ? ExUnavailable : ExTempFail;
        }
        if (exit != 0 && result.Log.Length > 0) Console.Error.WriteLine(result.Log);
        return exit;
    }

    private sealed class AnyCertificate : IServerCertificateVerifier
    {
        public string? Verify(string host, System.Security.Cryptography.X509Certificates.X509Certificate? certificate,
            System.Security.Cryptography.X509Certificates.X509Chain? chain, System.Net.Security.SslPolicyErrors errors) => null;
    }

    /// <summary>The settings file (key: value lines), or localserve's defaults when the default file does not exist.</summary>
    private static (Settings?, string?) LoadSettings(string? path)
    {
        var s = new Settings();
        string file = path ?? DefaultConfigPath;
        if (!File.Exists(file))
        {
            if (path is not null) return (null, $"{path}: no such file");
            // localserve's documented account, on loopback: its certificate is self-signed.
            s.Username = LocalServeCommand.Address;
            s.Password = LocalServeCommand.Password;
            s.TlsVerify = false;
            return (s, null);
        }
        string[] lines;
        try
        {
            if (new FileInfo(file).Length > 64 * 1024) return (null, $"{file}: too large for a settings file");
            lines = File.ReadAllLines(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, $"{file}: cannot read: {e.Message}");
        }
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) return (null, $"{file}:{n + 1}: expected \"key: value\"");
            string key = line[..colon].Trim().ToLowerInvariant(), value = line[(colon + 1)..].Trim();
            if (value.Length >= 2 && value[0] == '"' && value[^1] == '"') value = value[1..^1];
            switch (key)
            {
                case "host": s.Host = value; break;
                case "port":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out s.Port) || s.Port is < 1 or > 65535)
                        return (null, $"{file}:{n + 1}: port: \"{value}\" is not a TCP port");
                    break;
                case "tls":
                    SmarthostTlsMode? mode = value.ToLowerInvariant() switch
                    {
                        "starttls" => SmarthostTlsMode.StartTls,
                        "implicit" => SmarthostTlsMode.Implicit,
                        "none" => SmarthostTlsMode.None,
                        _ => null,
                    };
                    if (mode is null) return (null, $"{file}:{n + 1}: tls: \"{value}\" is not starttls, implicit or none");
                    s.Tls = mode.Value;
                    break;
                case "tls-verify":
                    if (value is not ("true" or "false")) return (null, $"{file}:{n + 1}: tls-verify: true or false");
                    s.TlsVerify = value == "true";
                    break;
                case "username": s.Username = value; break;
                case "password": s.Password = value; break;
                case "from": s.From = value; break;
                default: return (null, $"{file}:{n + 1}: unknown setting \"{key}\" (known: host, port, tls, tls-verify, username, password, from)");
            }
        }
        if (s.Username is not null && s.Password is null) return (null, $"{file}: username without password");
        return (s, null);
    }

    /// <summary>Reads standard input with CRLF line ends; without -i a line of a single dot ends it (sendmail's default).</summary>
    private static async Task<byte[]?> ReadInputAsync(Stream input, bool dotEnds, CancellationToken ct)
    {
        var output = new MemoryStream();
        var line = new List<byte>();
        byte[] buffer = new byte[64 * 1024];
        bool done = false;
        while (!done)
        {
            int n = await input.ReadAsync(buffer, ct).ConfigureAwait(false);
            if (n == 0) break;
            for (int i = 0; i < n && !done; i++)
            {
                byte b = buffer[i];
                if (b != '\n') { line.Add(b); continue; }
                if (line.Count > 0 && line[^1] == '\r') line.RemoveAt(line.Count - 1);
                if (dotEnds && line.Count == 1 && line[0] == '.') { done = true; break; }
                output.Write(line.ToArray());
                output.Write("\r\n"u8);
                line.Clear();
                if (output.Length > MaxMessageBytes) return null;
            }
            if (line.Count > MaxMessageBytes) return null;
        }
        if (!done && line.Count > 0 && !(dotEnds && line.Count == 1 && line[0] == '.'))
        {
            output.Write(line.ToArray());
            output.Write("\r\n"u8);
        }
        return output.Length > MaxMessageBytes ? null : output.ToArray();
    }

    /// <summary>Header fields (lower-case name, unfolded value), in order.</summary>
    private static List<(string Name, string Value)> HeaderFields(string header)
    {
        var list = new List<(string, string)>();
        foreach (string field in SplitFields(header))
        {
            int colon = field.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) continue;
            list.Add((field[..colon].Trim().ToLowerInvariant(), field[(colon + 1)..].Replace("\r\n", "", StringComparison.Ordinal).Trim()));
        }
        return list;
    }

    private static IEnumerable<string> SplitFields(string header)
    {
        var current = new StringBuilder();
        foreach (string line in header.Split("\r\n"))
        {
            if (line.Length > 0 && (line[0] == ' ' || line[0] == '\t') && current.Length > 0)
            {
                current.Append("\r\n").Append(line);
                continue;
            }
            if (current.Length > 0) yield return current.ToString();
            current.Clear().Append(line);
        }
        if (current.Length > 0) yield return current.ToString();
    }

    private static string RemoveFields(string header, string name)
    {
        var sb = new StringBuilder();
        foreach (string field in SplitFields(header))
        {
            int colon = field.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && field[..colon].Trim().Equals(name, StringComparison.OrdinalIgnoreCase)) continue;
            sb.Append(field).Append("\r\n");
        }
        return sb.ToString();
    }

    private static int Usage(string message) => Fail(ExUsage, message);

    private static int Fail(int code, string message)
    {
        Console.Error.WriteLine("postern sendmail: " + message);
        return code;
    }
}
