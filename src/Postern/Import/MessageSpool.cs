using Postern.Mail;
using Postern.Store;

namespace Postern.Import;

/// <summary>
/// The stream one imported message is written into: the bytes go straight to a temporary file
/// of the account (so a message of any size never sits in memory) and through the MIME parser,
/// which keeps only offsets.
/// </summary>
internal sealed class MessageSpool : Stream
{
    private readonly TempMessageFile _file;
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _handle;
    private readonly MessageParser _parser = new();
    private long _length;

    public MessageSpool(IAccountStore account)
    {
        _file = account.CreateTempFile();
        // Positional writes on the handle skip the FileStream's own write buffer: with hundreds of
        // spooled messages waiting for their batch to commit, those buffers would dominate memory.
        _handle = ((FileStream)_file.Stream).SafeFileHandle;
    }

    public TempMessageFile File => _file;

    public override long Length => _length;

    public MessageStructure CompleteParse() => _parser.Complete();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        RandomAccess.Write(_handle, buffer, _length);
        _parser.Append(buffer);
        _length += buffer.Length;
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Position { get => _length; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Deletes the temporary file unless the store took it.</summary>
    public void Discard() => _file.Dispose();
}

/// <summary>Copies bytes converting every bare LF to CRLF (RFC 5322 §2.1: lines end in CRLF), CRLF pairs unchanged.</summary>
internal static class CrlfNormalizer
{
    public static void Copy(Stream source, Stream destination)
    {
        var input = new byte[64 * 1024];
        var output = new byte[2 * input.Length];
        bool lastWasCr = false;
        int n;
        while ((n = source.Read(input, 0, input.Length)) > 0)
        {
            int o = 0;
            var span = input.AsSpan(0, n);
            while (!span.IsEmpty)
            {
                int nl = span.IndexOf((byte)'\n');
                var chunk = nl < 0 ? span : span[..nl];
                chunk.CopyTo(output.AsSpan(o));
                o += chunk.Length;
                if (chunk.Length > 0)
                    lastWasCr = chunk[^1] == (byte)'\r';
                if (nl < 0)
                    break;
                if (!lastWasCr)
                    output[o++] = (byte)'\r';
                output[o++] = (byte)'\n';
                lastWasCr = false;
                span = span[(nl + 1)..];
            }
            destination.Write(output, 0, o);
        }
    }
}
