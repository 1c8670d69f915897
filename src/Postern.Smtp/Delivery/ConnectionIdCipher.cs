// Connection ids appear in the logs as plain numbers. Received headers carry them encrypted
// (AES, one block: the 8-byte id and 8 zero bytes), so a recipient cannot learn how many
// connections the server handles, while the operator turns a header's id back into the log id
// with `postern cid`. The zero half makes a wrong key or a tampered value detectable.
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Postern.Smtp.Delivery;

/// <summary>Encrypts and decrypts connection ids with a 16-byte key.</summary>
public sealed class ConnectionIdCipher : IDisposable
{
    private readonly Aes _aes;
    // One ECB encryptor reused under a lock: Aes.EncryptEcb sets up a new cipher context per call,
    // which cost more than the encryption itself (one id per SMTP connection). ECB keeps no state
    // between blocks, so reusing the transform is safe.
    private readonly ICryptoTransform _encryptor;
    private readonly Lock _lock = new();

    /// <summary>Creates a cipher with a 16-byte key.</summary>
    public ConnectionIdCipher(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length != 16)
            throw new ArgumentException("connection id key must be 16 bytes", nameof(key));
        _aes = Aes.Create();
        _aes.Key = key;
        _aes.Mode = CipherMode.ECB;
        _aes.Padding = PaddingMode.None;
        _encryptor = _aes.CreateEncryptor();
    }

    /// <summary>A new random key.</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(16);

    /// <summary>The encrypted form: 32 lower-case hex digits.</summary>
    public string Encrypt(long id)
    {
        byte[] block = new byte[16], enc = new byte[16];
        BinaryPrimitives.WriteInt64BigEndian(block, id);
        lock (_lock)
            _encryptor.TransformBlock(block, 0, 16, enc, 0);
        return Convert.ToHexStringLower(enc);
    }

    /// <summary>The id, or null when the text is not an id encrypted with this key.</summary>
    public long? Decrypt(string encrypted)
    {
        byte[] data;
        try
        {
            data = Convert.FromHexString(encrypted.Trim());
        }
        catch (FormatException)
        {
            return null;
        }
        if (data.Length != 16)
            return null;
        byte[] plain = _aes.DecryptEcb(data, PaddingMode.None);
        if (plain.AsSpan(8).ContainsAnyExcept((byte)0))
            return null;
        return BinaryPrimitives.ReadInt64BigEndian(plain);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _encryptor.Dispose();
        _aes.Dispose();
    }
}
