using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Postern.Security.Dkim;

namespace Postern.Security.Tests.Dkim;

/// <summary>Signs a hand-written DKIM-Signature field (ending in "b="), for tests of tags the signer does not emit.</summary>
internal static class TestSigning
{
    public static string SignRaw(DkimPrivateKey key, string unsignedField, string message)
    {
        byte[] m = Encoding.UTF8.GetBytes(message);
        var block = DkimHeaderBlock.Parse(m, DkimHeaderBlock.FindBodyOffset(m));
        int h = unsignedField.IndexOf(" h=", StringComparison.Ordinal) + 3;
        string[] names = unsignedField[h..unsignedField.IndexOf(';', h)].Split(':');
        var data = new ArrayBufferWriter<byte>();
        block.WriteSignedData(DkimCanonicalization.Relaxed, names, Encoding.UTF8.GetBytes(unsignedField), data);
        byte[] sig = key.SignHash(SHA256.HashData(data.WrittenSpan));
        return unsignedField + Convert.ToBase64String(sig) + "\r\n" + message;
    }
}
