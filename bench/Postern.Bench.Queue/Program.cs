// Queue benchmark.
//   deliver --count N --port P --dir D [--concurrency C]: enqueues N messages (durably, as submission does)
//     to user@[127.0.0.1], then delivers them through the direct transport to an SMTP sink on
//     127.0.0.1:P; prints enqueue and delivery rates, commits per submission and peak RSS.
//   waiting --count N --dir D: records N messages due in an hour and runs the worker; prints RSS.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Postern.Dns;
using Postern.Queue;
using Postern.Queue.Sqlite;
using Postern.Smtp.Client;
using Postern.Smtp.Delivery;

string mode = args.Length > 0 ? args[0] : "";
string Arg(string name, string def)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : def;
}
int count = int.Parse(Arg("--count", "20000"), CultureInfo.InvariantCulture);
string dir = Arg("--dir", Path.Combine(Path.GetTempPath(), "postern-bench-queue"));
if (Directory.Exists(dir)) Directory.Delete(dir, true);
Directory.CreateDirectory(dir);
static double RssMb() => Process.GetCurrentProcess().WorkingSet64 / 1048576.0;
static double PeakMb() => Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;

byte[] body = Encoding.ASCII.GetBytes("From: alice@example.org\r\nTo: user@[127.0.0.1]\r\nSubject: bench\r\nMessage-ID: <x@example.org>\r\n\r\n"
    + string.Concat(Enumerable.Repeat("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n", 40)));

if (mode == "deliver")
{
    int port = int.Parse(Arg("--port", "2525"), CultureInfo.InvariantCulture);
    int concurrency = int.Parse(Arg("--concurrency", "64"), CultureInfo.InvariantCulture);
    await using var store = SqliteQueueStore.Open(dir);
    var transport = new DirectTransport(new MxResolver(new DnsResolver()), new DirectTransportOptions { Port = port, Client = new SmtpClientOptions { LocalHostName = "bench.example" } });
    await using var queue = new OutgoingQueue(new QueueOptions
    {
        DataDirectory = dir, MaxConcurrentDeliveries = concurrency, MaxConcurrentPerDomain = concurrency, MaxMessagesPerDay = 0, MaxFirstTimeRecipientsPerDay = 0,
    }, store, transport);
    var sw = Stopwatch.StartNew();
    long next = 0;
    await Parallel.ForEachAsync(Enumerable.Range(0, 64), async (_, ct) =>
    {
        while (Interlocked.Increment(ref next) <= count)
        {
            await queue.EnqueueAsync(new OutgoingMessage("alice", "alice@example.org", [new OutboundRecipient("user@[127.0.0.1]")],
                () => new MemoryStream(body, false), body.Length, false, false, false, null, null, null, 0), ct);
        }
    });
    double enqueueSecs = sw.Elapsed.TotalSeconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"enqueued {count} messages in {enqueueSecs:F1} s: {count / enqueueSecs:F0} msg/s durable, {store.Commits / (double)count:F3} commits per submission"));
    long commitsBefore = store.Commits;
    sw.Restart();
    queue.Start();
    while (true)
    {
        await Task.Delay(200);
        if ((await store.ListAsync(new QueueListFilter(Limit: 1))).Count == 0) break;
        if (sw.Elapsed > TimeSpan.FromMinutes(10)) { Console.WriteLine("timeout"); break; }
    }
    double secs = sw.Elapsed.TotalSeconds;
    var failed = (await store.ListAsync(new QueueListFilter(IncludeFinished: true, Limit: count + 10))).Count(i => i.Delivery.State != DeliveryState.Delivered);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"delivered {count - failed} of {count} to 127.0.0.1:{port} in {secs:F1} s: {(count - failed) / secs:F0} msg/s, concurrency {concurrency}, peak RSS {PeakMb():F0} MB, {(store.Commits - commitsBefore) / (double)count:F2} commits per delivery"));
    await queue.StopAsync();
}
else if (mode == "waiting")
{
    await using var store = SqliteQueueStore.Open(dir);
    string file = "bench";
    File.WriteAllBytes(Path.Combine(store.MessageDirectory, file), body);
    var sw = Stopwatch.StartNew();
    DateTimeOffset later = DateTimeOffset.UtcNow.AddHours(1);
    long next = 0;
    await Parallel.ForEachAsync(Enumerable.Range(0, 32), async (_, ct) =>
    {
        long n;
        while ((n = Interlocked.Increment(ref next)) <= count)
        {
            await store.AddMessageAsync(new NewQueueMessage(null, "alice@example.org", body.Length, 0, null, null, later, file, null,
                [new NewQueueRecipient($"user{n}@d{n % 1000}.example", null, null)]), DateTimeOffset.UtcNow, ct);
        }
    });
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"recorded {count} waiting messages in {sw.Elapsed.TotalSeconds:F1} s ({store.Commits} commits)"));
    GC.Collect();
    await using var queue = new OutgoingQueue(new QueueOptions { DataDirectory = dir }, store, new DirectTransport(new MxResolver(new DnsResolver())));
    queue.Start();
    await Task.Delay(3000);
    var list = await store.ListAsync(new QueueListFilter(Limit: 100));
    await queue.RunDueAsync();
    GC.Collect();
    DateTimeOffset? due = await store.NextDueAsync();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count} messages waiting, worker running: RSS {RssMb():F0} MB (peak {PeakMb():F0} MB), next due {due:u}, list of 100 ok={list.Count == 100}"));
    await queue.StopAsync();
}
else
{
    Console.Error.WriteLine("usage: Postern.Bench.Queue deliver --count N --port P [--concurrency C] [--dir D] | waiting --count N [--dir D]");
    return 2;
}
return 0;
