using Postern.Mail;

namespace Postern.Mail.Tests;

public class AddressTests
{
    [Fact]
    public void Display_names_quoted_names_and_comments()
    {
        var list = AddressParser.ParseMailboxes("\"Joe Q. Public\" <john.q.public@example.com>, Mary Smith <mary@x.test>, jdoe@example.org (John), Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>");
        Assert.Equal(4, list.Count);
        Assert.Equal("Joe Q. Public", list[0].DisplayName);
        Assert.Equal("john.q.public@example.com", list[0].Address);
        Assert.Equal("Mary Smith", list[1].DisplayName);
        Assert.Null(list[2].DisplayName);
        Assert.Equal("jdoe@example.org", list[2].Address);
        Assert.Equal("Pete", list[3].DisplayName);
        Assert.Equal("pete@silly.test", list[3].Address);
    }

    [Fact]
    public void Groups_are_kept_and_encoded_in_the_envelope()
    {
        var items = AddressParser.Parse("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Undisclosed recipients:;, solo@x.test");
        Assert.Equal(3, items.Count);
        Assert.Equal("A Group", items[0].Group!.Name);
        Assert.Equal(3, items[0].Group!.Members.Count);
        Assert.Empty(items[1].Group!.Members);
        Assert.Equal("solo@x.test", items[2].Mailbox!.Address);
        var env = Envelope.ToEnvelopeAddresses(items);
        Assert.Equal(new EnvelopeAddress(null, null, "A Group", null), env[0]);
        Assert.True(env[0].IsGroupStart);
        Assert.Equal(new EnvelopeAddress("Ed Jones", null, "c", "a.test"), env[1]);
        Assert.True(env[4].IsGroupEnd);
        Assert.Equal(8, env.Count);
    }

    [Fact]
    public void Quoted_local_parts_and_routes()
    {
        var a = MailAddress.TryParse("\"john doe\"@example.com")!;
        Assert.Equal("john doe", a.LocalPart);
        Assert.Equal("\"john doe\"@example.com", a.Address);
        var r = MailAddress.TryParse("Mary <@node.test,@relay.test:mary@example.net>")!;
        Assert.Equal("@node.test,@relay.test", r.Route);
        Assert.Equal("mary@example.net", r.Address);
    }

    [Fact]
    public void Encoded_display_names_are_decoded_but_raw_form_is_kept_for_imap()
    {
        var a = MailAddress.TryParse("=?iso-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>")!;
        Assert.Equal("André Pirard", a.DisplayName);
        Assert.Equal("=?iso-8859-1?Q?Andr=E9?= Pirard", a.RawDisplayName);
        Assert.Equal("PIRARD", a.LocalPart);
    }

    [Fact]
    public void Utf8_local_parts_and_idna_domains()
    {
        var a = MailAddress.TryParse("Jürgen <jürgen@Bücher.Example>")!;
        Assert.Equal("jürgen", a.LocalPart);
        Assert.True(a.HasUtf8LocalPart);
        Assert.Equal("Bücher.Example", a.Domain);
        Assert.Equal("xn--bcher-kva.example", a.DomainAscii);
        Assert.Equal("bücher.example", a.DomainUnicode);
        Assert.Equal("bücher.example", MailAddress.ToUnicodeDomain("XN--BCHER-KVA.EXAMPLE"));
        Assert.Equal("[192.0.2.1]", MailAddress.TryParse("x@[192.0.2.1]")!.Domain);
    }

    [Fact]
    public void Obsolete_forms_and_garbage_never_throw()
    {
        Assert.Equal(2, AddressParser.ParseMailboxes("Mary Smith <mary@x.test>, , jdoe@test  . example").Count);
        Assert.Equal("jdoe@test.example", AddressParser.ParseMailboxes("jdoe@test  . example")[0].Address);
        foreach (var junk in new[] { "<<<>>>", "\"unterminated", "(((", "@@@", ":;:;", "a@", "<a@b", "Name <", ",,,," })
            _ = AddressParser.Parse(junk);
    }

    [Fact]
    public void Formatting_encodes_names()
    {
        Assert.Equal("\"Smith, John\" <john@example.com>", new MailAddress("Smith, John", "john", "example.com").ToString());
        Assert.Equal("=?utf-8?b?Wm/Dqw==?= <z@example.com>", new MailAddress("Zoë", "z", "example.com").ToString());
    }
}
