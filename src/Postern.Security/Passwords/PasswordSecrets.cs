using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Postern.Security.Passwords;

// Stored authentication secrets of one account, derived from its password, never the password
// itself. Serialized form (one line, ASCII, no secrets recoverable without brute force):
//
//   psv1 pbkdf2-sha256:<iter>:<salt>:<hash> scram-sha-256:<iter>:<salt>:<StoredKey>:<ServerKey>
//        scram-sha-1:<iter>:<salt>:<StoredKey>:<ServerKey> [cram-md5:<inner>:<outer>]
//
// Binary fields are base64. Choices:
// - PLAIN/LOGIN: PBKDF2-HMAC-SHA256, 600,000 iterations by default (OWASP 2023 guidance for
//   PBKDF2-SHA256; ~0.2-0.4 s of one core per check here, which the failure limiter bounds),
//   32-byte hash, 16-byte salt. PBKDF2 rather than Argon2/scrypt because it is in the BCL.
// - SCRAM: 4096 iterations by default, the minimum of RFC 7677 §4; the client repeats the
//   PBKDF2 on every login, and phones pay for it. StoredKey/ServerKey per RFC 5802 §3.
// - CRAM-MD5: the HMAC-MD5 inner and outer chaining states (RFC 2104 §4). They are
//   password-equivalent for CRAM-MD5 itself (as is any CRAM-MD5 secret), which is why the
//   mechanism is optional per account and off by default.

/// <summary>Options for <see cref="PasswordSecrets.Derive(string, PasswordSecretsOptions?)"/>.</summary>
public sealed record PasswordSecretsOptions
{
    /// <summary>PBKDF2-SHA256 iterations of the PLAIN/LOGIN hash.</summary>
    public int PlainIterations { get; init; } = 600_000;

    /// <summary>SCRAM iteration count (RFC 7677 §4: at least 4096).</summary>
    public int ScramIterations { get; init; } = 4096;

    /// <summary>Whether to store the CRAM-MD5 secret, enabling that mechanism for the account.</summary>
    public bool IncludeCramMd5 { get; init; }
}

/// <summary>Thrown when a stored secrets string cannot be parsed.</summary>
public sealed class PasswordSecretsFormatException(string message) : FormatException(message);

/// <summary>SCRAM server secrets for one hash function (RFC 5802 §3).</summary>
public sealed record ScramSecret(int Iterations, byte[] Salt, byte[] StoredKey, byte[] ServerKey);

/// <summary>CRAM-MD5 secret: the HMAC-MD5 chaining states after the inner and outer key blocks.</summary>
public sealed record CramMd5Secret(uint[] InnerState, uint[] OuterState)
{
    /// <summary>HMAC-MD5(password, <paramref name="message"/>) computed from the stored states.</summary>
    public byte[] ComputeHmac(ReadOnlySpan<byte> message)
    {
        // RFC 2104: H(K^opad, H(K^ipad, text)); each key block is 64 bytes already absorbed.
        byte[] inner = Md5Compression.HashFrom(InnerState, 64, message);
        return Md5Compression.HashFrom(OuterState, 64, inner);
    }

    internal static CramMd5Secret FromPassword(string password)
    {
        // RFC 2195 §2: the shared secret is the key; RFC 2104 §2: keys longer than B are hashed.
        byte[] key = Encoding.UTF8.GetBytes(password);
#pragma warning disable CA5351 // MD5 is what CRAM-MD5 is defined with (RFC 2195)
        if (key.Length > 64) key = MD5.HashData(key);
#pragma warning restore CA5351
        Span<byte> block = stackalloc byte[64];
        block.Clear();
        key.CopyTo(block);
        for (int i = 0; i < 64; i++) block[i] ^= 0x36;
        uint[] inner = Md5Compression.StateAfterBlock(block);
        for (int i = 0; i < 64; i++) block[i] ^= 0x36 ^ 0x5c;
        uint[] outer = Md5Compression.StateAfterBlock(block);
        CryptographicOperations.ZeroMemory(block);
        CryptographicOperations.ZeroMemory(key);
        return new CramMd5Secret(inner, outer);
    }
}

/// <summary>
/// The stored secrets of one account: a PBKDF2 hash for PLAIN/LOGIN, SCRAM-SHA-256 and SCRAM-SHA-1
/// keys, and optionally a CRAM-MD5 secret. Created from a password with <see cref="Create"/> or
/// <see cref="Derive"/>, persisted with <see cref="Serialize"/>, read back with <see cref="Parse"/>.
/// </summary>
public sealed class PasswordSecrets
{
    /// <summary>Prefix (version tag) of the serialized form.</summary>
    public const string FormatVersion = "psv1";

    private const int SaltLength = 16;
    private const int PlainHashLength = 32;
    /// <summary>Upper bound on a serialized secrets string, to refuse garbage early.</summary>
    public const int MaxSerializedLength = 2048;
    private const int MaxIterations = 10_000_000;

    private PasswordSecrets(int plainIterations, byte[] plainSalt, byte[] plainHash, ScramSecret scramSha256, ScramSecret scramSha1, CramMd5Secret? cramMd5)
    {
        PlainIterations = plainIterations;
        PlainSalt = plainSalt;
        PlainHash = plainHash;
        ScramSha256 = scramSha256;
        ScramSha1 = scramSha1;
        CramMd5 = cramMd5;
    }

    internal static PasswordSecrets FromParts(int plainIterations, byte[] plainSalt, byte[] plainHash, ScramSecret scramSha256, ScramSecret scramSha1, CramMd5Secret? cramMd5) =>
        new(plainIterations, plainSalt, plainHash, scramSha256, scramSha1, cramMd5);

    /// <summary>PBKDF2-SHA256 iteration count of <see cref="PlainHash"/>.</summary>
    public int PlainIterations { get; }
    /// <summary>Salt of <see cref="PlainHash"/>.</summary>
    public byte[] PlainSalt { get; }
    /// <summary>PBKDF2-SHA256 of the SASLprep'ed password.</summary>
    public byte[] PlainHash { get; }
    /// <summary>SCRAM-SHA-256 secrets.</summary>
    public ScramSecret ScramSha256 { get; }
    /// <summary>SCRAM-SHA-1 secrets.</summary>
    public ScramSecret ScramSha1 { get; }
    /// <summary>CRAM-MD5 secret, or null when CRAM-MD5 is disabled for the account.</summary>
    public CramMd5Secret? CramMd5 { get; }

    /// <summary>Derives the secrets from <paramref name="password"/> and returns their serialized form.</summary>
    public static string Derive(string password, PasswordSecretsOptions? options = null) => Create(password, options).Serialize();

    /// <summary>Derives all secrets from <paramref name="password"/> with fresh random salts.</summary>
    public static PasswordSecrets Create(string password, PasswordSecretsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(password);
        options ??= new PasswordSecretsOptions();
        if (options.ScramIterations < 4096) throw new ArgumentException("SCRAM iteration count must be at least 4096 (RFC 7677 §4).", nameof(options));
        if (options.PlainIterations < 1 || options.PlainIterations > MaxIterations) throw new ArgumentException("Invalid PLAIN iteration count.", nameof(options));
        // RFC 4616 §2 and RFC 5802 §2.2: passwords are compared after SASLprep.
        byte[] prepared = Encoding.UTF8.GetBytes(SaslPrep.PrepareOrKeep(password));
        try
        {
            byte[] plainSalt = RandomNumberGenerator.GetBytes(SaltLength);
            byte[] plainHash = Rfc2898DeriveBytes.Pbkdf2(prepared, plainSalt, options.PlainIterations, HashAlgorithmName.SHA256, PlainHashLength);
            var s256 = DeriveScram(prepared, RandomNumberGenerator.GetBytes(SaltLength), options.ScramIterations, HashAlgorithmName.SHA256);
            var s1 = DeriveScram(prepared, RandomNumberGenerator.GetBytes(SaltLength), options.ScramIterations, HashAlgorithmName.SHA1);
            var cram = options.IncludeCramMd5 ? CramMd5Secret.FromPassword(password) : null;
            return new PasswordSecrets(options.PlainIterations, plainSalt, plainHash, s256, s1, cram);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(prepared);
        }
    }

    /// <summary>RFC 5802 §3: SaltedPassword, ClientKey, StoredKey, ServerKey.</summary>
    public static ScramSecret DeriveScram(ReadOnlySpan<byte> preparedPassword, byte[] salt, int iterations, HashAlgorithmName hash)
    {
        byte[] salted = ScramCrypto.SaltedPassword(hash, preparedPassword, salt, iterations);
        byte[] clientKey = ScramCrypto.Hmac(hash, salted, "Client Key"u8);
        byte[] storedKey = ScramCrypto.Hash(hash, clientKey);
        byte[] serverKey = ScramCrypto.Hmac(hash, salted, "Server Key"u8);
        CryptographicOperations.ZeroMemory(salted);
        CryptographicOperations.ZeroMemory(clientKey);
        return new ScramSecret(iterations, salt, storedKey, serverKey);
    }

    /// <summary>Checks a clear-text password (PLAIN, LOGIN) in constant time with respect to the hash.</summary>
    public bool VerifyPassword(string password)
    {
        byte[] prepared = Encoding.UTF8.GetBytes(SaslPrep.PrepareOrKeep(password));
        try
        {
            byte[] candidate = Rfc2898DeriveBytes.Pbkdf2(prepared, PlainSalt, PlainIterations, HashAlgorithmName.SHA256, PlainHash.Length);
            return CryptographicOperations.FixedTimeEquals(candidate, PlainHash);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(prepared);
        }
    }

    /// <summary>Performs the work of <see cref="VerifyPassword"/> at the default cost, for unknown users (no timing oracle).</summary>
    public static void BurnVerificationCost(string password)
    {
        byte[] prepared = Encoding.UTF8.GetBytes(password);
        Rfc2898DeriveBytes.Pbkdf2(prepared, new byte[SaltLength], DefaultPlainIterations, HashAlgorithmName.SHA256, PlainHashLength);
        CryptographicOperations.ZeroMemory(prepared);
    }

    private static readonly int DefaultPlainIterations = new PasswordSecretsOptions().PlainIterations;

    /// <summary>Returns the SCRAM secret for the given hash (SHA-1 or SHA-256).</summary>
    public ScramSecret GetScram(HashAlgorithmName hash) => hash == HashAlgorithmName.SHA1 ? ScramSha1 : ScramSha256;

    /// <summary>Serialized form, to store as is.</summary>
    public string Serialize()
    {
        var sb = new StringBuilder(FormatVersion);
        sb.Append(CultureInfo.InvariantCulture, $" pbkdf2-sha256:{PlainIterations}:{B64(PlainSalt)}:{B64(PlainHash)}");
        AppendScram(sb, "scram-sha-256", ScramSha256);
        AppendScram(sb, "scram-sha-1", ScramSha1);
        if (CramMd5 is not null) sb.Append(" cram-md5:").Append(B64(StateBytes(CramMd5.InnerState))).Append(':').Append(B64(StateBytes(CramMd5.OuterState)));
        return sb.ToString();
    }

    private static void AppendScram(StringBuilder sb, string name, ScramSecret s) =>
        sb.Append(CultureInfo.InvariantCulture, $" {name}:{s.Iterations}:{B64(s.Salt)}:{B64(s.StoredKey)}:{B64(s.ServerKey)}");

    /// <summary>Parses a serialized form; throws <see cref="PasswordSecretsFormatException"/> with a clear message when corrupt.</summary>
    public static PasswordSecrets Parse(string serialized)
    {
        ArgumentNullException.ThrowIfNull(serialized);
        if (serialized.Length > MaxSerializedLength) throw Corrupt("longer than " + MaxSerializedLength + " characters");
        string[] parts = serialized.Split(' ');
        if (parts[0] != FormatVersion) throw Corrupt($"unknown format version (expected \"{FormatVersion}\")");
        (int, byte[], byte[])? plain = null;
        ScramSecret? s256 = null, s1 = null;
        CramMd5Secret? cram = null;
        for (int i = 1; i < parts.Length; i++)
        {
            string[] f = parts[i].Split(':');
            switch (f[0])
            {
                case "pbkdf2-sha256" when plain is null:
                    Expect(f, 4);
                    plain = (Iter(f[1], 1), Bytes(f[2], f[0], 8, 64), Bytes(f[3], f[0], 16, 64));
                    break;
                case "scram-sha-256" when s256 is null:
                    s256 = ParseScram(f, 32);
                    break;
                case "scram-sha-1" when s1 is null:
                    s1 = ParseScram(f, 20);
                    break;
                case "cram-md5" when cram is null:
                    Expect(f, 3);
                    cram = new CramMd5Secret(State(Bytes(f[1], f[0], 16, 16)), State(Bytes(f[2], f[0], 16, 16)));
                    break;
                default:
                    throw Corrupt($"unknown or repeated field \"{Truncate(f[0])}\"");
            }
        }
        if (plain is null) throw Corrupt("missing pbkdf2-sha256 field");
        if (s256 is null) throw Corrupt("missing scram-sha-256 field");
        if (s1 is null) throw Corrupt("missing scram-sha-1 field");
        return new PasswordSecrets(plain.Value.Item1, plain.Value.Item2, plain.Value.Item3, s256, s1, cram);
    }

    /// <summary>Like <see cref="Parse"/>, returning false instead of throwing.</summary>
    public static bool TryParse(string serialized, out PasswordSecrets? secrets, out string? error)
    {
        try
        {
            secrets = Parse(serialized);
            error = null;
            return true;
        }
        catch (PasswordSecretsFormatException e)
        {
            secrets = null;
            error = e.Message;
            return false;
        }
    }

    private static ScramSecret ParseScram(string[] f, int keyLength)
    {
        Expect(f, 5);
        return new ScramSecret(Iter(f[1], 4096), Bytes(f[2], f[0], 8, 64), Bytes(f[3], f[0], keyLength, keyLength), Bytes(f[4], f[0], keyLength, keyLength));
    }

    private static void Expect(string[] f, int count)
    {
        if (f.Length != count) throw Corrupt($"field \"{f[0]}\" has {f.Length - 1} values, expected {count - 1}");
    }

    private static int Iter(string s, int min)
    {
        if (!int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < min || v > MaxIterations)
            throw Corrupt($"invalid iteration count \"{Truncate(s)}\"");
        return v;
    }

    private static byte[] Bytes(string s, string field, int min, int max)
    {
        if (!StrictBase64.TryDecode(s, out byte[] b)) throw Corrupt($"invalid base64 in field \"{field}\"");
        if (b.Length < min || b.Length > max) throw Corrupt($"value of wrong length ({b.Length} bytes) in field \"{field}\"");
        return b;
    }

    private static uint[] State(byte[] b)
    {
        var s = new uint[4];
        for (int i = 0; i < 4; i++) s[i] = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(i * 4));
        return s;
    }

    private static byte[] StateBytes(uint[] s)
    {
        var b = new byte[16];
        for (int i = 0; i < 4; i++) BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i * 4), s[i]);
        return b;
    }

    private static string B64(byte[] b) => Convert.ToBase64String(b);
    private static string Truncate(string s) => s.Length > 32 ? s[..32] + "..." : s;
    private static PasswordSecretsFormatException Corrupt(string why) => new("Corrupt stored password secrets: " + why + ".");
}
