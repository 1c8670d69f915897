using System.CommandLine;
using System.Net;
using System.Text;
using Postern.Dns;
using Postern.Security.Dkim;

namespace Postern.Cli;

/// <summary><c>postern dkim ...</c>: key generation, DNS records, signing and verifying messages.</summary>
internal static class DkimCommands
{
    /// <summary>Exit codes of verify/lookup: 0 pass/found, 1 fail/none/not found, 2 temporary error, 3 other error.</summary>
    internal const int ExitOk = 0, ExitFailed = 1, ExitTemporary = 2, ExitError = 3;

    /// <summary>Largest message read by sign and verify.</summary>
    internal const long MaxMessageBytes = 256L * 1024 * 1024;

    public static Command Create()
    {
        var dkim = new Command("dkim", "DKIM keys, DNS records, signing and verification (RFC 6376, RFC 8463).");
        dkim.Subcommands.Add(GenCommand());
        dkim.Subcommands.Add(TxtCommand());
        dkim.Subcommands.Add(SignCommand());
        dkim.Subcommands.Add(VerifyCommand());
        dkim.Subcommands.Add(LookupCommand());
        return dkim;
    }

    private static Command GenCommand()
    {
        var type = new Argument<string>("type") { Description = "Key type: rsa or ed25519." };
        type.AcceptOnlyFromAmong("rsa", "ed25519");
        var bits = new Option<int>("--bits") { Description = "RSA key size (2048 or more).", DefaultValueFactory = _ => 2048 };
        var output = new Option<string?>("--output", "-o") { Description = "Write the PEM private key to this file (mode 0600) instead of standard output." };
        var cmd = new Command("gen", "Generate a DKIM private key (PKCS#8 PEM).") { type, bits, output };
        cmd.SetAction(parse =>
        {
            DkimPrivateKey key;
            try
            {
                key = parse.GetValue(type) == "rsa" ? DkimPrivateKey.GenerateRsa(parse.GetValue(bits)) : DkimPrivateKey.GenerateEd25519();
            }
            catch (ArgumentOutOfRangeException)
            {
                Console.Error.WriteLine("postern: RSA keys must have at least 2048 bits");
                return ExitError;
            }
            using (key)
            {
                string pem = key.ToPem();
                string? file = parse.GetValue(output);
                if (file is null)
                {
                    Console.Out.Write(pem);
                    return ExitOk;
                }
                try
                {
                    var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                    if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                    using (var fs = new FileStream(file, options))
                    {
                        fs.Write(Encoding.ASCII.GetBytes(pem));
                        fs.Flush(flushToDisk: true);
                    }
                    Console.Error.WriteLine($"postern: wrote {key} key to {file}; publish the record given by `postern dkim txt {file}`");
                    return ExitOk;
                }
                catch (IOException e)
                {
                    Console.Error.WriteLine($"postern: cannot write {file}: {e.Message}");
                    return ExitError;
                }
            }
        });
        return cmd;
    }

    private static Command TxtCommand()
    {
        var keyFile = new Argument<string>("keyfile") { Description = "PEM private key file." };
        var selector = new Option<string?>("--selector", "-s") { Description = "With --domain: print a whole zone-file line for SELECTOR._domainkey.DOMAIN." };
        var domain = new Option<string?>("--domain") { Description = "Signing domain, for the zone-file line." };
        var cmd = new Command("txt", "Print the DNS TXT record (v=DKIM1; k=...; p=...) to publish for a private key.") { keyFile, selector, domain };
        cmd.SetAction(parse =>
        {
            using DkimPrivateKey? key = LoadKey(parse.GetValue(keyFile)!);
            if (key is null) return ExitError;
            string text = key.DnsRecordText();
            string? s = parse.GetValue(selector), d = parse.GetValue(domain);
            if (s is not null && d is not null)
            {
                // Zone files limit one character-string to 255 octets: split long RSA keys.
                var parts = new List<string>();
                for (int i = 0; i < text.Length; i += 255) parts.Add("\"" + text.Substring(i, Math.Min(255, text.Length - i)) + "\"");
                Console.Out.WriteLine($"{s}._domainkey.{d}. IN TXT ( {string.Join(" ", parts)} )");
            }
            else
            {
                Console.Out.WriteLine(text);
            }
            return ExitOk;
        });
        return cmd;
    }

    private static Command SignCommand()
    {
        var file = new Argument<string>("file") { Description = "Message file (\"-\" for standard input). LF line endings are converted to CRLF." };
        var keyFile = new Option<string>("--key", "-k") { Description = "PEM private key file.", Required = true };
        var domain = new Option<string>("--domain") { Description = "Signing domain (d=).", Required = true };
        var selector = new Option<string>("--selector", "-s") { Description = "Selector (s=).", Required = true };
        var headers = new Option<string?>("--headers") { Description = "Colon-separated header fields to sign (default: the usual set)." };
        var overSign = new Option<string?>("--oversign") { Description = "Colon-separated header fields to over-sign (default: From, To, Cc, Subject, Date, ...; \"\" for none)." };
        var canon = new Option<string>("--canonicalization", "-c") { Description = "header/body canonicalization.", DefaultValueFactory = _ => "relaxed/relaxed" };
        var expire = new Option<string?>("--expire") { Description = "Signature lifetime (x=), e.g. 3600s, 90m, 48h, 7d." };
        var identity = new Option<string?>("--identity") { Description = "Agent or user identifier (i=)." };
        var cmd = new Command("sign", "Sign a message; prints it with a DKIM-Signature header prepended.")
        {
            file, keyFile, domain, selector, headers, overSign, canon, expire, identity,
        };
        cmd.SetAction(parse =>
        {
            byte[]? message = ReadMessage(parse.GetValue(file)!);
            if (message is null) return ExitError;
            using DkimPrivateKey? key = LoadKey(parse.GetValue(keyFile)!);
            if (key is null) return ExitError;
            string[] c = parse.GetValue(canon)!.ToLowerInvariant().Split('/');
            if (c.Length is 0 or > 2 || c.Any(x => x is not ("simple" or "relaxed")))
            {
                Console.Error.WriteLine("postern: --canonicalization is simple or relaxed, or header/body such as relaxed/simple");
                return ExitError;
            }
            TimeSpan? lifetime = null;
            if (parse.GetValue(expire) is { } e)
            {
                if (!TryParseDuration(e, out TimeSpan span)) { Console.Error.WriteLine($"postern: invalid --expire \"{e}\""); return ExitError; }
                lifetime = span;
            }
            var options = new DkimSignerOptions
            {
                Domain = parse.GetValue(domain)!, Selector = parse.GetValue(selector)!, Key = key,
                Headers = parse.GetValue(headers) is { } h ? h.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : DkimSignerOptions.DefaultHeaders,
                OverSignedHeaders = parse.GetValue(overSign) is { } o ? o.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : DkimSignerOptions.DefaultOverSignedHeaders,
                HeaderCanonicalization = c[0] == "relaxed" ? DkimCanonicalization.Relaxed : DkimCanonicalization.Simple,
                BodyCanonicalization = (c.Length == 2 ? c[1] : "simple") == "relaxed" ? DkimCanonicalization.Relaxed : DkimCanonicalization.Simple,
                Expiration = lifetime, Identity = parse.GetValue(identity),
            };
            string signature;
            try
            {
                signature = new DkimSigner(options).Sign(message);
            }
            catch (InvalidDataException ex)
            {
                Console.Error.WriteLine("postern: cannot sign: " + ex.Message);
                return ExitError;
            }
            using Stream stdout = Console.OpenStandardOutput();
            stdout.Write(Encoding.ASCII.GetBytes(signature));
            stdout.Write(message);
            return ExitOk;
        });
        return cmd;
    }

    private static Command VerifyCommand()
    {
        var file = new Argument<string>("file") { Description = "Message file (\"-\" for standard input). LF line endings are converted to CRLF." };
        (Option<string?> server, Option<bool> trust, Option<double> timeout) = ResolverOptions();
        var cmd = new Command("verify", "Verify the DKIM signatures of a message.\n" +
            "Exit code: 0 a signature passed, 1 none passed (or unsigned), 2 temporary error only, 3 bad input.")
        {
            file, server, trust, timeout,
        };
        cmd.SetAction(async (parse, cancellationToken) =>
        {
            byte[]? message = ReadMessage(parse.GetValue(file)!);
            if (message is null) return ExitError;
            DnsResolver? resolver = CreateResolver(parse.GetValue(server), parse.GetValue(trust), parse.GetValue(timeout));
            if (resolver is null) return ExitError;
            IReadOnlyList<DkimSignatureResult> results = await new DkimVerifier(resolver).VerifyAsync(message, cancellationToken).ConfigureAwait(false);
            if (results.Count == 0)
            {
                Console.Out.WriteLine("dkim=none (message not signed)");
                return ExitFailed;
            }
            foreach (DkimSignatureResult r in results)
            {
                var sb = new StringBuilder();
                sb.Append("dkim=").Append(r.Result.ToString().ToLowerInvariant());
                if (r.Signature is { } s)
                {
                    sb.Append(" d=").Append(s.Domain).Append(" s=").Append(s.Selector).Append(" a=").Append(s.AlgorithmName);
                    if (r.KeyBits > 0) sb.Append(" key=").Append(r.KeyBits).Append("bits");
                    sb.Append(r.KeyDnssecAuthentic ? " dnssec=yes" : " dnssec=no");
                }
                if (r.Reason is not null) sb.Append(" (").Append(r.Reason).Append(')');
                Console.Out.WriteLine(sb.ToString());
            }
            if (results.Any(r => r.Result == DkimResult.Pass)) return ExitOk;
            if (results.All(r => r.Result == DkimResult.TempError)) return ExitTemporary;
            return ExitFailed;
        });
        return cmd;
    }

    private static Command LookupCommand()
    {
        var selector = new Argument<string>("selector") { Description = "Selector." };
        var domain = new Argument<string>("domain") { Description = "Signing domain." };
        (Option<string?> server, Option<bool> trust, Option<double> timeout) = ResolverOptions();
        var cmd = new Command("lookup", "Fetch and check the DKIM key record at SELECTOR._domainkey.DOMAIN.\n" +
            "Exit code: 0 valid key, 1 no key or invalid, 2 temporary failure, 3 bad input.")
        {
            selector, domain, server, trust, timeout,
        };
        cmd.SetAction(async (parse, cancellationToken) =>
        {
            DnsResolver? resolver = CreateResolver(parse.GetValue(server), parse.GetValue(trust), parse.GetValue(timeout));
            if (resolver is null) return ExitError;
            string name = parse.GetValue(selector) + "._domainkey." + parse.GetValue(domain);
            DnsResult<TxtRecord> txt = await resolver.LookupTxtAsync(name, cancellationToken).ConfigureAwait(false);
            if (txt.IsTemporaryFailure) { Console.Error.WriteLine("postern: lookup failed: " + txt.Describe()); return ExitTemporary; }
            if (txt.Kind == DnsOutcomeKind.PermanentFailure) { Console.Error.WriteLine("postern: " + txt.Describe()); return ExitError; }
            if (txt.Records.Count == 0) { Console.Out.WriteLine($"{name}: no key record"); return ExitFailed; }
            int exit = ExitFailed;
            foreach (TxtRecord r in txt.Records)
            {
                Console.Out.WriteLine(r.ToString());
                if (!DkimKeyRecord.TryParse(r.Text, out DkimKeyRecord? key, out string? error))
                {
                    Console.Out.WriteLine(";; invalid DKIM key record: " + error);
                    continue;
                }
                if (key.IsRevoked) { Console.Out.WriteLine(";; key revoked (empty p=)"); continue; }
                string detail = key.KeyType == DkimKeyType.Ed25519 ? (key.PublicKey.Length == 32 ? "ed25519" : "ed25519 (invalid length)") : RsaDetail(key.PublicKey);
                Console.Out.WriteLine($";; key: {detail}{(key.Testing ? ", testing (t=y)" : "")}{(key.StrictIdentity ? ", strict identity (t=s)" : "")}");
                if (!detail.Contains("invalid", StringComparison.Ordinal) && !detail.Contains("too short", StringComparison.Ordinal)) exit = ExitOk;
            }
            Console.Out.WriteLine(txt.Authentic ? ";; authentic: yes (DNSSEC-validated)" : ";; authentic: no (not DNSSEC-validated)");
            return exit;
        });
        return cmd;
    }

    private static string RsaDetail(byte[] der)
    {
        using var rsa = System.Security.Cryptography.RSA.Create();
        try
        {
            try { rsa.ImportSubjectPublicKeyInfo(der, out _); }
            catch (System.Security.Cryptography.CryptographicException) { rsa.ImportRSAPublicKey(der, out _); }
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return "rsa (invalid public key)";
        }
        return rsa.KeySize < 1024 ? $"rsa {rsa.KeySize} bits (too short, RFC 8301)" : $"rsa {rsa.KeySize} bits";
    }

    private static (Option<string?>, Option<bool>, Option<double>) ResolverOptions() =>
    (
        new Option<string?>("--server") { Description = "Resolver to ask, IP[:PORT]. Default: the nameservers of /etc/resolv.conf." },
        new Option<bool>("--trust-server") { Description = "Believe the AD bit of --server even if it is not on loopback." },
        new Option<double>("--timeout") { Description = "Seconds to wait for each response.", DefaultValueFactory = _ => 5 }
    );

    private static DnsResolver? CreateResolver(string? serverText, bool trust, double seconds)
    {
        IPEndPoint? endpoint = null;
        if (serverText is not null && !DnsResolverOptions.TryParseServer(serverText, out endpoint))
        {
            Console.Error.WriteLine($"postern: invalid server \"{serverText}\" (expected IP or IP:PORT)");
            return null;
        }
        return new DnsResolver(new DnsResolverOptions
        {
            Servers = endpoint is null ? [] : [endpoint],
            TrustedServers = endpoint is not null && trust ? [endpoint.Address] : null,
            Timeout = TimeSpan.FromSeconds(seconds is > 0 and <= 60 ? seconds : 5),
        });
    }

    private static DkimPrivateKey? LoadKey(string file)
    {
        try
        {
            return DkimPrivateKey.FromPem(File.ReadAllText(file));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException)
        {
            Console.Error.WriteLine($"postern: cannot use key {file}: {e.Message}");
            return null;
        }
    }

    /// <summary>Reads a message (bounded), converting bare LF line endings to CRLF as SMTP would carry them.</summary>
    internal static byte[]? ReadMessage(string file)
    {
        byte[] raw;
        try
        {
            using Stream s = file == "-" ? Console.OpenStandardInput() : File.OpenRead(file);
            using var ms = new MemoryStream();
            byte[] buf = new byte[64 * 1024];
            int n;
            while ((n = s.Read(buf)) > 0)
            {
                if (ms.Length + n > MaxMessageBytes) { Console.Error.WriteLine($"postern: message larger than {MaxMessageBytes} bytes"); return null; }
                ms.Write(buf, 0, n);
            }
            raw = ms.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"postern: cannot read {file}: {e.Message}");
            return null;
        }
        return ToCrlf(raw);
    }

    internal static byte[] ToCrlf(byte[] raw)
    {
        int bare = 0;
        for (int i = 0; i < raw.Length; i++)
            if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) bare++;
        if (bare == 0) return raw;
        byte[] o = new byte[raw.Length + bare];
        int j = 0;
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) o[j++] = (byte)'\r';
            o[j++] = raw[i];
        }
        return o;
    }

    internal static bool TryParseDuration(string s, out TimeSpan span)
    {
        span = default;
        if (s.Length < 2 || !long.TryParse(s.AsSpan(0, s.Length - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n) || n <= 0 || n > 100_000_000)
            return false;
        span = s[^1] switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            'd' => TimeSpan.FromDays(n),
            _ => TimeSpan.Zero,
        };
        return span > TimeSpan.Zero;
    }
}
