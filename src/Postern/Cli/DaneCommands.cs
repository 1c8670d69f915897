using System.CommandLine;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Postern.Security.Dane;

namespace Postern.Cli;

/// <summary><c>postern dane ...</c>: TLSA records for DANE (RFC 6698, RFC 7671, RFC 7672).</summary>
internal static class DaneCommands
{
    public static Command Create()
    {
        var dane = new Command("dane", "DANE: TLSA records for the mail server's certificates (RFC 6698, RFC 7672).");
        dane.Subcommands.Add(MakeRecordCommand());
        return dane;
    }

    private static Command MakeRecordCommand()
    {
        var usage = new Argument<byte>("usage") { Description = "Certificate usage: 3 (DANE-EE, the server's own key; recommended) or 2 (DANE-TA, a CA in the chain)." };
        var selector = new Argument<byte>("selector") { Description = "Selector: 1 (public key; survives renewals with the same key) or 0 (whole certificate)." };
        var matching = new Argument<byte>("matching") { Description = "Matching type: 1 (SHA-256), 2 (SHA-512) or 0 (full data)." };
        var file = new Argument<string>("file") { Description = "A PEM certificate, or for selector 1 also a PEM public or private key." };
        var cmd = new Command("makerecord", "Print the TLSA record data (\"usage selector matching hex\") for a certificate or key.") { usage, selector, matching, file };
        cmd.SetAction(parse =>
        {
            byte u = parse.GetValue(usage), s = parse.GetValue(selector), m = parse.GetValue(matching);
            if (u > 3 || s > 1 || m > 2)
            {
                Console.Error.WriteLine("postern: usage must be 0-3, selector 0 or 1, matching type 0-2");
                return 1;
            }
            if (u is 0 or 1)
                Console.Error.WriteLine("postern: warning: PKIX usages (0, 1) are not used for SMTP (RFC 7672 §3.1.3); use 3 or 2");
            string path = parse.GetValue(file)!;
            string pem;
            try
            {
                pem = File.ReadAllText(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"postern: {path}: {ex.Message}");
                return 1;
            }
            byte[]? data = Select(pem, s);
            if (data is null)
            {
                Console.Error.WriteLine(s == 0
                    ? $"postern: {path}: no PEM certificate found (selector 0 needs a certificate)"
                    : $"postern: {path}: no PEM certificate, public key or private key found");
                return 1;
            }
            byte[] association = m switch { 1 => SHA256.HashData(data), 2 => SHA512.HashData(data), _ => data };
            Console.WriteLine($"{u} {s} {m} {Convert.ToHexStringLower(association)}");
            return 0;
        });
        return cmd;
    }

    /// <summary>The bytes the selector covers: the DER certificate (0) or its SubjectPublicKeyInfo (1).</summary>
    private static byte[]? Select(string pem, byte selector)
    {
        try
        {
            if (pem.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
            {
                using X509Certificate2 cert = X509Certificate2.CreateFromPem(pem);
                return selector == 0 ? cert.RawData : cert.PublicKey.ExportSubjectPublicKeyInfo();
            }
            if (selector == 0)
                return null;
            foreach (Func<AsymmetricAlgorithm> create in new Func<AsymmetricAlgorithm>[] { () => ECDsa.Create(), () => RSA.Create() })
            {
                using AsymmetricAlgorithm key = create();
                try
                {
                    key.ImportFromPem(pem);
                    return key.ExportSubjectPublicKeyInfo();
                }
                catch (ArgumentException)
                {
                }
                catch (CryptographicException)
                {
                }
            }
            return null;
        }
        catch (CryptographicException)
        {
            return null;
        }
    }
}
