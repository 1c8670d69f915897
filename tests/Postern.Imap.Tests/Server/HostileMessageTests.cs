using System.Text;
using Postern.Tests.Shared;

namespace Postern.Imap.Tests.Server;

/// <summary>
/// A mailbox full of mutated real-world messages (the Mail corpus with bytes changed: broken MIME,
/// bad base64 and quoted-printable, odd charsets, truncated parts) appended over IMAP, then fetched,
/// searched, sorted and threaded: every command gets a tagged OK or NO, none fails inside the server.
/// </summary>
public class HostileMessageTests
{
    private static readonly byte[][] Corpus = Mutations.Corpus();

    [Fact]
    public async Task Fetch_search_sort_and_thread_work_on_a_mailbox_of_hostile_messages()
    {
        var errors = new ErrorLog();
        await using var s = await TestServer.StartAsync(logger: errors);
        await using var c = await s.ConnectAsync();
        await c.ExpectOkAsync("ENABLE UTF8=ACCEPT");
        int appended = 0;
        foreach (byte[] message in Mutations.Sample(Corpus, Mutations.Runs(150), seed: 8))
        {
            string tag = c.NextTag();
            await c.WriteAsync(Encoding.ASCII.GetBytes($"{tag} APPEND INBOX ~{{{message.Length}+}}\r\n"));
            await c.WriteAsync([.. message, .. "\r\n"u8]);
            string result = (await c.ReadUntilTaggedAsync(tag))[^1];
            Assert.Matches($"^{tag} (OK|NO) ", result);
            if (result.StartsWith(tag + " OK", StringComparison.Ordinal)) appended++;
        }
        Assert.True(appended > 0);
        await c.ExpectOkAsync("SELECT INBOX");
        string[] commands =
        [
            "FETCH 1:* (BODYSTRUCTURE ENVELOPE PREVIEW RFC822.SIZE BINARY.SIZE[1] FLAGS)",
            "FETCH 1:* (BINARY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[HEADER.FIELDS (From Subject)] BODY.PEEK[TEXT]<0.100>)",
            "FETCH 1:* (BINARY.PEEK[2] BODY.PEEK[2.1] BINARY.PEEK[1.1] BODY.PEEK[1.HEADER])",
            "UID SEARCH TEXT \"lorem\"",
            "SEARCH CHARSET UTF-8 OR HEADER Subject \"ü\" BODY \"日本\"",
            "SEARCH FROM \"example\" NOT TO \"nobody\" LARGER 10",
            "SORT (SUBJECT FROM ARRIVAL DATE) UTF-8 ALL",
            "THREAD REFERENCES UTF-8 ALL",
            "THREAD ORDEREDSUBJECT UTF-8 ALL",
        ];
        foreach (string command in commands)
        {
            List<string> lines = await c.CommandAsync(command);
            Assert.True(lines[^1].Split(' ')[1] is "OK" or "NO", $"{command} -> {lines[^1]}");
        }
        Assert.Empty(errors.Errors);
    }
}
