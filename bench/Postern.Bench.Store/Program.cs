// Store load driver. Every insert is durable (file fsynced, folder fsynced, WAL commit with synchronous=FULL)
// before it counts. Modes:
//   inserts --writers N --seconds S --size BYTES   concurrent single-message appends (IMAP APPEND / delivery)
//   import  --batch B --count C --size BYTES       batch appends from one writer (import)
//   list    --count C                              appends C small messages, then times full listing and SELECT's state listing
//   junk    --mbox FILE                            appends the mbox's messages, marks half $Junk and half $NotJunk, times
//                                                  training from the keywords, then tokenizing and classifying each message
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
        case "junk":
        {
            string mbox = Array.IndexOf(args, "--mbox") is var mi && mi >= 0 ? args[mi + 1] : throw new ArgumentException("--mbox FILE");
            var messages = new List<byte[]>();
            using (var input = File.OpenRead(mbox))
            using (var reader = new Postern.Mail.Mbox.MboxReader(input))
            {
                while (true)
                {
                    var buffer = new MemoryStream();
                    if (reader.ReadNext(buffer) is null) break;
                    messages.Add(buffer.ToArray());
                }
            }
            for (int n = 0; n < messages.Count; n += 500)
            {
                await account.AppendAsync(inbox, messages.Skip(n).Take(500).Select((m, i) =>
                    new NewMessage(MessageSource.FromMemory(m), [], MessageMeta.Empty) { Keywords = (n + i) % 2 == 0 ? ["$Junk"] : ["$NotJunk"] }).ToList());
            }
            var filter = new Postern.Store.Junk.JunkFilter(new Postern.Store.Junk.JunkFilterOptions());
            var sw = Stopwatch.StartNew();
            int trained = await filter.TrainAsync(account);
            double trainSecs = sw.Elapsed.TotalSeconds;
            var totals = await account.JunkWords.GetTotalsAsync();
            foreach (var m in messages.Take(200)) Postern.Store.Junk.JunkTokenizer.Tokenize(m); // warm-up
            sw.Restart();
            long tokens = 0;
            foreach (var m in messages) tokens += Postern.Store.Junk.JunkTokenizer.Tokenize(m).Count;
            double tokenizeSecs = sw.Elapsed.TotalSeconds;
            var tokenSets = messages.Select(m => Postern.Store.Junk.JunkTokenizer.Tokenize(m)).ToList();
            foreach (var t in tokenSets.Take(200)) await account.JunkWords.GetCountsAsync(t); // warm-up
            sw.Restart();
            foreach (var t in tokenSets) await account.JunkWords.GetCountsAsync(t);
            double lookupSecs = sw.Elapsed.TotalSeconds;
            sw.Restart();
            for (int i = 0; i < 5000; i++) await account.JunkWords.GetTotalsAsync();
            double totalsUs = sw.Elapsed.TotalMilliseconds * 1000 / 5000;
            var latencies = new List<double>(messages.Count);
            int junk = 0;
            foreach (var m in messages)
            {
                long t0 = Stopwatch.GetTimestamp();
                var score = await filter.ClassifyAsync(account, m);
                latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                if (score.IsJunk) junk++;
            }
            latencies.Sort();
            double classifySecs = latencies.Sum() / 1000;
            long bytesTotal = messages.Sum(m => (long)m.Length);
            Console.WriteLine(FormattableString.Invariant(
                $"junk messages={messages.Count} avg-bytes={bytesTotal / Math.Max(1, messages.Count)} trained={trained} train-msgs/s={trained / trainSecs:F0} words={totals.Words} tokens/msg={tokens / (double)messages.Count:F0}"));
            Console.WriteLine(FormattableString.Invariant(
                $"junk tokenize-us/msg={tokenizeSecs * 1e6 / messages.Count:F0} lookup-us/msg={lookupSecs * 1e6 / messages.Count:F0} totals-us={totalsUs:F0} classify-msgs/s={messages.Count / classifySecs:F0} classify-p50={latencies[latencies.Count / 2]:F2}ms p99={latencies[(int)(latencies.Count * 0.99)]:F2}ms scored-junk={junk}"));
            break;
        }
        default:
            Console.Error.WriteLine("modes: inserts | import | list | junk");
            return 2;
    }
}
finally
{
    try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
}
return 0;
