// Where an incoming message goes while it arrives: memory up to SmtpLimits.InMemoryMessageThreshold,
// then a temporary file, written as the bytes come, so a big message never sits whole in memory.
// The MIME structure is parsed on the fly (Postern.Mail's incremental parser), and the size limit
// is enforced as bytes arrive: past it, bytes are dropped and the message is refused at the end.
using System.Buffers;
using Postern.Mail;
using Postern.Smtp.Protocol;

namespace Postern.Smtp.Server;

internal sealed class MessageSpool : IMessageSink, IAsyncDisposable
{
    private readonly long _maxSize;
    private readonly int _memoryThreshold;
    private readonly string _tempDirectory;
    private readonly MessageParser _parser = new();
    private ArrayBufferWriter<byte>? _memory = new(4096);
    private FileStream? _file;
    private string? _path;

    public MessageSpool(long maxSize, int memoryThreshold, string tempDirectory)
    {
        _maxSize = maxSize;
        _memoryThreshold = memoryThreshold;
        _tempDirectory = tempDirectory;
    }

    /// <summary>Bytes received so far (counted even past the limit).</summary>
    public long Length { get; private set; }

    /// <summary>Whether the message grew past the size limit.</summary>
    public bool TooLarge => Length > _maxSize;

    /// <summary>Whether the message is on disk.</summary>
    public bool OnDisk => _file is not null || _path is not null;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        Length += bytes.Length;
        if (TooLarge)
            return;
        _parser.Append(bytes);
        _memory!.Write(bytes);
    }

    /// <summary>Moves what is buffered to the temporary file once past the memory threshold. Called after each decoding step.</summary>
    public async ValueTask SpillAsync(CancellationToken ct)
    {
        if (_memory!.WrittenCount == 0 || (_file is null && _memory.WrittenCount < _memoryThreshold))
            return;
        if (_file is null)
        {
            Directory.CreateDirectory(_tempDirectory);
            _path = Path.Combine(_tempDirectory, "smtp-" + Guid.NewGuid().ToString("N") + ".eml");
            _file = new FileStream(_path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                BufferSize = 0,
                Options = FileOptions.Asynchronous | FileOptions.DeleteOnClose,
            });
        }
        await _file.WriteAsync(_memory.WrittenMemory, ct).ConfigureAwait(false);
        _memory.ResetWrittenCount();
        if (_memory.Capacity > 4 * _memoryThreshold)
            _memory = new ArrayBufferWriter<byte>(_memoryThreshold);
    }

    /// <summary>Ends the message: the parsed structure, and the bytes as memory (small) or as a readable file (large).</summary>
    public async ValueTask<SpooledMessage> CompleteAsync(CancellationToken ct)
    {
        MessageStructure structure = _parser.Complete();
        HeaderList headers = _parser.RootHeaders ?? HeaderList.Empty;
        if (_file is null)
            return new SpooledMessage(structure, headers, _memory!.WrittenMemory, null, Length);
        await SpillAsync(ct).ConfigureAwait(false);
        await _file.FlushAsync(ct).ConfigureAwait(false);
        return new SpooledMessage(structure, headers, ReadOnlyMemory<byte>.Empty, _file, Length);
    }

    public async ValueTask DisposeAsync()
    {
        if (_file is not null)
            await _file.DisposeAsync().ConfigureAwait(false);
        _file = null;
        _memory = null;
    }
}

/// <summary>A received message: in memory, or in a temporary file (positioned anywhere; read with <see cref="OpenRead"/>).</summary>
internal sealed record SpooledMessage(MessageStructure Structure, HeaderList Headers, ReadOnlyMemory<byte> Memory, FileStream? File, long Length)
{
    /// <summary>A stream over the whole message from its start.</summary>
    public Stream OpenRead()
    {
        if (File is null)
            return new MemoryStream(Memory.ToArray(), writable: false);
        File.Position = 0;
        return new NonClosingStream(File);
    }

    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
