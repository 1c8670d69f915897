// `postern quickstart you@example.com`: from nothing to a configured server. Writes postern.conf
// and the data folder (account, addresses, password, stable host keys, a first certificate),
// prints the DNS records and a systemd unit, and checks what it can about the machine.
using System.CommandLine;
using System.Net;
using System.Text;
using Postern.Config;
using Postern.Dns;
using Postern.Mail;
using Postern.Security.Passwords;
using Postern.Setup;
using Postern.Store.Sqlite;

namespace Postern.Cli;

/// <summary>The <c>quickstart</c> command.</summary>
internal static class QuickstartCommand
{
    public static Command Create()
    {
        var email = new Argument<string>("EMAIL") { Description = "Your email address; its domain becomes the server's first domain." };
        var host = new Option<string?>("--hostname") { Description = "Host name of this server (default: mail.DOMAIN)." };
        var dir = new Option<string>("--dir") { Description = "Folder for postern.conf and the data folder.", DefaultValueFactory = _ => "." };
        var skip = new Option<bool>("--skip-checks") { Description = "Do not check the network (reverse DNS, DNSSEC, port 25)." };
        var cmd = new Command("quickstart", "Set up a server: write postern.conf and the data folder with your account, print the DNS records and a systemd unit.")
        {
            email, host, dir, skip,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(() =>
            RunAsync(parse.GetValue(email)!, parse.GetValue(host), parse.GetValue(dir)!, parse.GetValue(skip), ct)));
        return cmd;
    }

    private static async Task<int> RunAsync(string emailText, string? hostName, string dir, bool skipChecks, CancellationToken ct)
    {
        var address = MailAddress.TryParse(emailText);
        if (address is null || address.Domain.Length == 0 || address.DisplayName is not null)
            return CliCommon.Fail($"\"{emailText}\" is not an email address like you@example.com");
        string domain;
        try
        {
            domain = MailAddress.ToAsciiDomain(address.Domain).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return CliCommon.Fail($"\"{address.Domain}\" is not a valid domain");
        }
        if (!domain.Contains('.', StringComparison.Ordinal) || !ConfigLoader.IsHostName(domain))
            return CliCommon.Fail($"\"{domain}\" is not a domain name of the public DNS");
        string host = (hostName ?? "mail." + domain).TrimEnd('.').ToLowerInvariant();
        if (!ConfigLoader.IsHostName(host) || !host.Contains('.', StringComparison.Ordinal))
            return CliCommon.Fail($"\"{host}\" is not a fully qualified host name");
        string localPart = address.LocalPart;
        string accountName = AccountNameFor(localPart);

        string root = Path.GetFullPath(dir);
        string confPath = Path.Combine(root, "postern.conf");
        string data = Path.Combine(root, "data");
        if (File.Exists(confPath) || Directory.Exists(data))
            return CliCommon.Fail($"{root} already holds a postern.conf or data folder; quickstart never overwrites them");
        Directory.CreateDirectory(root);

        // Data folder: account, addresses, password.
        string password = CliCommon.GeneratePassword();
        string you = localPart + "@" + domain, postmaster = "postmaster@" + domain, reports = "dmarc-reports@" + domain, tlsReports = "tls-reports@" + domain;
        await using (var store = SqliteMailStore.Open(data))
        {
            await store.Directory.AddDomainAsync(domain, ct).ConfigureAwait(false);
            await store.Directory.CreateAccountAsync(accountName, cancellationToken: ct).ConfigureAwait(false);
            foreach (var a in new[] { you, postmaster, reports, tlsReports }.Distinct(StringComparer.OrdinalIgnoreCase))
                await store.Directory.AddAddressAsync(a, accountName, ct).ConfigureAwait(false);
            await store.Directory.SetCredentialsAsync(accountName, PasswordSecrets.Derive(password, new PasswordSecretsOptions { IncludeCramMd5 = true }), ct).ConfigureAwait(false);
        }

        // Stable host keys and a first certificate on them.
        using var keys = HostKeys.LoadOrCreate(data);
        string tls = Path.Combine(data, "tls");
        Directory.CreateDirectory(tls);
        keys.WriteSelfSigned([host], Path.Combine(tls, host + ".crt"), Path.Combine(tls, host + ".key"), TimeSpan.FromDays(365));

        // DKIM keys: DATA/dkim/DOMAIN/SELECTOR.pem, selectors named by year and month (as `config dkim add` does).
        DkimKeyFolder.Generate(data, domain, rsa: false);
        DkimKeyFolder.Generate(data, domain, rsa: true);

        // The admin password (admin web pages), stored hashed like account passwords.
        string adminPassword = CliCommon.GeneratePassword();
        AdminPassword.Set(data, adminPassword);

        // The configuration, commented.
        var config = new ServerConfig
        {
            Hostname = host,
            DataDir = "data",
            Listeners = new()
            {
                ["public"] = new ListenerConfig
                {
                    Ips = ["0.0.0.0", "::"],
                    Tls = new TlsConfig { KeyCerts = [new KeyCertConfig { CertFile = $"data/tls/{host}.crt", KeyFile = $"data/tls/{host}.key" }] },
                    Smtp = new ServiceConfig { Enabled = true, Port = 25 },
                    Submission = new ServiceConfig { Enabled = true, Port = 587 },
                    Submissions = new ServiceConfig { Enabled = true, Port = 465 },
                    Imap = new ServiceConfig { Enabled = true, Port = 143 },
                    Imaps = new ServiceConfig { Enabled = true, Port = 993 },
                    Https = new ServiceConfig { Enabled = true, Port = 443 },
                    Http = new ServiceConfig { Enabled = true, Port = 80 },
                },
                // Prometheus metrics for this machine only (docs/operations.md#metrics).
                ["internal"] = new ListenerConfig
                {
                    Ips = ["127.0.0.1"],
                    Metrics = new ServiceConfig { Enabled = true, Port = 8010 },
                },
            },
            // Filled in but not yet used (tls.acme is false): validation needs the DNS records printed
            // below to be published first, and attempts before that only fail (and count against the
            // CA's rate limits). Turning on `tls.acme: true` is then the only step.
            Acme = new AcmeConfig { DirectoryUrl = LetsEncryptDirectory, ContactEmail = you },
        };
        string text = ConfigDescriber.Describe(config);
        _ = ConfigLoader.Parse(text, confPath); // what we write must load
        await File.WriteAllTextAsync(confPath, text, ct).ConfigureAwait(false);

        var publicIPs = SystemChecks.PublicAddresses();
        var warnings = new List<string>();
        if (!skipChecks)
        {
            var resolver = new DnsResolver();
            warnings = await SystemChecks.RunAsync(host, publicIPs, resolver).ConfigureAwait(false);
        }

        string records;
        await using (var store = SqliteMailStore.Open(data))
            records = DnsRecordSet.Build(await DomainDnsInputs.BuildAsync(new LoadedConfig(config, confPath), store, domain, publicIPs, ct).ConfigureAwait(false));

        var o = new StringBuilder();
        o.Append(System.Globalization.CultureInfo.InvariantCulture, $"""
            Postern is set up in {root}:
              postern.conf   the configuration (every setting is commented; see docs/config.md)
              data/          databases, message files, host keys (data/hostkeys), certificates (data/tls)
                             and DKIM keys (data/dkim)

            Domain {domain} and account "{accountName}" with the addresses {you}, {postmaster}, {reports} and {tlsReports}.
            Log in with user {you} and this password, printed only now (store it in a password manager):

                {password}

            Change it later with: postern config account password {accountName} --dir {data}

            The administrator password (for the admin web pages), also printed only now:

                {adminPassword}

            Change it with: postern config adminpassword --dir {data}

            """);
        o.Append("\n").Append(records).Append('\n');
        o.Append(System.Globalization.CultureInfo.InvariantCulture, $"""
            The certificate in data/tls is self-signed (mail clients will warn). Once the DNS records above
            are published and ports 443 or 80 reach this server, set `acme: true` under the listener's tls
            in postern.conf: the acme section is filled in for Let's Encrypt, and certificates are then
            obtained and renewed on the host key data/hostkeys/ecdsa-p256.pem, so the TLSA records stay
            valid. Check the DNS records with: postern config dnscheck {domain} --config {confPath}

            To run Postern as a service, create a user "postern" owning {root}, and save this as
            /etc/systemd/system/postern.service, then run: systemctl enable --now postern

            {SystemdUnit(root, confPath)}

            """);
        if (warnings.Count > 0)
        {
            o.Append("\nWarnings:\n");
            foreach (var w in warnings) o.Append("  - ").Append(w).Append('\n');
        }
        o.Append(System.Globalization.CultureInfo.InvariantCulture, $"\nStart the server with: postern serve --config {confPath}\n");
        Console.Out.Write(o.ToString());
        return CliCommon.ExitOk;
    }

    /// <summary>Let's Encrypt's production ACME directory.</summary>
    internal const string LetsEncryptDirectory = "https://acme-v02.api.letsencrypt.org/directory";

    /// <summary>An account name from a local part: lower case, letters, digits, '.', '-' and '_'.</summary>
    internal static string AccountNameFor(string localPart)
    {
        var sb = new StringBuilder();
        foreach (char c in localPart.ToLowerInvariant())
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-');
        string name = sb.ToString().Trim('-', '.');
        return name.Length == 0 ? "mail" : name;
    }

    internal static string SystemdUnit(string root, string confPath)
    {
        string exec = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet"
            ? $"{p} {typeof(QuickstartCommand).Assembly.Location}"
            : Environment.ProcessPath ?? "/usr/local/bin/postern";
        return $"""
            [Unit]
            Description=Postern mail server
            After=network-online.target
            Wants=network-online.target

            [Service]
            Type=simple
            User=postern
            Group=postern
            WorkingDirectory={root}
            ExecStart={exec} serve --config {confPath}
            ExecStop={exec} stop --config {confPath}
            Restart=on-failure
            TimeoutStopSec=60
            # Ports 25, 80, 143, 443, 465, 587 and 993 without running as root.
            AmbientCapabilities=CAP_NET_BIND_SERVICE
            CapabilityBoundingSet=CAP_NET_BIND_SERVICE
            NoNewPrivileges=yes
            ProtectSystem=strict
            ReadWritePaths={root}
            ProtectHome=yes
            PrivateTmp=yes
            PrivateDevices=yes
            ProtectKernelTunables=yes
            ProtectControlGroups=yes
            RestrictSUIDSGID=yes
            LimitNOFILE=65536

            [Install]
            WantedBy=multi-user.target
            """;
    }
}
