using Postern.Mail.Dsn;
using Postern.Smtp.Protocol;

namespace Postern.Smtp.Tests.Protocol;

/// <summary>RFC 3461 (NOTIFY, ORCPT, RET, ENVID) and RFC 4865 (HOLDFOR, HOLDUNTIL) parameters, parsed strictly.</summary>
public class DsnParameterTests
{
    private static readonly MailParameterSupport WithHold = new(RequireTls: false, FutureRelease: true);
    private static readonly MailParameterSupport NoHold = new(RequireTls: false);

    private static SmtpCommandException Refused(Action a) => Assert.Throws<SmtpCommandException>(a);

    [Fact]
    public void Valid_mail_parameters()
    {
        var m = SmtpCommandParser.ParseMail("FROM:<a@b.example> RET=hdrs ENVID=QQ+2B314159", NoHold);
        Assert.Equal(DsnReturn.Headers, m.Return);
        Assert.Equal("QQ+2B314159", m.EnvelopeId);
        Assert.Equal("QQ+314159", m.EnvelopeIdDecoded);
        Assert.Equal(DsnReturn.Full, SmtpCommandParser.ParseMail("FROM:<> RET=FULL", NoHold).Return);
        Assert.Equal(3600, SmtpCommandParser.ParseMail("FROM:<a@b.example> HOLDFOR=3600", WithHold).HoldFor);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero),
            SmtpCommandParser.ParseMail("FROM:<a@b.example> HOLDUNTIL=2026-12-01T10:00:00+02:00", WithHold).HoldUntil);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 10, 0, 0, 500, TimeSpan.Zero),
            SmtpCommandParser.ParseMail("FROM:<a@b.example> HOLDUNTIL=2026-12-01t10:00:00.5z", WithHold).HoldUntil);
    }

    [Theory]
    [InlineData("FROM:<a@b.example> RET=ALL", "501")]
    [InlineData("FROM:<a@b.example> RET", "501")]
    [InlineData("FROM:<a@b.example> RET=FULL RET=HDRS", "501")]
    [InlineData("FROM:<a@b.example> ENVID=a+2b", "501")]
    [InlineData("FROM:<a@b.example> ENVID=a+", "501")]
    [InlineData("FROM:<a@b.example> ENVID", "501")]
    [InlineData("FROM:<a@b.example> ENVID=x ENVID=y", "501")]
    [InlineData("FROM:<a@b.example> HOLDFOR=10", "555")]
    [InlineData("FROM:<a@b.example> HOLDUNTIL=2026-12-01T10:00:00Z", "555")]
    public void Invalid_mail_parameters_without_futurerelease(string arg, string code) =>
        Assert.Equal(code, Refused(() => SmtpCommandParser.ParseMail(arg, NoHold)).Code.ToString());

    [Fact]
    public void Envid_longer_than_100_characters_is_refused()
    {
        Assert.Equal(100, SmtpCommandParser.ParseMail("FROM:<a@b.example> ENVID=" + new string('x', 100), NoHold).EnvelopeId!.Length);
        Assert.Equal(501, Refused(() => SmtpCommandParser.ParseMail("FROM:<a@b.example> ENVID=" + new string('x', 101), NoHold)).Code);
    }

    [Theory]
    [InlineData("FROM:<a@b.example> HOLDFOR=10 HOLDUNTIL=2026-12-01T10:00:00Z")]
    [InlineData("FROM:<a@b.example> HOLDUNTIL=2026-12-01T10:00:00Z HOLDFOR=10")]
    [InlineData("FROM:<a@b.example> HOLDFOR=10 HOLDFOR=10")]
    [InlineData("FROM:<a@b.example> HOLDFOR=-1")]
    [InlineData("FROM:<a@b.example> HOLDFOR=1234567890")]
    [InlineData("FROM:<a@b.example> HOLDFOR")]
    [InlineData("FROM:<a@b.example> HOLDUNTIL=2026-12-01")]
    [InlineData("FROM:<a@b.example> HOLDUNTIL=2026-12-01T10:00:00")]
    [InlineData("FROM:<a@b.example> HOLDUNTIL=2026-13-01T10:00:00Z")]
    [InlineData("FROM:<a@b.example> HOLDUNTIL=Tue,1Dec2026")]
    public void Invalid_hold_parameters_are_501(string arg) =>
        Assert.Equal("5.5.4", Refused(() => SmtpCommandParser.ParseMail(arg, WithHold)).Enhanced);

    [Fact]
    public void Dsn_parameters_are_unknown_when_dsn_is_not_offered()
    {
        Assert.Equal(555, Refused(() => SmtpCommandParser.ParseMail("FROM:<a@b.example> RET=FULL", new MailParameterSupport(false, Dsn: false))).Code);
        Assert.Equal(555, Refused(() => SmtpCommandParser.ParseRcpt("TO:<a@b.example> NOTIFY=NEVER", false, dsn: false)).Code);
    }

    [Fact]
    public void Valid_rcpt_parameters()
    {
        var r = SmtpCommandParser.ParseRcpt("TO:<bob@remote.example> NOTIFY=success,Delay ORCPT=rfc822;Bob+2Bx@Remote.Example", false);
        Assert.Equal("SUCCESS,DELAY", r.Notify);
        Assert.True(r.NotifyOn("SUCCESS"));
        Assert.False(r.NotifyOn("FAILURE"));
        Assert.Equal("rfc822;Bob+2Bx@Remote.Example", r.OriginalRecipientParameter);
        Assert.Equal(new DsnAddress("rfc822", "Bob+x@Remote.Example"), r.OriginalRecipient);
        Assert.Equal("NEVER", SmtpCommandParser.ParseRcpt("TO:<b@r.example> NOTIFY=never", false).Notify);
        // RFC 6533 §3: utf-8 addresses, escaped, or raw with SMTPUTF8.
        Assert.Equal("jörg@x.example", SmtpCommandParser.ParseRcpt("TO:<b@r.example> ORCPT=utf-8;j\\x{F6}rg@x.example", false).OriginalRecipient!.Address);
        Assert.Equal("jörg@x.example", SmtpCommandParser.ParseRcpt("TO:<b@r.example> ORCPT=utf-8;jörg@x.example", true).OriginalRecipient!.Address);
    }

    [Theory]
    [InlineData("TO:<b@r.example> NOTIFY=NEVER,SUCCESS")]
    [InlineData("TO:<b@r.example> NOTIFY=SUCCESS,NEVER")]
    [InlineData("TO:<b@r.example> NOTIFY=SUCCESS,SUCCESS")]
    [InlineData("TO:<b@r.example> NOTIFY=SOMETIMES")]
    [InlineData("TO:<b@r.example> NOTIFY=SUCCESS,")]
    [InlineData("TO:<b@r.example> NOTIFY")]
    [InlineData("TO:<b@r.example> NOTIFY=NEVER NOTIFY=NEVER")]
    [InlineData("TO:<b@r.example> ORCPT=rfc822;a+zzb@c")]
    [InlineData("TO:<b@r.example> ORCPT=a@b")]
    [InlineData("TO:<b@r.example> ORCPT=rfc822;")]
    [InlineData("TO:<b@r.example> ORCPT=rfc822;x ORCPT=rfc822;y")]
    [InlineData("TO:<b@r.example> ORCPT=utf-8;jörg@x.example")]
    [InlineData("TO:<b@r.example> ORCPT=utf-8;j\\x{12}rg@x")]
    public void Invalid_rcpt_parameters_are_501(string arg)
    {
        var e = Refused(() => SmtpCommandParser.ParseRcpt(arg, false));
        Assert.Equal(501, e.Code);
        Assert.Equal("5.5.4", e.Enhanced);
    }

    [Fact]
    public void Orcpt_longer_than_500_characters_is_refused() =>
        Assert.Equal(501, Refused(() => SmtpCommandParser.ParseRcpt("TO:<b@r.example> ORCPT=rfc822;" + new string('a', 500), false)).Code);
}
