#:project ../../src/Postern.Smtp/Postern.Smtp.csproj
// Throughput of Postern's SMTP client (RelayTransport path: one connection per attempt) against
// a sink. Usage: dotnet run SmtpClientBench.cs -- PORT MESSAGES PARALLEL SIZE
using System.Diagnostics;
using System.Text;
using Postern.Smtp.Client;

var inv = System.Globalization.CultureInfo.InvariantCulture;
int port = int.Parse(args[0], inv), count = int.Parse(args[1], inv), parallel = int.Parse(args[2], inv), size = int.Parse(args[3], inv);
var body = new StringBuilder("From: bench@origin.test\r\nTo: sink@example.test\r\nSubject: bench\r\n\r\n");
while (body.Length < size) body.Append("0123456789012345678901234567890123456789012345678901234567890123456789\r\n");
byte[] message = Encoding.ASCII.GetBytes(body.ToString());
var transport = new SmarthostTransport(new SmarthostOptions { Host = "127.0.0.1", Port = port, Tls = SmarthostTlsMode.None });
int next = 0, failed = 0;
var sw = Stopwatch.StartNew();
await Task.WhenAll(Enumerable.Range(0, parallel).Select(async _ =>
{
    while (Interlocked.Increment(ref next) <= count)
    {
        var req = new OutboundRequest("example.test", "bench@origin.test", [new OutboundRecipient("sink@example.test")], () => new MemoryStream(message),
            message.Length, false, false, false, null, null, 1, "origin.test");
        OutboundResult r = await transport.DeliverAsync(req, CancellationToken.None);
        if (!r.Recipients[0].Delivered) Interlocked.Increment(ref failed);
    }
}));
sw.Stop();
Console.WriteLine(string.Create(inv, $"{count} messages of {message.Length} bytes, {parallel} in parallel, one connection each: {count / sw.Elapsed.TotalSeconds:F0} msgs/s ({failed} failed)"));
