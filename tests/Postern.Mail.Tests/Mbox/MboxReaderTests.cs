using System.Text;
using Postern.Mail.Mbox;
using static Postern.Mail.Tests.Mbox.MboxTestData;

namespace Postern.Mail.Tests.Mbox;

public class MboxReaderTests
{
    private const string Sep1 = "From alice@example.org Sat Jan  3 01:05:34 1996\n";
    private const string Sep2 = "From bob@example.org Mon Feb 10 12:00:00 2025\n";

    [Fact]
    public void Reads_messages_with_crlf_and_separator_data()
    {
        var entries = ReadAll(Sep1 + "Subject: one\n\nbody 1\n\n" + Sep2 + "Subject: two\n\nbody 2\n\n");
        Assert.Equal(2, entries.Count);
        Assert.Equal("Subject: one\r\n\r\nbody 1\r\n", entries[0].Text);
        Assert.Equal("Subject: two\r\n\r\nbody 2\r\n", entries[1].Text);
        Assert.Equal("alice@example.org", entries[0].Entry.EnvelopeSender);
        Assert.Equal(new DateTimeOffset(1996, 1, 3, 1, 5, 34, TimeSpan.Zero), entries[0].Entry.EnvelopeDate);
        Assert.Equal(0, entries[0].Entry.Offset);
        Assert.Equal(1, entries[0].Entry.Line);
        Assert.Equal(Sep1.Length + "Subject: one\n\nbody 1\n\n".Length, entries[1].Entry.Offset);
        Assert.Equal(6, entries[1].Entry.Line);
        Assert.All(entries, e => Assert.Null(e.Entry.Problem));
        Assert.Equal(entries[0].Text.Length, entries[0].Entry.Length);
    }

    [Fact]
    public void Line_endings_can_be_kept()
    {
        var entries = ReadAll(Sep1 + "A: b\r\n\nbody\n\n", new MboxReadOptions { ConvertLineEndingsToCrlf = false });
        Assert.Equal("A: b\r\n\nbody\n", entries.Single().Text);
    }

    [Fact]
    public void Mboxrd_removes_one_quote_level()
    {
        var entries = ReadAll(Sep1 + "S: x\n\n>From here\n>>From there\n>>>From far\n>Fromage\n> From\n\n");
        Assert.Equal("S: x\r\n\r\nFrom here\r\n>From there\r\n>>From far\r\n>Fromage\r\n> From\r\n", entries.Single().Text);
    }

    [Fact]
    public void Mboxo_removes_only_a_single_quote()
    {
        var entries = ReadAll(Sep1 + "S: x\n\n>From here\n>>From there\n\n", new MboxReadOptions { Format = MboxFormat.Mboxo });
        Assert.Equal("S: x\r\n\r\nFrom here\r\n>>From there\r\n", entries.Single().Text);
    }

    [Fact]
    public void Body_line_starting_with_From_without_a_date_is_not_a_separator()
    {
        var entries = ReadAll(Sep1 + "S: x\n\nhello\n\nFrom my point of view, this is fine.\n\n" + Sep2 + "S: y\n\nz\n");
        Assert.Equal(2, entries.Count);
        Assert.Contains("From my point of view", entries[0].Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("From a@b Sat Jan  3 01:05:34 1996", 1996, 1, 3, 1, 5, 34, 0)]
    [InlineData("From a@b Sat Jan 3 01:05 +0200 1996", 1996, 1, 3, 1, 5, 0, 2)]
    [InlineData("From a@b Sat Jan  3 01:05:34 1996 -0100", 1996, 1, 3, 1, 5, 34, -1)]
    [InlineData("From a@b Sat, 3 Jan 1996 01:05:34 +0000", 1996, 1, 3, 1, 5, 34, 0)]
    [InlineData("From  Sat Jan  3 01:05:34 1996", 1996, 1, 3, 1, 5, 34, 0)]
    [InlineData("From MAILER-DAEMON Fri Jul  8 12:08:34 2011 remote from host", 2011, 7, 8, 12, 8, 34, 0)]
    public void Separator_dates_in_common_shapes(string line, int y, int mo, int d, int h, int mi, int s, int zoneHours)
    {
        Assert.True(MboxFromLine.TryParse(Encoding.ASCII.GetBytes(line), true, out _, out var date));
        Assert.Equal(new DateTimeOffset(y, mo, d, h, mi, s, TimeSpan.FromHours(zoneHours)), date);
    }

    [Fact]
    public void Crlf_mbox_is_read()
    {
        var entries = ReadAll(Sep1.Replace("\n", "\r\n") + "S: x\r\n\r\nbody\r\n\r\n" + Sep2.Replace("\n", "\r\n") + "S: y\r\n\r\nz\r\n\r\n");
        Assert.Equal(2, entries.Count);
        Assert.Equal("S: x\r\n\r\nbody\r\n", entries[0].Text);
        Assert.Equal("S: y\r\n\r\nz\r\n", entries[1].Text);
    }

    [Fact]
    public void Truncated_file_without_final_newline_keeps_the_partial_message()
    {
        var entries = ReadAll(Sep1 + "S: x\n\nbody\n\n" + Sep2 + "S: y\n\ntrunc");
        Assert.Equal(2, entries.Count);
        Assert.Equal("S: y\r\n\r\ntrunc", entries[1].Text);
        Assert.Null(entries[1].Entry.Problem);
    }

    [Fact]
    public void Missing_blank_line_before_separator_is_tolerated()
    {
        var entries = ReadAll(Sep1 + "S: x\n\nbody\n" + Sep2 + "S: y\n\nz\n");
        Assert.Equal("S: x\r\n\r\nbody\r\n", entries[0].Text);
    }

    [Fact]
    public void Data_before_first_separator_is_reported_and_the_rest_read()
    {
        var entries = ReadAll("garbage line\nmore\n\n" + Sep1 + "S: x\n\nbody\n");
        Assert.Equal(2, entries.Count);
        Assert.NotNull(entries[0].Entry.Problem);
        Assert.Contains("before the first", entries[0].Entry.Problem, StringComparison.Ordinal);
        Assert.Equal(0, entries[0].Entry.Offset);
        Assert.Null(entries[1].Entry.Problem);
        Assert.Equal(4, entries[1].Entry.Line);
        Assert.Equal("S: x\r\n\r\nbody\r\n", entries[1].Text);
    }

    [Fact]
    public void Binary_garbage_is_reported_as_not_an_mbox()
    {
        var rnd = new Random(7);
        var garbage = new byte[3_000_000];
        rnd.NextBytes(garbage);
        garbage[0] = 0;
        var entries = ReadAll(garbage);
        var e = Assert.Single(entries);
        Assert.Contains("not an mbox file", e.Entry.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_file_has_no_entries() => Assert.Empty(ReadAll(""));

    [Fact]
    public void Empty_message_is_reported_with_its_position()
    {
        var entries = ReadAll(Sep1 + "\n" + Sep2 + "S: y\n\nz\n");
        Assert.Equal(2, entries.Count);
        Assert.Equal("empty message", entries[0].Entry.Problem);
        Assert.Equal(1, entries[0].Entry.Line);
        Assert.Null(entries[1].Entry.Problem);
        Assert.Equal(3, entries[1].Entry.Line);
    }

    [Fact]
    public void Foreign_flag_fields_are_read_and_kept()
    {
        var msg = "Subject: f\nStatus: RO\nX-Status: AF\nX-Keywords: $Label1, work\n\nbody\n";
        var e = ReadAll(Sep1 + msg + "\n").Single();
        Assert.Equal(new[] { "\\Seen", "\\Answered", "\\Flagged", "$Label1", "work" }, e.Entry.Flags);
        Assert.False(e.Entry.FlagsWrittenByPostern);
        Assert.Equal(msg.Replace("\n", "\r\n"), e.Text);
    }

    [Fact]
    public void Mozilla_status_is_read()
    {
        var e = ReadAll(Sep1 + "X-Mozilla-Status: 0005\nX-Mozilla-Keys: $label2\n\nb\n").Single();
        Assert.Equal(new[] { "\\Seen", "\\Flagged", "$label2" }, e.Entry.Flags);
    }

    [Fact]
    public void Flag_fields_in_the_body_are_ignored()
    {
        var e = ReadAll(Sep1 + "Subject: s\n\nStatus: RO\n").Single();
        Assert.Empty(e.Entry.Flags);
    }

    [Fact]
    public void Mboxcl2_uses_content_length_and_keeps_unquoted_from_lines()
    {
        var body = "line\n\nFrom x@y Sat Jan  3 01:05:34 1996\nmore\n";
        var mbox = Sep1 + $"Content-Length: {Encoding.ASCII.GetByteCount(body)}\nS: a\n\n" + body + "\n" + Sep2 + "Content-Length: 2\n\nz\n";
        var entries = ReadAll(mbox, new MboxReadOptions { Format = MboxFormat.Mboxcl2 });
        Assert.Equal(2, entries.Count);
        Assert.Equal(($"Content-Length: {body.Length}\nS: a\n\n" + body).Replace("\n", "\r\n"), entries[0].Text);
        Assert.Equal("Content-Length: 2\r\n\r\nz\r\n", entries[1].Text);
    }

    [Fact]
    public void Mboxrd_ignores_content_length()
    {
        var mbox = Sep1 + "Content-Length: 999\n\nbody\n\n" + Sep2 + "S: y\n\nz\n";
        Assert.Equal(2, ReadAll(mbox).Count);
    }

    [Fact]
    public void Message_over_the_limit_is_skipped_and_reading_continues()
    {
        var mbox = Sep1 + "S: x\n\n" + new string('a', 5000) + "\n\n" + Sep2 + "S: y\n\nz\n";
        var entries = ReadAll(mbox, new MboxReadOptions { MaxMessageBytes = 1000 });
        Assert.Equal(2, entries.Count);
        Assert.Contains("larger than the limit", entries[0].Entry.Problem, StringComparison.Ordinal);
        Assert.Null(entries[1].Entry.Problem);
        Assert.Equal("S: y\r\n\r\nz\r\n", entries[1].Text);
    }

    [Fact]
    public void Huge_single_line_message_is_streamed()
    {
        // 300 MB without a single line break: must stream through, not be buffered.
        const long size = 300L * 1024 * 1024;
        var prefix = Encoding.ASCII.GetBytes(Sep1 + "Subject: big\n\n");
        using var reader = new MboxReader(new GeneratedStream(prefix, (byte)'x', size, "\n"u8.ToArray()));
        var sink = new CountingStream();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var entry = reader.ReadNext(sink);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.NotNull(entry);
        Assert.Null(entry.Problem);
        Assert.Equal("Subject: big\r\n\r\n".Length + size + 2, sink.Count);
        Assert.Equal(sink.Count, entry.Length);
        Assert.Null(reader.ReadNext(sink));
        Assert.True(allocated < 10 * 1024 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Long_quote_run_longer_than_the_buffer_is_unquoted_exactly()
    {
        int run = 700_000;
        var mbox = Sep1 + "S: x\n\n" + new string('>', run) + "From x\n";
        var text = ReadAll(mbox).Single().Text;
        Assert.Equal("S: x\r\n\r\n" + new string('>', run - 1) + "From x\r\n", text);
    }

    [Fact]
    public void Very_long_from_line_in_the_body_is_body_text()
    {
        var longFrom = "From " + new string('y', 10_000) + " Sat Jan  3 01:05:34 1996\n";
        var entries = ReadAll(Sep1 + "S: x\n\n" + longFrom);
        Assert.Single(entries);
    }
}
