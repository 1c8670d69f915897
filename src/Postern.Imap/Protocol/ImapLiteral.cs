namespace Postern.Imap.Protocol;

/// <summary>
/// The content of one literal of a command: small ones in memory, large ones (APPEND messages)
/// in a temporary file that is deleted when the literal is disposed.
/// </summary>
public sealed class ImapLiteral : IDisposable
{
    private readonly byte[]? _bytes;
    private readonly FileStream? _file;

    internal ImapLiteral(byte[] bytes, bool binary)
    {
        _bytes = bytes;
        Length = bytes.Length;
        IsBinary = binary;
    }

    internal ImapLiteral(FileStream file, long length, bool binary)
    {
        _file = file;
        Length = length;
        IsBinary = binary;
    }

    /// <summary>Number of octets.</summary>
    public long Length { get; }

    /// <summary>True for a <c>~{n}</c> literal8 (RFC 3516), which may contain NUL.</summary>
    public bool IsBinary { get; }

    /// <summary>True when the content is held in memory.</summary>
    public bool IsInMemory => _bytes is not null;

    /// <summary>The bytes of an in-memory literal; reads the file otherwise (only for small files).</summary>
    public ReadOnlyMemory<byte> GetBytes()
    {
        if (_bytes is not null)
            return _bytes;
        var result = new byte[Length];
        _file!.Position = 0;
        _file.ReadExactly(result);
        return result;
    }

    /// <summary>A fresh read-only stream over the content (caller disposes it).</summary>
    public Stream OpenRead()
    {
        if (_bytes is not null)
            return new MemoryStream(_bytes, writable: false);
        _file!.Position = 0;
        return new NonClosingStream(_file);
    }

    /// <inheritdoc/>
    public void Dispose() => _file?.Dispose();

    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => inner.Position = value; }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => inner.Read(buffer);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
