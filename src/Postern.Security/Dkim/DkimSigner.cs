// DKIM signing, RFC 6376 §5. Header fields named in the configuration are signed as often
// as they occur, and "over-signed" ones once more, so that an added instance breaks the
// signature (RFC 6376 §8.15). The body is streamed through the hasher.
using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Postern.Security.Dkim;

/// <summary>What and how to sign.</summary>
public sealed class DkimSignerOptions
{
    /// <summary>The header fields signed by default (RFC 6376 §5.4.1's recommendations).</summary>
    public static readonly IReadOnlyList<string> DefaultHeaders =
    [
        "From", "Reply-To", "Subject", "Date", "To", "Cc", "Resent-Date", "Resent-From", "Resent-To", "Resent-Cc",
        "In-Reply-To", "References", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
        "List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe", "List-Post", "List-Owner", "List-Archive",
    ];

    /// <summary>The header fields over-signed by default: those that must not be added after signing.</summary>
    public static readonly IReadOnlyList<string> DefaultOverSignedHeaders =
        ["From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"];

    /// <summary>Signing domain (d=).</summary>
    public required string Domain { get; init; }

    /// <summary>Selector (s=).</summary>
    public required string Selector { get; init; }

    /// <summary>The private key.</summary>
    public required DkimPrivateKey Key { get; init; }

    /// <summary>Header fields to sign when present (From is always signed).</summary>
    public IReadOnlyList<string> Headers { get; init; } = DefaultHeaders;

    /// <summary>Header fields signed once more than they occur.</summary>
    public IReadOnlyList<string> OverSignedHeaders { get; init; } = DefaultOverSignedHeaders;

    /// <summary>Header canonicalisation.</summary>
    public DkimCanonicalization HeaderCanonicalization { get; init; } = DkimCanonicalization.Relaxed;

    /// <summary>Body canonicalisation.</summary>
    public DkimCanonicalization BodyCanonicalization { get; init; } = DkimCanonicalization.Relaxed;

    /// <summary>Signature lifetime (x= = t= + this), or null for none.</summary>
    public TimeSpan? Expiration { get; init; }

    /// <summary>Agent or user identifier (i=), or null.</summary>
    public string? Identity { get; init; }

    /// <summary>Clock for t=.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>Signs messages with DKIM.</summary>
public sealed class DkimSigner
{
    private readonly DkimSignerOptions _options;

    /// <summary>Creates a signer.</summary>
    public DkimSigner(DkimSignerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Domain) || string.IsNullOrWhiteSpace(options.Selector)) throw new ArgumentException("domain and selector are required", nameof(options));
        _options = options;
    }

    /// <summary>Returns the DKIM-Signature header field (with final CRLF) to prepend to <paramref name="message"/>.</summary>
    public string Sign(ReadOnlyMemory<byte> message)
    {
        int body = DkimHeaderBlock.FindBodyOffset(message.Span);
        DkimHeaderBlock block = DkimHeaderBlock.Parse(message, body);
        using var hasher = new DkimBodyHasher(_options.BodyCanonicalization, HashAlgorithmName.SHA256);
        hasher.Append(message.Span[block.BodyOffset..]);
        return SignHeaders(block, hasher.Finish());
    }

    /// <summary>Returns the DKIM-Signature header field for a message read from a stream (the body is streamed).</summary>
    public async Task<string> SignAsync(Stream message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        DkimHeaderBlock block = await DkimHeaderBlock.ReadAsync(message, 1024 * 1024, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException("header section longer than 1 MB");
        using var hasher = new DkimBodyHasher(_options.BodyCanonicalization, HashAlgorithmName.SHA256);
        hasher.Append(block.Bytes.Span[block.BodyOffset..]);
        byte[] buf = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int n;
            while ((n = await message.ReadAsync(buf, cancellationToken).ConfigureAwait(false)) > 0) hasher.Append(buf.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
        return SignHeaders(block, hasher.Finish());
    }

    private string SignHeaders(DkimHeaderBlock block, byte[] bodyHash)
    {
        // RFC 5322 §2.2.3: folding continues a field. A message whose first line is folded would have that line
        // join the DKIM-Signature field put in front of it, and the signature would no longer parse.
        if (block.Bytes.Length > 0 && block.Bytes.Span[0] is (byte)' ' or (byte)'\t')
            throw new InvalidDataException("the message starts with a folded line (space or tab) before any header field");
        var names = new List<string>();
        var configured = new List<string>(_options.Headers);
        if (!configured.Exists(h => h.Equals("From", StringComparison.OrdinalIgnoreCase))) configured.Insert(0, "From");
        foreach (string h in configured.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            int count = block.Fields.Count(f => f.Name.Equals(h, StringComparison.OrdinalIgnoreCase));
            if (count == 0 && h.Equals("From", StringComparison.OrdinalIgnoreCase)) throw new InvalidDataException("the message has no From header field");
            bool over = _options.OverSignedHeaders.Any(o => o.Equals(h, StringComparison.OrdinalIgnoreCase));
            for (int i = 0; i < count + (over ? 1 : 0); i++) names.Add(h.ToLowerInvariant());
        }
        DateTimeOffset now = _options.TimeProvider.GetUtcNow();
        var sb = new StringBuilder(512);
        sb.Append("DKIM-Signature: v=1; a=").Append(_options.Key.Algorithm == DkimAlgorithm.Ed25519Sha256 ? "ed25519-sha256" : "rsa-sha256");
        sb.Append("; c=").Append(Canon(_options.HeaderCanonicalization)).Append('/').Append(Canon(_options.BodyCanonicalization));
        sb.Append(";\r\n\td=").Append(_options.Domain).Append("; s=").Append(_options.Selector).Append(';');
        if (_options.Identity is not null) sb.Append(" i=").Append(_options.Identity).Append(';');
        long t = now.ToUnixTimeSeconds();
        sb.Append(" t=").Append(t.ToString(CultureInfo.InvariantCulture)).Append(';');
        if (_options.Expiration is { } exp) sb.Append(" x=").Append((t + (long)exp.TotalSeconds).ToString(CultureInfo.InvariantCulture)).Append(';');
        sb.Append("\r\n\th=");
        int col = 3;
        for (int i = 0; i < names.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(':');
                col++;
                if (col + names[i].Length > 76) { sb.Append("\r\n\t "); col = 2; }
            }
            sb.Append(names[i]);
            col += names[i].Length;
        }
        sb.Append(";\r\n\tbh=").Append(Convert.ToBase64String(bodyHash)).Append(";\r\n\tb=");
        byte[] unsigned = Encoding.Latin1.GetBytes(sb.ToString());
        var data = new ArrayBufferWriter<byte>(4096);
        block.WriteSignedData(_options.HeaderCanonicalization, names, unsigned, data);
        byte[] signature = _options.Key.SignHash(SHA256.HashData(data.WrittenSpan));
        string b64 = Convert.ToBase64String(signature);
        for (int i = 0; i < b64.Length; i += 72)
        {
            if (i > 0) sb.Append("\r\n\t ");
            sb.Append(b64, i, Math.Min(72, b64.Length - i));
        }
        sb.Append("\r\n");
        return sb.ToString();
    }

    private static string Canon(DkimCanonicalization c) => c == DkimCanonicalization.Relaxed ? "relaxed" : "simple";
}
