using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Postern.Smtp.Protocol;
using Postern.Tests.Shared;

namespace Postern.Smtp.Tests.Protocol;

/// <summary>
/// FsCheck properties of the MAIL and RCPT argument parsers: any argument gives a command or an
/// <see cref="SmtpCommandException"/> with a 4xx/5xx reply, never another exception; and an accepted
/// address, written back as a path, parses to the same address.
/// </summary>
public class ParserPropertyTests
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(Mutations.Runs(3000));

    private static readonly string[] MailSeeds =
    [
        "FROM:<alice@example.org>",
        "FROM:<>",
        "FROM:<alice@example.org> SIZE=10240 BODY=8BITMIME",
        "FROM:<alice@example.org> BODY=BINARYMIME SMTPUTF8",
        "FROM:<jörg@bücher.example> SMTPUTF8 BODY=8BITMIME",
        "FROM:<\"john q. public\"@example.org> RET=HDRS ENVID=QQ314159+2B2",
        "FROM:<@relay.example,@other.example:bob@example.net> AUTH=<>",
        "FROM:<bob@[192.0.2.1]> REQUIRETLS",
        "FROM:<bob@[IPv6:2001:db8::1]> HOLDFOR=3600",
        "FROM:<bob@example.net> HOLDUNTIL=2026-12-01T10:00:00Z RET=FULL",
        "FROM:<bob@example.net> AUTH=bob+40example.net",
        "from:<Postmaster>",
    ];

    private static readonly string[] RcptSeeds =
    [
        "TO:<alice@example.org>",
        "TO:<Postmaster>",
        "TO:<alice+tag@example.org> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;alice+2Btag@example.org",
        "TO:<bob@example.org> NOTIFY=NEVER",
        "TO:<jörg@bücher.example> ORCPT=utf-8;j\\x{00F6}rg@b\\x{00FC}cher.example",
        "TO:<@a.example:c@d.example>",
        "TO:<\"a\\\\b c\"@example.org>",
        "TO:<x@[10.0.0.1]>",
    ];

    private static bool ParsedOrRefused(Func<object> parse, byte[] input)
    {
        try
        {
            return parse() is not null;
        }
        catch (SmtpCommandException e)
        {
            return e.Code is >= 400 and < 600 && e.Enhanced.Length > 0 && e.Message.Length > 0;
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"input {Mutations.Show(input)}: {e.GetType().Name}: {e.Message}", e);
        }
    }

    private static string Text(byte[] input) => Encoding.UTF8.GetString(input);

    [Fact]
    public void Mail_arguments_give_a_command_or_a_reply()
    {
        var support = new MailParameterSupport(RequireTls: true, FutureRelease: true);
        Prop.ForAll(Mutations.Of(MailSeeds), input => ParsedOrRefused(() => SmtpCommandParser.ParseMail(Text(input), support), input)).Check(Runs);
    }

    [Fact]
    public void Rcpt_arguments_give_a_command_or_a_reply()
    {
        Prop.ForAll(Mutations.Of(RcptSeeds), input =>
            ParsedOrRefused(() => SmtpCommandParser.ParseRcpt(Text(input), smtpUtf8: true), input)
            && ParsedOrRefused(() => SmtpCommandParser.ParseRcpt(Text(input), smtpUtf8: false, dsn: false), input)).Check(Runs);
    }

    [Fact]
    public void An_accepted_recipient_written_back_parses_to_the_same_address()
    {
        Prop.ForAll(Mutations.Of(RcptSeeds), input =>
        {
            RcptCommand rcpt;
            try
            {
                rcpt = SmtpCommandParser.ParseRcpt(Text(input), smtpUtf8: true);
            }
            catch (SmtpCommandException)
            {
                return true;
            }
            RcptCommand again = SmtpCommandParser.ParseRcpt("TO:<" + rcpt.To + ">", smtpUtf8: true);
            return again.To.LocalPart == rcpt.To.LocalPart && again.To.Domain == rcpt.To.Domain;
        }).Check(Runs);
    }
}
