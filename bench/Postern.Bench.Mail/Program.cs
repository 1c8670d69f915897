// Parse-rate benchmark for Postern.Mail: parses the test corpus and a synthetic set of
// larger messages repeatedly on one thread and prints MB/s (1 MB = 10^6 bytes).
// Usage: Postern.Bench.Mail [corpus-dir] [seconds-per-set]
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Postern.Mail;

string corpusDir = args.Length > 0 ? args[0] : FindCorpus();
double seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 3;

var corpus = Directory.EnumerateFiles(corpusDir, "*.eml", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
var synthetic = Synthetic();

Console.WriteLine($"Postern.Mail parse benchmark, one thread, {seconds}s per set, .NET {Environment.Version}");
Run("corpus (" + corpus.Count + " files)", corpus, seconds, chunk: 0);
Run("synthetic (" + synthetic.Count + " messages)", synthetic, seconds, chunk: 0);
Run("synthetic, fed in 64 KiB chunks", synthetic, seconds, chunk: 64 * 1024);
Run("corpus + synthetic", corpus.Concat(synthetic).ToList(), seconds, chunk: 0);

static void Run(string name, List<byte[]> messages, double seconds, int chunk)
{
    long total = messages.Sum(m => (long)m.Length);
    // Warm up for a second so tiered JIT reaches optimised code before measuring.
    var warm = Stopwatch.StartNew();
    while (warm.Elapsed.TotalSeconds < 1) ParseAll(messages, chunk);
    var sw = Stopwatch.StartNew();
    long bytes = 0;
    int rounds = 0;
    while (sw.Elapsed.TotalSeconds < seconds)
    {
        ParseAll(messages, chunk);
        bytes += total;
        rounds++;
    }
    sw.Stop();
    double mbps = bytes / 1e6 / sw.Elapsed.TotalSeconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-40} {total / 1e6,8:F2} MB x {rounds,5} rounds: {mbps,8:F0} MB/s"));
}

static int ParseAll(List<byte[]> messages, int chunk)
{
    int parts = 0;
    foreach (var m in messages)
    {
        MessageStructure s;
        if (chunk == 0) s = MessageStructure.Parse(m);
        else
        {
            var p = new MessageParser();
            for (int i = 0; i < m.Length; i += chunk) p.Append(m.AsSpan(i, Math.Min(chunk, m.Length - i)));
            s = p.Complete();
        }
        parts += s.Root.Children.Count;
    }
    return parts;
}

// Larger messages typical of a mailbox: attachments (base64), HTML newsletters, threads.
static List<byte[]> Synthetic()
{
    var rnd = new Random(42);
    var list = new List<byte[]>();
    for (int n = 0; n < 40; n++)
    {
        var sb = new StringBuilder();
        sb.Append("From: \"Sender ").Append(n).Append("\" <sender").Append(n).Append("@example.com>\r\n");
        sb.Append("To: a@example.org, =?utf-8?q?B=C3=B6b?= <b@example.org>\r\nSubject: =?utf-8?b?w6RiYw==?= message ").Append(n).Append("\r\n");
        sb.Append("Date: Mon, 3 Jun 2024 10:11:12 +0200\r\nMessage-ID: <").Append(n).Append("@example.com>\r\nMIME-Version: 1.0\r\n");
        for (int h = 0; h < 15; h++) sb.Append("Received: from host").Append(h).Append(".example.net by mx.example.com; Mon, 3 Jun 2024 10:11:12 +0200\r\n");
        sb.Append("Content-Type: multipart/mixed; boundary=\"outer-").Append(n).Append("\"\r\n\r\n");
        sb.Append("--outer-").Append(n).Append("\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
        for (int l = 0; l < 200; l++) sb.Append("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod =C3=A4 tempor\r\n");
        sb.Append("--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n");
        for (int l = 0; l < 400; l++) sb.Append("<p style=\"margin:0\">Lorem ipsum dolor sit amet, <b>consectetur</b> adipiscing elit</p>\r\n");
        sb.Append("--alt--\r\n");
        int attachments = n % 4;
        for (int a = 0; a < attachments; a++)
        {
            sb.Append("--outer-").Append(n).Append("\r\nContent-Type: application/pdf; name=\"file").Append(a).Append(".pdf\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"file").Append(a).Append(".pdf\"\r\n\r\n");
            var data = new byte[rnd.Next(100_000, 2_000_000)];
            rnd.NextBytes(data);
            sb.Append(Convert.ToBase64String(data, Base64FormattingOptions.InsertLineBreaks)).Append("\r\n");
        }
        sb.Append("--outer-").Append(n).Append("--\r\n");
        list.Add(Encoding.UTF8.GetBytes(sb.ToString()));
    }
    return list;
}

static string FindCorpus()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null)
    {
        var c = Path.Combine(dir.FullName, "tests", "Postern.Mail.Tests", "Corpus");
        if (Directory.Exists(c)) return c;
        dir = dir.Parent;
    }
    throw new DirectoryNotFoundException("Corpus not found; pass the corpus directory as the first argument.");
}
