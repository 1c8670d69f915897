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

    /// <summary>Creates a cipher with a 16-byte key.</summary>
    public ConnectionIdCipher(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length != 16)
            throw new ArgumentException("connection id key must be 16 bytes", nameof(key));
        _aes = Aes.Create();
        _aes.Key = key;
    }

    /// <summary>A new random key.</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(16);

    /// <summary>The encrypted form: 32 lower-case hex digits.</summary>
    public string Encrypt(long id)
    {
        Span<byte> block = stackalloc byte[16];
        block.Clear();
        BinaryPrimitives.WriteInt64BigEndian(block, id);
        byte[] enc = _aes.EncryptEcb(block, PaddingMode.None);
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
    public void Dispose() => _aes.Dispose();
}
