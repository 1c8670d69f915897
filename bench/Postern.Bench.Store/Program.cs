// Store load driver. Every insert is durable (file fsynced, folder fsynced, WAL commit with synchronous=FULL)
// before it counts. Modes:
//   inserts --writers N --seconds S --size BYTES   concurrent single-message appends (IMAP APPEND / delivery)
//   import  --batch B --count C --size BYTES       batch appends from one writer (import)
//   list    --count C                              appends C small messages, then times full listing and SELECT's state listing
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Postern.Store;
using Postern.Store.Sqlite;

string mode = args.Length > 0 ? args[0] : "inserts";
int Arg(string name, int def)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : def;
}
string dirArg = Array.IndexOf(args, "--dir") is var di && di >= 0 ? args[di + 1] : Path.Combine(Path.GetTempPath(), "postern-bench-store");
string dir = Path.Combine(dirArg, Guid.NewGuid().ToString("N"));

int size = Arg("--size", 10 * 1024);
var body = new StringBuilder("From: bench@example.org\r\nSubject: benchmark\r\n\r\n");
while (body.Length < size) body.Append("The quick brown fox jumps over the lazy dog 0123456789.\r\n");
byte[] bytes = Encoding.ASCII.GetBytes(body.ToString()[..size]);
NewMessage Msg() => new(MessageSource.FromMemory(bytes), new byte[64], new MessageMeta { Subject = "benchmark", MessageId = "<bench@example.org>" });

try
{
    await using var store = SqliteMailStore.Open(dir);
    await store.Directory.CreateAccountAsync("bench");
    await using var account = await store.OpenAccountAsync("bench");
    long inbox = (await account.GetMailboxAsync("INBOX"))!.Id;
    switch (mode)
    {
        case "inserts":
        {
            int writers = Arg("--writers", 1);
            int seconds = Arg("--seconds", 10);
            long done = 0;
            var sw = Stopwatch.StartNew();
            var until = TimeSpan.FromSeconds(seconds);
            var latencies = new List<double>[writers];
            await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
            {
                var lat = latencies[w] = [];
                while (sw.Elapsed < until)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    await account.AppendAsync(inbox, [Msg()]);
                    lat.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    Interlocked.Increment(ref done);
                }
            })));
            double secs = sw.Elapsed.TotalSeconds;
            var all = latencies.SelectMany(l => l).Order().ToArray();
            Console.WriteLine(FormattableString.Invariant(
                $"inserts writers={writers} size={size} count={done} seconds={secs:F1} inserts/s={done / secs:F0} p50={all[all.Length / 2]:F1}ms p99={all[(int)(all.Length * 0.99)]:F1}ms"));
            break;
        }
        case "import":
        {
            int batch = Arg("--batch", 100);
            int count = Arg("--count", 5000);
            var sw = Stopwatch.StartNew();
            for (int n = 0; n < count; n += batch)
            {
                await account.AppendAsync(inbox, Enumerable.Range(0, Math.Min(batch, count - n)).Select(_ => Msg()).ToList());
            }
            double secs = sw.Elapsed.TotalSeconds;
            Console.WriteLine(FormattableString.Invariant($"import batch={batch} size={size} count={count} seconds={secs:F1} msgs/s={count / secs:F0}"));
            break;
        }
        case "list":
        {
            int count = Arg("--count", 100_000);
            var small = Encoding.ASCII.GetBytes("Subject: x\r\n\r\nx\r\n");
            for (int n = 0; n < count; n += 1000)
            {
                await account.AppendAsync(inbox, Enumerable.Range(0, Math.Min(1000, count - n))
                    .Select(i => new NewMessage(MessageSource.FromMemory(small), [], MessageMeta.Empty) { Flags = i % 3 == 0 ? SystemFlags.Seen : SystemFlags.None, Keywords = i % 10 == 0 ? ["$label1"] : [] }).ToList());
            }
            await account.ListMessagesAsync(inbox); // warm up
            var times = new List<double>();
            for (int i = 0; i < 5; i++)
            {
                var sw = Stopwatch.StartNew();
                var list = await account.ListMessagesAsync(inbox);
                times.Add(sw.Elapsed.TotalMilliseconds);
                if (list.Count != count) throw new InvalidOperationException("wrong count");
            }
            var stateTimes = new List<double>();
            for (int i = 0; i < 5; i++)
            {
                var sw = Stopwatch.StartNew();
                var list = await account.ListMessageStatesAsync(inbox);
                stateTimes.Add(sw.Elapsed.TotalMilliseconds);
                if (list.Count != count) throw new InvalidOperationException("wrong count");
            }
            var swm = Stopwatch.StartNew();
            await account.GetMailboxAsync(inbox);
            double mbMs = swm.Elapsed.TotalMilliseconds;
            Console.WriteLine(FormattableString.Invariant($"list count={count} list-ms(best of 5)={times.Min():F1} median={times.Order().ElementAt(2):F1} states-ms(best of 5)={stateTimes.Min():F1} median={stateTimes.Order().ElementAt(2):F1} mailbox-status-ms={mbMs:F2}"));
            break;
        }
        default:
            Console.Error.WriteLine("modes: inserts | import | list");
            return 2;
    }
}
finally
{
    try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
}
return 0;
