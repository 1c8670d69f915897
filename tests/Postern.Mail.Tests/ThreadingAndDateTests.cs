using Postern.Mail;

namespace Postern.Mail.Tests;

public class ThreadingAndDateTests
{
    [Theory]
    [InlineData("Re: hello", "hello")]
    [InlineData("RE: Fwd: re[2]: hello (fwd)", "hello")]
    [InlineData("[list] Re: [other] hello", "hello")]
    [InlineData("[Fwd: hello world]", "hello world")]
    [InlineData("  spaced \t  out  ", "spaced out")]
    [InlineData("[only-blob]", "[only-blob]")]
    [InlineData("Re:", "")]
    [InlineData("Recent news", "Recent news")]
    public void Base_subject_rfc5256(string subject, string expected) => Assert.Equal(expected, Threading.BaseSubject(subject));

    [Fact]
    public void Message_id_lists()
    {
        Assert.Equal(["a@b", "c@d", "e@f"], Threading.ParseMessageIds("<a@b> (comment) <c@d>,\r\n <e@f> junk"));
        Assert.Equal("x@y", Threading.ParseMessageId(" <x@y> "));
        Assert.Empty(Threading.ParseMessageIds(null));
    }

    [Theory]
    [InlineData("Fri, 21 Nov 1997 09:55:06 -0600", "1997-11-21T09:55:06-06:00")]
    [InlineData("Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n               -0330 (Newfoundland Time)", "1969-02-13T23:32:00-03:30")]
    [InlineData("3 Jun 24 10:11 EST", "2024-06-03T10:11:00-05:00")]
    [InlineData("21 Nov 97 09:55:06 GMT", "1997-11-21T09:55:06+00:00")]
    [InlineData("Tue, 1 Jan 2019 00:00:60 +0000", "2019-01-01T00:00:59+00:00")]
    public void Dates_parse_including_obsolete_forms(string input, string expected) =>
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), MailDate.Parse(input));

    [Theory]
    [InlineData("")]
    [InlineData("yesterday")]
    [InlineData("32 Jan 2020 10:00 +0000")]
    [InlineData("1 Foo 2020 10:00")]
    public void Bad_dates_are_null(string input) => Assert.Null(MailDate.Parse(input));

    [Fact]
    public void Date_formats_as_rfc5322()
    {
        var d = new DateTimeOffset(2026, 11, 22, 10, 50, 41, TimeSpan.FromHours(-3.5));
        Assert.Equal("Sun, 22 Nov 2026 10:50:41 -0330", MailDate.Format(d));
        Assert.Equal(d, MailDate.Parse(MailDate.Format(d)));
    }

    [Fact]
    public void Envelope_threading_fields()
    {
        var s = MessageStructure.Parse(ParserTests.B("Subject: =?utf-8?q?Re=3A_Gr=C3=BC=C3=9Fe?=\nReferences: <a@x> <b@x>\nIn-Reply-To: <b@x>\nMessage-ID: <c@x>\nDate: 1 Jan 2020 00:00 +0000\n\nx"));
        Assert.Equal("Grüße", s.Envelope.BaseSubject);
        Assert.Equal(["a@x", "b@x"], s.Envelope.ReferenceIds);
        Assert.Equal("<c@x>", s.Envelope.MessageId);
        Assert.Equal(new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero), s.Envelope.ParsedDate);
    }
}
