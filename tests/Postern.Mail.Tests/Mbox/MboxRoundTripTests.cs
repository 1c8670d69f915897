using System.Text;
using Postern.Mail.Mbox;

namespace Postern.Mail.Tests.Mbox;

public class MboxRoundTripTests
{
    private static readonly DateTimeOffset When = new(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static List<(MboxEntry Entry, byte[] Bytes)> RoundTrip(IEnumerable<(byte[] Message, string[] Flags)> messages)
    {
        var file = new MemoryStream();
        using (var writer = new MboxWriter(file, leaveOpen: true))
        {
            foreach (var (m, f) in messages)
                writer.WriteMessage(m, "sender@example.org", When, f);
        }
        file.Position = 0;
        var result = new List<(MboxEntry, byte[])>();
        using var reader = new MboxReader(file);
        while (true)
        {
            var dest = new MemoryStream();
            var e = reader.ReadNext(dest);
            if (e is null)
                return result;
            result.Add((e, dest.ToArray()));
        }
    }

    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    [Fact]
    public void Writer_output_has_separator_flag_block_and_quoting()
    {
        var file = new MemoryStream();
        using (var writer = new MboxWriter(file, leaveOpen: true))
            writer.WriteMessage(B("S: x\r\n\r\nFrom me\r\n>From you\r\n"), "a@b", When, ["\\Seen", "\\Answered", "$Work"]);
        var text = Encoding.ASCII.GetString(file.ToArray());
        Assert.Equal(
            "From a@b Mon May  6 07:08:09 2024\n" +
            "X-Postern-Mbox: v1\nStatus: RO\nX-Status: A\nX-Keywords: $Work\n" +
            "S: x\n\n>From me\n>>From you\n\n", text);
    }

    [Fact]
    public void Nasty_messages_survive_byte_for_byte_with_flags()
    {
        var messages = new (byte[], string[])[]
        {
            (B("Subject: a\r\n\r\nbody\r\n"), ["\\Seen"]),
            (B("Subject: no final newline\r\n\r\nbody"), ["\\Flagged", "\\Draft", "\\Deleted"]),
            (B("Subject: trailing blanks\r\n\r\nbody\r\n\r\n\r\n"), []),
            (B("From x@y Sat Jan  3 01:05:34 1996\r\nSubject: starts with From\r\n\r\n>From\r\n>>>From z\r\nFrom \r\n"), ["kw1", "kw2"]),
            (B("X-Postern-Mbox: v1\r\nStatus: O\r\nX-Status: F\r\nX-Keywords: fake\r\nSubject: own block\r\n\r\nb\r\n"), ["\\Answered"]),
            (B(" starts with space\r\nStatus: R\r\n\r\nb\r\n"), []),
            (B("Subject: cr\r\n\r\nbare\rcr\r\r\n\r"), ["\\Seen"]),
            (B("\r\n\r\nonly body\r\n"), []),
            (B("Subject: binary \0\x01\xff\r\n\r\n\0\0\r\n"), []),
            (B("Status: R\r\nX-Status: AFTD\r\nSubject: stale flags\r\n\r\nb\r\n"), ["$Other"]),
        };
        var read = RoundTrip(messages);
        Assert.Equal(messages.Length, read.Count);
        for (int i = 0; i < messages.Length; i++)
        {
            Assert.Null(read[i].Entry.Problem);
            Assert.Equal(Encoding.Latin1.GetString(messages[i].Item1), Encoding.Latin1.GetString(read[i].Bytes));
            Assert.Equal(messages[i].Item2.OrderBy(f => f, StringComparer.Ordinal), read[i].Entry.Flags.OrderBy(f => f, StringComparer.Ordinal));
            Assert.True(read[i].Entry.FlagsWrittenByPostern);
            Assert.Equal("sender@example.org", read[i].Entry.EnvelopeSender);
            Assert.Equal(When, read[i].Entry.EnvelopeDate);
        }
    }

    [Fact]
    public void Random_messages_survive_byte_for_byte()
    {
        var rnd = new Random(12345);
        string[] pieces = ["From ", ">From ", ">>From ", "From x Sat Jan  3 01:05:34 1996", "\r\n", "\r\n", "\r\n", "a", "Status: RO", "X-Postern-Mbox: v1", ">", " ", "\r", "\t", "F", "rom", "\r\n\r\n"];
        var messages = new List<(byte[], string[])>();
        for (int i = 0; i < 400; i++)
        {
            var sb = new StringBuilder("S: ");
            int n = rnd.Next(1, 40);
            for (int j = 0; j < n; j++)
                sb.Append(pieces[rnd.Next(pieces.Length)]);
            // Stored messages use CRLF only: a bare LF is not something a stored message holds.
            var text = sb.ToString().Replace("\r\n", "\n").Replace("\n", "\r\n");
            string[] flags = rnd.Next(3) switch { 0 => [], 1 => ["\\Seen"], _ => ["\\Seen", "\\Flagged", "k" + i] };
            messages.Add((B(text), flags));
        }
        var read = RoundTrip(messages);
        Assert.Equal(messages.Count, read.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            Assert.Equal(Encoding.Latin1.GetString(messages[i].Item1), Encoding.Latin1.GetString(read[i].Bytes));
            Assert.Equal(messages[i].Item2.Length, read[i].Entry.Flags.Count);
        }
    }

    [Fact]
    public void Block_lookalike_with_other_names_is_kept_as_message_content()
    {
        var mbox = "From a@b Sat Jan  3 01:05:34 1996\nX-Postern-Mbox: v1\nStatus: RO\nX-Other: A\nX-Keywords: k\nS: x\n\nb\n";
        var e = MboxTestData.ReadAll(mbox).Single();
        Assert.False(e.Entry.FlagsWrittenByPostern);
        Assert.StartsWith("X-Postern-Mbox: v1\r\nStatus: RO\r\nX-Other: A\r\n", e.Text, StringComparison.Ordinal);
        Assert.Equal(new[] { "\\Seen", "k" }, e.Entry.Flags);
    }
}
