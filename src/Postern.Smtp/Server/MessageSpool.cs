// Where an incoming message goes while it arrives: memory up to SmtpLimits.InMemoryMessageThreshold,
// then a temporary file, written as the bytes come, so a big message never sits whole in memory.
// When the message is for a local account, that file is the account's own temporary message file
// (same filesystem as its message files), which the store then renames into place for the last copy
// delivered into that account: a big message is written once, not spooled and then copied.
// The MIME structure is parsed on the fly (Postern.Mail's incremental parser), and the size limit
// is enforced as bytes arrive: past it, bytes are dropped and the message is refused at the end.
using System.Buffers;
using System.Runtime.InteropServices;
using Postern.Mail;
using Postern.Smtp.Protocol;
using Postern.Store;

namespace Postern.Smtp.Server;

internal sealed class MessageSpool : IMessageSink, IAsyncDisposable
{
    private readonly long _maxSize;
    private readonly int _memoryThreshold;
    private readonly string _tempDirectory;
    private readonly (IMailStore Store, string Account)? _destination;
    private readonly MessageParser _parser = new();
    // The in-memory part: a buffer from the shared pool (most mail is a few to a few tens of KiB, so 16 KiB to
    // start), returned when the spool is disposed, after delivery. Nothing keeps the bytes past that point.
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    private int _buffered;
    private Stream? _file;
    private IAccountStore? _account;
    private TempMessageFile? _temp;
    private FileStream? _reader;

    /// <summary>
    /// A spool; with <paramref name="destination"/>, a message past the memory threshold is written into
    /// a temporary file of that account, which delivery can hand to the store instead of copying it.
    /// </summary>
    public MessageSpool(long maxSize, int memoryThreshold, string tempDirectory, (IMailStore Store, string Account)? destination = null)
    {
        _maxSize = maxSize;
        _memoryThreshold = memoryThreshold;
        _tempDirectory = tempDirectory;
        _destination = destination;
    }

    /// <summary>Bytes received so far (counted even past the limit).</summary>
    public long Length { get; private set; }

    /// <summary>Whether the message grew past the size limit.</summary>
    public bool TooLarge => Length > _maxSize;

    /// <summary>Whether the message is on disk.</summary>
    public bool OnDisk => _file is not null;

    /// <summary>
    /// Whether the message starts with a folded line (space or tab first): RFC 5322 §2.2.3 allows folding only after
    /// a field, and such a line would join the last header field put in front at delivery (our Received).
    /// </summary>
    public bool StartsWithFoldedLine { get; private set; }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (Length == 0 && bytes.Length > 0)
            StartsWithFoldedLine = bytes[0] is (byte)' ' or (byte)'\t';
        Length += bytes.Length;
        if (TooLarge)
            return;
        _parser.Append(bytes);
        if (_buffer!.Length - _buffered < bytes.Length)
            Grow(_buffered + bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_buffered));
        _buffered += bytes.Length;
    }

    private void Grow(int needed)
    {
        byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, 2 * _buffer!.Length));
        _buffer.AsSpan(0, _buffered).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    private ReadOnlyMemory<byte> Buffered => _buffer.AsMemory(0, _buffered);

    /// <summary>Moves what is buffered to the temporary file once past the memory threshold. Called after each decoding step.</summary>
    public async ValueTask SpillAsync(CancellationToken ct)
    {
        if (_buffered == 0 || (_file is null && _buffered < _memoryThreshold))
            return;
        _file ??= await CreateFileAsync(ct).ConfigureAwait(false);
        await _file.WriteAsync(Buffered, ct).ConfigureAwait(false);
        _buffered = 0;
        if (_buffer!.Length > 4 * _memoryThreshold)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(_memoryThreshold);
        }
    }

    private async ValueTask<Stream> CreateFileAsync(CancellationToken ct)
    {
        if (_destination is { } d)
        {
            try
            {
                _account = await d.Store.OpenAccountAsync(d.Account, ct).ConfigureAwait(false);
                _temp = _account.CreateTempFile();
                return _temp.Stream;
            }
            catch (Exception e) when (e is StoreException or IOException or UnauthorizedAccessException)
            {
                // The data must still be read to its end: fall back to a file of our own (delivery reports the account's problem).
                if (_account is not null)
                    await _account.DisposeAsync().ConfigureAwait(false);
                _account = null;
                _temp = null;
            }
        }
        Directory.CreateDirectory(_tempDirectory);
        return new FileStream(Path.Combine(_tempDirectory, "smtp-" + Guid.NewGuid().ToString("N") + ".eml"), new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            BufferSize = 0,
            Options = FileOptions.Asynchronous | FileOptions.DeleteOnClose,
        });
    }

    /// <summary>Ends the message: the parsed structure, and the bytes as memory (small) or as a readable file (large).</summary>
    public async ValueTask<SpooledMessage> CompleteAsync(CancellationToken ct)
    {
        MessageStructure structure = _parser.Complete();
        HeaderList headers = _parser.RootHeaders ?? HeaderList.Empty;
        if (_file is null)
            return new SpooledMessage(structure, headers, Buffered, null, Length);
        await SpillAsync(ct).ConfigureAwait(false);
        await _file.FlushAsync(ct).ConfigureAwait(false);
        if (_temp is null)
            return new SpooledMessage(structure, headers, ReadOnlyMemory<byte>.Empty, (FileStream)_file, Length);
        // Read through a second handle, which stays valid once the store has renamed the file into place.
        _reader = _temp.OpenRead();
        return new SpooledMessage(structure, headers, ReadOnlyMemory<byte>.Empty, _reader, Length) { AccountFile = (_destination!.Value.Account, _temp) };
    }

    public async ValueTask DisposeAsync()
    {
        if (_reader is not null)
            await _reader.DisposeAsync().ConfigureAwait(false);
        if (_temp is not null)
            // Deletes the file unless the store took it.
            await _temp.DisposeAsync().ConfigureAwait(false);
        else if (_file is not null)
            await _file.DisposeAsync().ConfigureAwait(false);
        if (_account is not null)
            await _account.DisposeAsync().ConfigureAwait(false);
        _reader = null;
        _temp = null;
        _file = null;
        _account = null;
        if (_buffer is not null)
            ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = null;
        _buffered = 0;
    }
}

/// <summary>
/// A received message: in memory, or in a temporary file (positioned anywhere; read with <see cref="OpenRead"/>).
/// Valid until its spool is disposed (the memory is the spool's pooled buffer).
/// </summary>
internal sealed record SpooledMessage(MessageStructure Structure, HeaderList Headers, ReadOnlyMemory<byte> Memory, FileStream? File, long Length)
{
    /// <summary>The account's temporary file holding the message, when it was spooled into one (see <see cref="MessageSpool"/>).</summary>
    public (string Account, TempMessageFile File)? AccountFile { get; init; }

    /// <summary>A stream over the whole message from its start.</summary>
    public Stream OpenRead()
    {
        if (File is null)
            return MemoryMarshal.TryGetArray(Memory, out ArraySegment<byte> bytes)
                ? new MemoryStream(bytes.Array!, bytes.Offset, bytes.Count, writable: false)
                : new MemoryStream(Memory.ToArray(), writable: false);
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
