// Writes to a store until killed. After each append has returned (durable), prints
// "A <uid> <n> ." where message n's body names n; the crash test checks every printed
// UID survives a SIGKILL at any moment. Appends mix single, batch (MULTIAPPEND) and
// streamed messages from several concurrent writers, with flag changes and copies between.
using System.Globalization;
using System.Text;
using Postern.Store;
using Postern.Store.Sqlite;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Postern.Store.CrashHost <data-dir> [writers]");
    return 2;
}
string dir = args[0];
int writers = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4;
var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true };
var outLock = new Lock();

await using var store = SqliteMailStore.Open(dir);
if (await store.Directory.GetAccountAsync("crash") is null) await store.Directory.CreateAccountAsync("crash");
await using var account = await store.OpenAccountAsync("crash");
long inbox = (await account.GetMailboxAsync("INBOX"))!.Id;
long archive = (await account.GetMailboxAsync("Archive"))!.Id;
long counter = (await account.GetMailboxAsync(inbox))!.UidNext * 1000L;

static byte[] Body(long n, int size)
{
    var sb = new StringBuilder();
    sb.Append(CultureInfo.InvariantCulture, $"Subject: crash {n}\r\nMessage-ID: <{n}@crash>\r\n\r\n");
    while (sb.Length < size) sb.Append("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n");
    return Encoding.ASCII.GetBytes(sb.ToString());
}

NewMessage Message(long n, int size) =>
    new(MessageSource.FromMemory(Body(n, size)), [1], new MessageMeta { MessageId = $"<{n}@crash>", Subject = $"crash {n}" });

void Printed(AppendResult r, long[] ns)
{
    lock (outLock)
    {
        for (int i = 0; i < ns.Length; i++) stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"A {r.Uids[i]} {ns[i]} ."));
    }
}

async Task WriterAsync(int seed)
{
    var rnd = new Random(seed);
    while (true)
    {
        int kind = rnd.Next(10);
        if (kind <= 5)
        {
            long n = Interlocked.Increment(ref counter);
            Printed(await account.AppendAsync(inbox, [Message(n, rnd.Next(200, 20_000))]), [n]);
        }
        else if (kind <= 7)
        {
            long[] ns = [Interlocked.Increment(ref counter), Interlocked.Increment(ref counter), Interlocked.Increment(ref counter)];
            Printed(await account.AppendAsync(inbox, ns.Select(n => Message(n, rnd.Next(200, 5_000))).ToList()), ns);
        }
        else if (kind == 8)
        {
            long n = Interlocked.Increment(ref counter);
            await using var tmp = account.CreateTempFile();
            var body = Body(n, 200_000);
            for (int off = 0; off < body.Length; off += 8192) await tmp.Stream.WriteAsync(body.AsMemory(off, Math.Min(8192, body.Length - off)));
            Printed(await account.AppendAsync(inbox, [new NewMessage(MessageSource.FromTempFile(tmp), [2], MessageMeta.Empty)]), [n]);
        }
        else
        {
            var mb = (await account.GetMailboxAsync(inbox))!;
            if (mb.UidNext <= 1) continue;
            uint uid = (uint)rnd.Next(1, (int)mb.UidNext);
            await account.StoreFlagsAsync(inbox, UidSet.Range(uid, uid + 5), new FlagChange(FlagOperation.Add, SystemFlags.Seen, ["k" + rnd.Next(5).ToString(CultureInfo.InvariantCulture)]));
            await account.CopyAsync(inbox, UidSet.Of(uid), archive);
        }
    }
}

lock (outLock) stdout.WriteLine("READY");
await Task.WhenAll(Enumerable.Range(0, writers).Select(i => Task.Run(() => WriterAsync(Environment.ProcessId * 31 + i))));
return 0;
