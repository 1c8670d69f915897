using System.Text;
using Postern.Mail.Mbox;

namespace Postern.Mail.Tests.Mbox;

internal static class MboxTestData
{
    public static List<(MboxEntry Entry, string Text)> ReadAll(string mbox, MboxReadOptions? options = null) =>
        ReadAll(Encoding.Latin1.GetBytes(mbox), options);

    public static List<(MboxEntry Entry, string Text)> ReadAll(byte[] mbox, MboxReadOptions? options = null)
    {
        var result = new List<(MboxEntry, string)>();
        using var reader = new MboxReader(new MemoryStream(mbox), options);
        while (true)
        {
            var dest = new MemoryStream();
            var entry = reader.ReadNext(dest);
            if (entry is null)
                return result;
            result.Add((entry, Encoding.Latin1.GetString(dest.ToArray())));
        }
    }
}

/// <summary>A read-only stream producing <c>prefix</c> then <c>count</c> copies of <c>fill</c> then <c>suffix</c>, without holding them.</summary>
internal sealed class GeneratedStream(byte[] prefix, byte fill, long count, byte[] suffix) : Stream
{
    private long _pos;
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => prefix.Length + count + suffix.Length;
    public override long Position { get => _pos; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int n)
    {
        int written = 0;
        while (written < n && _pos < Length)
        {
            if (_pos < prefix.Length)
                buffer[offset + written] = prefix[_pos];
            else if (_pos < prefix.Length + count)
            {
                int run = (int)Math.Min(n - written, prefix.Length + count - _pos);
                buffer.AsSpan(offset + written, run).Fill(fill);
                written += run;
                _pos += run;
                continue;
            }
            else
                buffer[offset + written] = suffix[_pos - prefix.Length - count];
            written++;
            _pos++;
        }
        return written;
    }
}

/// <summary>A write-only stream that counts bytes and remembers the first and last few.</summary>
internal sealed class CountingStream : Stream
{
    public long Count { get; private set; }
    public List<byte> Head { get; } = [];
    public Queue<byte> Tail { get; } = new();
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => Count;
    public override long Position { get => Count; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Count += buffer.Length;
        foreach (var b in buffer[..Math.Min(buffer.Length, Math.Max(0, 64 - Head.Count))])
            Head.Add(b);
        foreach (var b in buffer[Math.Max(0, buffer.Length - 64)..])
        {
            Tail.Enqueue(b);
            if (Tail.Count > 64)
                Tail.Dequeue();
        }
    }
}
