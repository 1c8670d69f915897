using System.Text;
using Postern.Store;

namespace Postern.Tests;

public class ImportExportCommandTests
{
    private const string Sep = "From alice@example.org Sat Jan  3 01:05:34 1996\n";

    private static string Msg(int n, string extraHeaders = "", string body = "") =>
        $"From: Alice <alice@example.org>\nTo: bob@example.org\nSubject: message {n}\nMessage-ID: <{n}@example.org>\n{extraHeaders}\nbody {n}\n{body}";

    [Fact]
    public async Task Mbox_import_keeps_bytes_flags_dates_and_unquotes_from_lines()
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        Cli.AddAccount(dir, "alice");
        var mbox = Sep + Msg(1, "Status: RO\nX-Status: AF\nX-Keywords: $Work\n", ">From the start\n>>From quoted\n") + "\n"
            + "From bob@example.org Mon Feb 10 12:00:00 2025\n" + Msg(2) + "\n";
        File.WriteAllText(tmp.Sub("in.mbox"), mbox);
        var r = Cli.Run("import", "mbox", tmp.Sub("in.mbox"), "alice", "--dir", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("imported 2 messages", r.Stdout, StringComparison.Ordinal);

        var inbox = (await Cli.ReadAccountAsync(dir, "alice"))["INBOX"];
        Assert.Equal(2, inbox.Count);
        Assert.Equal(Msg(1, "Status: RO\nX-Status: AF\nX-Keywords: $Work\n", "From the start\n>From quoted\n").Replace("\n", "\r\n"), inbox[0].Text);
        Assert.Equal(SystemFlags.Seen | SystemFlags.Answered | SystemFlags.Flagged, inbox[0].Flags);
        Assert.Equal(["$Work"], inbox[0].Keywords);
        Assert.Equal(new DateTimeOffset(1996, 1, 3, 1, 5, 34, TimeSpan.Zero), inbox[0].InternalDate);
        Assert.Equal(SystemFlags.None, inbox[1].Flags);
        Assert.Equal(new DateTimeOffset(2025, 2, 10, 12, 0, 0, TimeSpan.Zero), inbox[1].InternalDate);
    }

    [Fact]
    public async Task Mbox_variants_mboxo_and_mboxcl2_into_a_named_mailbox()
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        Cli.AddAccount(dir, "alice");
        File.WriteAllText(tmp.Sub("o.mbox"), Sep + Msg(1, body: ">From x\n>>From y\n") + "\n");
        Assert.Equal(0, Cli.Run("import", "mbox", tmp.Sub("o.mbox"), "alice", "Old/Mboxo", "--format", "Mboxo", "--dir", dir).ExitCode);
        var body = "text\n\nFrom someone Sat Jan  3 01:05:34 1996\nstill body\n";
        File.WriteAllText(tmp.Sub("cl2.mbox"), Sep + $"Content-Length: {body.Length}\nSubject: cl2\n\n" + body + "\n" + Sep + "Content-Length: 3\n\nab\n\n");
        Assert.Equal(0, Cli.Run("import", "mbox", tmp.Sub("cl2.mbox"), "alice", "CL", "--format", "Mboxcl2", "--dir", dir).ExitCode);

        var account = await Cli.ReadAccountAsync(dir, "alice");
        Assert.Equal(Msg(1, body: "From x\n>>From y\n").Replace("\n", "\r\n"), Assert.Single(account["Old/Mboxo"]).Text);
        Assert.Equal(2, account["CL"].Count);
        Assert.EndsWith("From someone Sat Jan  3 01:05:34 1996\r\nstill body\r\n", account["CL"][0].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_entries_are_reported_with_position_and_skipped()
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        Cli.AddAccount(dir, "alice");
        var mbox = "this is not a separator\nnor this\n" + Sep + Msg(1) + "\n" + Sep + "\n" + Sep + Msg(3) + "\n" + Sep + "Subject: truncated\n\nhalf a li";
        File.WriteAllText(tmp.Sub("bad.mbox"), mbox);
        var r = Cli.Run("import", "mbox", tmp.Sub("bad.mbox"), "alice", "--dir", dir);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("byte 0 (line 1)", r.Stderr, StringComparison.Ordinal);
        int emptyOffset = Encoding.ASCII.GetByteCount("this is not a separator\nnor this\n" + Sep + Msg(1) + "\n");
        Assert.Contains($"byte {emptyOffset} (line 11): empty message", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("2 malformed entries skipped", r.Stdout, StringComparison.Ordinal);
        var inbox = (await Cli.ReadAccountAsync(dir, "alice"))["INBOX"];
        Assert.Equal(3, inbox.Count);
        Assert.EndsWith("half a li", inbox[2].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Binary_garbage_and_missing_input_give_clear_errors()
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        Cli.AddAccount(dir, "alice");
        var garbage = new byte[2_000_000];
        new Random(1).NextBytes(garbage);
        File.WriteAllBytes(tmp.Sub("garbage.mbox"), garbage);
        var r = Cli.Run("import", "mbox", tmp.Sub("garbage.mbox"), "alice", "--dir", dir);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("not an mbox file", r.Stderr, StringComparison.Ordinal);
        Assert.Empty((await Cli.ReadAccountAsync(dir, "alice"))["INBOX"]);

        var missing = Cli.Run("import", "mbox", tmp.Sub("nope.mbox"), "alice", "--dir", dir);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("no such file", missing.Stderr, StringComparison.Ordinal);

        File.WriteAllText(tmp.Sub("ok.mbox"), Sep + Msg(1));
        var noAccount = Cli.Run("import", "mbox", tmp.Sub("ok.mbox"), "nobody", "--dir", dir);
        Assert.Equal(1, noAccount.ExitCode);
        Assert.Contains("account nobody not found", noAccount.Stderr, StringComparison.Ordinal);

        var notMaildir = Cli.Run("import", "maildir", tmp.Path, "alice", "--dir", dir);
        Assert.Equal(1, notMaildir.ExitCode);
        Assert.Contains("not a maildir", notMaildir.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Maildir_import_reads_flags_keywords_subfolders_and_order()
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        Cli.AddAccount(dir, "alice");
        var md = tmp.Sub("Maildir");
        foreach (var sub in new[] { "cur", "new", "tmp", ".Lists.dev/cur", ".Lists.dev/new", ".Caf&AOk-/cur" })
            Directory.CreateDirectory(Path.Combine(md, sub));
        File.WriteAllText(Path.Combine(md, "dovecot-keywords"), "0 $Work\n1 Later\n");
        File.WriteAllText(Path.Combine(md, "cur", "1700000002.M2P1.host,S=10:2,FRSab"), Msg(2));
        File.WriteAllText(Path.Combine(md, "cur", "1700000001.M1P1.host:2,DPT"), Msg(1));
        File.WriteAllText(Path.Combine(md, "new", "1700000003.M3P1.host"), Msg(3));
        File.WriteAllText(Path.Combine(md, "tmp", "1700000004.M4P1.host"), Msg(4));
        File.WriteAllText(Path.Combine(md, ".Lists.dev", "cur", "1.x:2,S"), Msg(5));
        File.WriteAllText(Path.Combine(md, ".Caf&AOk-", "cur", "1.y:2,"), Msg(6));
        File.SetLastWriteTimeUtc(Path.Combine(md, "new", "1700000003.M3P1.host"), new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        File.WriteAllText(Path.Combine(md, "cur", "1700000009.empty:2,S"), "");

        var r = Cli.Run("import", "maildir", md, "alice", "--dir", dir);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("1700000009.empty:2,S: empty file", r.Stderr, StringComparison.Ordinal);

        var account = await Cli.ReadAccountAsync(dir, "alice");
        var inbox = account["INBOX"];
        Assert.Equal(3, inbox.Count);
        Assert.Equal(Msg(1).Replace("\n", "\r\n"), inbox[0].Text);
        Assert.Equal(SystemFlags.Draft | SystemFlags.Deleted, inbox[0].Flags);
        Assert.Equal(["$Forwarded"], inbox[0].Keywords);
        Assert.Equal(SystemFlags.Flagged | SystemFlags.Answered | SystemFlags.Seen, inbox[1].Flags);
        Assert.Equal(["$Work", "Later"], inbox[1].Keywords);
        Assert.Equal(SystemFlags.None, inbox[2].Flags);
        Assert.Equal(new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero), inbox[2].InternalDate);
        Assert.Equal(Msg(5).Replace("\n", "\r\n"), Assert.Single(account["Lists/dev"]).Text);
        Assert.Single(account["Café"]);
    }

    public static TheoryData<string> Formats => new() { "mbox", "maildir" };

    [Theory]
    [MemberData(nameof(Formats))]
    public async Task Round_trip_import_export_import_is_lossless(string format)
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        Cli.AddAccount(dir, "first");
        Cli.AddAccount(dir, "second");
        var sb = new StringBuilder();
        var rnd = new Random(42);
        string[] nasty = [">From a\n", "From b\n", ">>>From c\n", "Status: RO\n", "X-Postern-Mbox: v1\n", "\n", "\n\n", "line with bare\rcr\n", "tab\tline\n"];
        for (int i = 0; i < 60; i++)
        {
            string flags = (i % 4) switch { 0 => "", 1 => "Status: RO\n", 2 => "Status: R\nX-Status: AFD\nX-Keywords: $Label1 k" + i + "\n", _ => "X-Status: T\n" };
            var body = string.Concat(Enumerable.Range(0, rnd.Next(0, 8)).Select(_ => nasty[rnd.Next(nasty.Length)]));
            sb.Append($"From x@y Sat Jan  3 01:{i:00}:34 1996\n").Append(Msg(i, flags, body)).Append('\n');
        }
        sb.Append("From x@y Sat Jan  3 02:00:00 1996\nSubject: no final newline\n\nend");
        File.WriteAllText(tmp.Sub("in.mbox"), sb.ToString());
        Assert.Equal(0, Cli.Run("import", "mbox", tmp.Sub("in.mbox"), "first", "--dir", dir).ExitCode);
        File.WriteAllText(tmp.Sub("in2.mbox"), "From x@y Sat Jan  3 01:05:34 1996\nSubject: other\n\nbody\n");
        Assert.Equal(0, Cli.Run("import", "mbox", tmp.Sub("in2.mbox"), "first", "Lists/dev.null", "--dir", dir).ExitCode);

        var export = Cli.Run("export", format, "first", tmp.Sub("out"), "--dir", dir);
        Assert.True(export.ExitCode == 0, export.Stderr);
        var reimport = format == "mbox"
            ? Cli.Run("import", "mbox", tmp.Sub("out"), "second", "--dir", dir)
            : Cli.Run("import", "maildir", tmp.Sub("out"), "second", "--dir", dir);
        Assert.True(reimport.ExitCode == 0, reimport.Stderr);

        var first = await Cli.ReadAccountAsync(dir, "first");
        var second = await Cli.ReadAccountAsync(dir, "second");
        Assert.Equal(first.Keys.Order(StringComparer.Ordinal), second.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(61, first["INBOX"].Count);
        foreach (var (name, messages) in first)
        {
            Assert.Equal(messages.Count, second[name].Count);
            for (int i = 0; i < messages.Count; i++)
            {
                Assert.Equal(messages[i].Text, second[name][i].Text);
                Assert.Equal(messages[i].FlagText, second[name][i].FlagText);
                Assert.Equal(messages[i].InternalDate, second[name][i].InternalDate);
            }
        }
    }

    [Fact]
    public void Export_refuses_a_non_empty_destination()
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        Cli.AddAccount(dir, "alice");
        Directory.CreateDirectory(tmp.Sub("out"));
        File.WriteAllText(tmp.Sub("out/x"), "x");
        var r = Cli.Run("export", "mbox", "alice", tmp.Sub("out"), "--dir", dir);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("not an empty folder", r.Stderr, StringComparison.Ordinal);
    }
}
