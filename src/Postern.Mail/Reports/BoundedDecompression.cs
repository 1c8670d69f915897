using System.IO.Compression;

namespace Postern.Mail.Reports;

/// <summary>Decompresses report attachments without letting a small archive expand past a limit (decompression bombs).</summary>
internal static class BoundedDecompression
{
    /// <summary>The gzip data decompressed, at most <paramref name="limit"/> bytes; null with an error beyond it or on corrupt data.</summary>
    public static byte[]? Gunzip(byte[] data, int limit, out string? error)
    {
        try
        {
            using var input = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
            return ReadAtMost(input, limit, out error);
        }
        catch (InvalidDataException ex)
        {
            error = "corrupt gzip data: " + ex.Message;
            return null;
        }
    }

    /// <summary>The first .xml entry of a zip archive (or its first entry), at most <paramref name="limit"/> bytes.</summary>
    public static byte[]? UnzipFirstXml(byte[] data, int limit, out string? error)
    {
        try
        {
            using var zip = new ZipArchive(new MemoryStream(data), ZipArchiveMode.Read);
            ZipArchiveEntry? entry = zip.Entries.FirstOrDefault(e => e.Name.EndsWith(".xml", StringComparison.OrdinalIgnoreCase)) ?? zip.Entries.FirstOrDefault();
            if (entry is null)
            {
                error = "empty zip archive";
                return null;
            }
            using Stream s = entry.Open();
            return ReadAtMost(s, limit, out error);
        }
        catch (InvalidDataException ex)
        {
            error = "corrupt zip data: " + ex.Message;
            return null;
        }
    }

    private static byte[]? ReadAtMost(Stream input, int limit, out string? error)
    {
        error = null;
        using var output = new MemoryStream();
        byte[] buffer = new byte[64 * 1024];
        int n;
        while ((n = input.Read(buffer)) > 0)
        {
            if (output.Length + n > limit)
            {
                error = $"decompressed report larger than {limit} bytes";
                return null;
            }
            output.Write(buffer, 0, n);
        }
        return output.ToArray();
    }
}
