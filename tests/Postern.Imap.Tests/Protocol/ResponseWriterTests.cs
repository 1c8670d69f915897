using System.Text;
using Postern.Imap.Protocol;

namespace Postern.Imap.Tests.Protocol;

public class ResponseWriterTests
{
    private static string Render(Action<ImapResponseWriter> write, bool utf8 = false)
    {
        var w = new ImapResponseWriter { Utf8 = utf8 };
        write(w);
        return Encoding.UTF8.GetString(w.WrittenMemory.Span);
    }

    [Fact]
    public void The_writer_knows_when_a_response_line_was_left_open_even_across_a_flush()
    {
        var w = new ImapResponseWriter();
        Assert.False(w.MidLine);
        w.Raw("* 1 FETCH (UID 5");
        Assert.True(w.MidLine);
        w.Clear(); // flushed
        Assert.True(w.MidLine);
        w.Raw(")\r");
        w.Clear();
        w.Raw("\n");
        Assert.False(w.MidLine);
        w.Raw("* OK done").Crlf();
        Assert.False(w.MidLine);
    }

    [Fact]
    public void Strings_are_quoted_or_literal()
    {
        Assert.Equal("\"a \\\"b\\\" \\\\\"", Render(w => w.String("a \"b\" \\")));
        Assert.Equal("{3}\r\na\nb", Render(w => w.String("a\nb")));
        Assert.Equal("{3}\r\né!", Render(w => w.String("é!")));
        Assert.Equal("\"é!\"", Render(w => w.String("é!"), utf8: true));
        Assert.Equal("NIL", Render(w => w.NString(null)));
        Assert.Equal("INBOX", Render(w => w.AString("INBOX")));
        Assert.Equal("\"NIL\"", Render(w => w.AString("NIL")));
    }

    [Fact]
    public void Mailbox_names_follow_utf8_mode()
    {
        Assert.Equal("\"&ZeVnLIqe-\"", Render(w => w.Mailbox("日本語")));
        Assert.Equal("\"日本語\"", Render(w => w.Mailbox("日本語"), utf8: true));
        Assert.Equal("\"a&-b\"", Render(w => w.Mailbox("a&b")));
    }

    [Fact]
    public void Internal_date_format()
    {
        Assert.Equal("\"07-Feb-1994 21:52:25 -0800\"", Render(w => w.DateTime(new DateTimeOffset(1994, 2, 7, 21, 52, 25, TimeSpan.FromHours(-8)))));
    }

    [Theory]
    [InlineData("Entwürfe", "Entw&APw-rfe")]
    [InlineData("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-")]
    [InlineData("&", "&-")]
    [InlineData("😀", "&2D3eAA-")]
    public void Modified_utf7_round_trips(string name, string encoded)
    {
        Assert.Equal(encoded, ModifiedUtf7.Encode(name));
        Assert.True(ModifiedUtf7.TryDecode(encoded, out string decoded));
        Assert.Equal(name, decoded);
    }

    [Theory]
    [InlineData("&")]
    [InlineData("&AGE-")] // encodes printable "a"
    [InlineData("&2D0-")] // lone surrogate
    [InlineData("é")]
    [InlineData("&Jjo!-")]
    public void Invalid_modified_utf7_is_refused(string encoded) =>
        Assert.False(ModifiedUtf7.TryDecode(encoded, out _));
}
