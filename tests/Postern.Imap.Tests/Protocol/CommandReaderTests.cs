using System.Text;
using Postern.Imap.Protocol;

namespace Postern.Imap.Tests.Protocol;

public class CommandReaderTests
{
    [Fact]
    public async Task Reads_a_line_split_over_several_writes()
    {
        var h = new ReaderHarness();
        var read = h.ReadAsync().AsTask();
        await h.WriteAsync("a1 NO");
        await h.WriteAsync("OP\r");
        Assert.False(read.IsCompleted);
        await h.WriteAsync("\n");
        var outcome = await read;
        Assert.Equal(ReadOutcomeKind.Command, outcome.Kind);
        Assert.Equal("a1 NOOP", Encoding.ASCII.GetString(outcome.Command!.Text));
        Assert.Equal("a1", outcome.Tag);
    }

    [Fact]
    public async Task Synchronising_literal_gets_continuation_then_content()
    {
        var h = new ReaderHarness();
        await h.WriteAsync("a LOGIN {4}\r\n");
        var read = h.ReadAsync().AsTask();
        await Task.Delay(20);
        Assert.Equal(1, h.Continuations);
        await h.WriteAsync("user {4+}\r\npass\r\n");
        var outcome = await read;
        Assert.Equal(ReadOutcomeKind.Command, outcome.Kind);
        Assert.Equal(1, h.Continuations); // the LITERAL+ one gets none
        var cmd = (LoginCommand)ImapCommandParser.Parse(outcome.Command!, true, ImapLimits.Default).Command;
        Assert.Equal("user", cmd.User);
        Assert.Equal("pass", cmd.Password);
    }

    [Fact]
    public async Task Oversized_synchronising_literal_is_refused_before_continuation()
    {
        var h = new ReaderHarness(new ImapLimits { MaxArgumentLiteral = 100 });
        await h.WriteAsync("a LOGIN {101}\r\n");
        var outcome = await h.ReadAsync();
        Assert.Equal(ReadOutcomeKind.Rejected, outcome.Kind);
        Assert.StartsWith("BAD", outcome.Response);
        Assert.Equal(0, h.Continuations);
        // The connection goes on.
        await h.WriteAsync("b NOOP\r\n");
        Assert.Equal("b", (await h.ReadAsync()).Tag);
    }

    [Fact]
    public async Task Append_over_limit_gets_TOOBIG_without_continuation()
    {
        var h = new ReaderHarness(new ImapLimits { AppendLimit = 1000 });
        await h.WriteAsync("a APPEND INBOX {1001}\r\n");
        var outcome = await h.ReadAsync();
        Assert.Equal(ReadOutcomeKind.Rejected, outcome.Kind);
        Assert.Contains("[TOOBIG]", outcome.Response);
        Assert.Equal(0, h.Continuations);
    }

    [Fact]
    public async Task Oversized_nonsync_literal_closes_the_connection()
    {
        var h = new ReaderHarness(new ImapLimits { MaxArgumentLiteral = 100 });
        await h.WriteAsync("a LOGIN {500+}\r\n");
        var outcome = await h.ReadAsync();
        Assert.Equal(ReadOutcomeKind.Fatal, outcome.Kind);
    }

    [Fact]
    public async Task Literal_minus_limits_nonsync_literals_to_4096()
    {
        var h = new ReaderHarness(new ImapLimits { AppendLimit = 100_000 });
        h.Reader.LiteralPlus = false;
        await h.WriteAsync("a APPEND INBOX {4097+}\r\n");
        Assert.Equal(ReadOutcomeKind.Fatal, (await h.ReadAsync()).Kind);
    }

    [Fact]
    public async Task Too_long_line_is_rejected_and_skipped()
    {
        var h = new ReaderHarness(new ImapLimits { MaxLineLength = 100 });
        await h.WriteAsync("a NOOP " + new string('x', 300) + "\r\nb NOOP\r\n");
        var outcome = await h.ReadAsync();
        Assert.Equal(ReadOutcomeKind.Rejected, outcome.Kind);
        Assert.Equal("a", outcome.Tag);
        Assert.Contains("Line longer", outcome.Response);
        outcome = await h.ReadAsync();
        Assert.Equal(ReadOutcomeKind.Command, outcome.Kind);
        Assert.Equal("b", outcome.Tag);
    }

    [Fact]
    public async Task Too_long_line_ending_in_nonsync_literal_is_fatal()
    {
        var h = new ReaderHarness(new ImapLimits { MaxLineLength = 100 });
        await h.WriteAsync("a LOGIN " + new string('x', 300) + " {5+}\r\n");
        Assert.Equal(ReadOutcomeKind.Fatal, (await h.ReadAsync()).Kind);
    }

    [Fact]
    public async Task Invalid_utf8_is_rejected()
    {
        var h = new ReaderHarness();
        await h.WriteAsync([.. "a SELECT \""u8.ToArray(), 0xff, 0xfe, .. "\"\r\n"u8.ToArray()]);
        var outcome = await h.ReadAsync();
        Assert.Equal(ReadOutcomeKind.Rejected, outcome.Kind);
        Assert.Contains("UTF-8", outcome.Response);
    }

    [Fact]
    public async Task Literal_budget_per_command_is_enforced()
    {
        var h = new ReaderHarness(new ImapLimits { AppendLimit = 1000, MaxCommandLiteralBytes = 1500 });
        await h.WriteAsync("a APPEND INBOX {800+}\r\n" + new string('x', 800) + " {800}\r\n");
        var outcome = await h.ReadAsync();
        Assert.Equal(ReadOutcomeKind.Rejected, outcome.Kind);
        Assert.Contains("[LIMIT]", outcome.Response);
        Assert.Equal(0, h.Continuations);
    }

    [Fact]
    public async Task Append_messages_past_the_in_memory_budget_are_spooled()
    {
        // MULTIAPPEND of 8 small messages with a 2,000-octet budget: the first ones stay in memory, the
        // rest go to files, so a connection never holds more than the budget in memory.
        var h = new ReaderHarness(new ImapLimits { MaxInMemoryLiteralBytes = 2000 });
        var wire = new StringBuilder("a APPEND INBOX");
        for (int i = 0; i < 8; i++)
            wire.Append(" {600+}\r\n").Append(new string((char)('a' + i), 600));
        wire.Append("\r\n");
        await h.WriteAsync(wire.ToString());
        var outcome = await h.ReadAsync();
        Assert.Equal(ReadOutcomeKind.Command, outcome.Kind);
        var cmd = (AppendCommand)ImapCommandParser.Parse(outcome.Command!, true, ImapLimits.Default).Command;
        Assert.Equal(8, cmd.Messages.Count);
        long inMemory = cmd.Messages.Where(m => m.Content.IsInMemory).Sum(m => m.Content.Length);
        Assert.Equal(1800, inMemory);
        Assert.Equal(5, cmd.Messages.Count(m => !m.Content.IsInMemory));
        using (var r = new StreamReader(cmd.Messages[7].Content.OpenRead()))
            Assert.Equal(new string('h', 600), r.ReadToEnd());
        outcome.Command!.Dispose();
    }

    [Fact]
    public async Task Argument_literals_past_the_in_memory_budget_are_refused_before_continuation()
    {
        var h = new ReaderHarness(new ImapLimits { MaxInMemoryLiteralBytes = 1000 });
        await h.WriteAsync("a SEARCH TEXT {600+}\r\n" + new string('x', 600) + " TEXT {600}\r\n");
        var outcome = await h.ReadAsync();
        Assert.Equal(ReadOutcomeKind.Rejected, outcome.Kind);
        Assert.Contains("[LIMIT]", outcome.Response);
        Assert.Equal(0, h.Continuations);
        // The budget is per command: the next command starts from zero.
        await h.WriteAsync("b SEARCH TEXT {600}\r\n");
        var next = h.ReadAsync().AsTask();
        await Task.Delay(20);
        Assert.Equal(1, h.Continuations);
        await h.WriteAsync(new string('y', 600) + "\r\n");
        Assert.Equal(ReadOutcomeKind.Command, (await next).Kind);
    }

    [Fact]
    public async Task Large_literal_is_spooled_to_a_file()
    {
        var h = new ReaderHarness(new ImapLimits { InMemoryLiteralThreshold = 10 });
        string body = new('m', 5000);
        await h.WriteAsync($"a APPEND INBOX {{5000+}}\r\n{body}\r\n");
        var outcome = await h.ReadAsync();
        var cmd = (AppendCommand)ImapCommandParser.Parse(outcome.Command!, true, ImapLimits.Default).Command;
        var lit = cmd.Messages[0].Content;
        Assert.False(lit.IsInMemory);
        using var s = lit.OpenRead();
        using var r = new StreamReader(s);
        Assert.Equal(body, r.ReadToEnd());
        outcome.Command!.Dispose();
    }

    [Fact]
    public async Task End_of_stream_mid_literal_is_reported()
    {
        var h = new ReaderHarness();
        await h.WriteAsync("a LOGIN {10+}\r\nabc");
        await h.CompleteAsync();
        Assert.Equal(ReadOutcomeKind.EndOfStream, (await h.ReadAsync()).Kind);
    }

    [Fact]
    public async Task Too_many_pipelined_commands_is_fatal()
    {
        var h = new ReaderHarness(new ImapLimits { MaxPipelinedCommands = 3 });
        await h.WriteAsync(string.Concat(Enumerable.Range(0, 10).Select(i => $"a{i} NOOP\r\n")));
        ReadOutcomeKind last = ReadOutcomeKind.Command;
        for (int i = 0; i < 10 && last == ReadOutcomeKind.Command; i++)
            last = (await h.ReadAsync()).Kind;
        Assert.Equal(ReadOutcomeKind.Fatal, last);
    }

    [Fact]
    public async Task Literal_check_callback_can_refuse_before_continuation()
    {
        var h = new ReaderHarness();
        h.Reader.LiteralCheck = a => a.CommandName == "APPEND" ? "NO [TRYCREATE] no such mailbox" : null;
        await h.WriteAsync("a APPEND Nope {5}\r\n");
        var outcome = await h.ReadAsync();
        Assert.Equal(ReadOutcomeKind.Rejected, outcome.Kind);
        Assert.Equal("NO [TRYCREATE] no such mailbox", outcome.Response);
        Assert.Equal(0, h.Continuations);
    }

    [Theory]
    [InlineData("{12}", 12L, false, false)]
    [InlineData("{0+}", 0L, true, false)]
    [InlineData("~{7}", 7L, false, true)]
    public void Literal_markers_are_recognised(string marker, long size, bool nonSync, bool binary)
    {
        Assert.True(ImapCommandReader.TryParseLiteralMarker(Encoding.ASCII.GetBytes("x " + marker), out long s, out bool n, out bool b));
        Assert.Equal((size, nonSync, binary), (s, n, b));
    }

    [Theory]
    [InlineData("a {}")]
    [InlineData("a {1x}")]
    [InlineData("a }")]
    [InlineData("a {99999999999999999999}")]
    public void Not_literal_markers(string line) =>
        Assert.False(ImapCommandReader.TryParseLiteralMarker(Encoding.ASCII.GetBytes(line), out _, out _, out _));
}
