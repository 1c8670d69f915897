#:property ServerGarbageCollection=false
#:property ConcurrentGarbageCollection=true
#:property TieredPGO=true
// A minimal SMTP receiver on .NET's sockets, as a reference for bench/smtp-floor.sh: what the
// runtime's socket stack costs per connection and per message before any mail-server work. It
// reads with the same primitives as Postern's SMTP server (Socket accept loop, NetworkStream,
// PipeReader with zero-byte reads, 64 minimum pool threads), answers EHLO/MAIL/RCPT/DATA/QUIT
// with fixed replies, and discards the message: like smtp-sink, it stores nothing, parses
// nothing, and checks nothing. It is not a mail server.
//   dotnet run -c Release DotnetSmtpSink.cs -- PORT        (prints "pid N" once listening)
using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;

ThreadPool.SetMinThreads(64, 64);
using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
listener.Bind(new IPEndPoint(IPAddress.Loopback, int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture)));
listener.Listen(512);
Console.WriteLine($"pid {Environment.ProcessId}");
while (true)
{
    Socket client = await listener.AcceptAsync();
    client.NoDelay = true;
    _ = ServeAsync(client);
}

static async Task ServeAsync(Socket client)
{
    try
    {
        var stream = new NetworkStream(client, ownsSocket: true);
        await using (stream)
        {
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4096, leaveOpen: true, useZeroByteReads: true));
            await stream.WriteAsync("220 sink ESMTP\r\n"u8.ToArray());
            bool inData = false, quit = false;
            var replies = new StringBuilder();
            while (!quit)
            {
                ReadResult read = await reader.ReadAsync();
                ReadOnlySequence<byte> buffer = read.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    ReadOnlySequence<byte> line = buffer.Slice(0, end);
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                    if (inData)
                    {
                        if (line.Length == 2 && line.FirstSpan[0] == (byte)'.')
                        {
                            inData = false;
                            replies.Append("250 2.0.0 discarded\r\n");
                        }
                        continue;
                    }
                    string verb = line.Length >= 4 ? Encoding.ASCII.GetString(line.Slice(0, 4)).ToUpperInvariant() : "";
                    switch (verb)
                    {
                        case "EHLO": replies.Append("250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n"); break;
                        case "DATA": inData = true; replies.Append("354 go ahead\r\n"); break;
                        case "QUIT": quit = true; replies.Append("221 2.0.0 bye\r\n"); break;
                        default: replies.Append("250 2.0.0 ok\r\n"); break;
                    }
                }
                reader.AdvanceTo(buffer.Start, read.Buffer.End);
                if (replies.Length > 0)
                {
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(replies.ToString()));
                    replies.Clear();
                }
                if (read.IsCompleted)
                    break;
            }
        }
    }
    catch (IOException)
    {
        // The client went away.
    }
}
