namespace Postern.Store;

/// <summary>Where the bytes of a message to append come from: memory, or a temporary file the caller wrote.</summary>
public abstract class MessageSource
{
    private protected MessageSource() { }

    /// <summary>Bytes held in memory (small and medium messages).</summary>
    public static MessageSource FromMemory(ReadOnlyMemory<byte> bytes) => new MemoryMessageSource(bytes);

    /// <summary>A temporary file obtained from <see cref="IAccountStore.CreateTempFileAsync"/> and written by the caller; the store fsyncs and renames it into place, so big messages never sit in memory.</summary>
    public static MessageSource FromTempFile(TempMessageFile file) => new TempFileMessageSource(file);
}

internal sealed class MemoryMessageSource(ReadOnlyMemory<byte> bytes) : MessageSource
{
    public ReadOnlyMemory<byte> Bytes { get; } = bytes;
}

internal sealed class TempFileMessageSource(TempMessageFile file) : MessageSource
{
    public TempMessageFile File { get; } = file;
}

/// <summary>
/// A file in the account's tmp folder (same filesystem as the message files) that the caller writes a message into.
/// Append it with <see cref="MessageSource.FromTempFile"/>; disposing it without appending deletes it.
/// </summary>
public sealed class TempMessageFile : IAsyncDisposable, IDisposable
{
    private FileStream? _stream;

    internal TempMessageFile(string path)
    {
        Path = path;
        _stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            // Readers may open it (OpenRead) while it is written; nobody else knows its random name.
            Share = FileShare.Read,
            BufferSize = 64 * 1024,
            Options = FileOptions.Asynchronous,
        });
    }

    internal string Path { get; }

    /// <summary>Set once the store has taken the file (renamed into the message folder).</summary>
    internal bool Consumed { get; set; }

    /// <summary>The stream to write the message into.</summary>
    public Stream Stream => _stream ?? throw new ObjectDisposedException(nameof(TempMessageFile));

    /// <summary>
    /// A read-only stream over what has been written so far (the write buffer is flushed first). It stays
    /// readable after the store has taken the file (a rename keeps the open file), so the caller can still
    /// read the message once it is appended; dispose it when done.
    /// </summary>
    public FileStream OpenRead()
    {
        Stream.Flush();
        return new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 64 * 1024, FileOptions.Asynchronous);
    }

    /// <summary>Flushes to stable storage and closes the stream; returns the file length.</summary>
    internal long FlushAndClose()
    {
        var s = _stream ?? throw new InvalidOperationException("temporary message file already closed");
        s.Flush(flushToDisk: true);
        long length = s.Length;
        s.Dispose();
        _stream = null;
        return length;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
        if (!Consumed)
        {
            try { File.Delete(Path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (_stream is not null)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
            _stream = null;
        }
        Dispose();
    }
}
