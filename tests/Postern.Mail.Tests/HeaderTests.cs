using System.Text;
using Postern.Mail;

namespace Postern.Mail.Tests;

public class HeaderTests
{
    [Fact]
    public void Folded_fields_unfold_and_lookup_is_case_insensitive()
    {
        var h = HeaderList.Parse(Encoding.ASCII.GetBytes("Subject: a long\r\n\tsubject line\r\nX-A: 1\r\nx-a: 2\r\n\r\nBody: not a header\r\n"));
        Assert.Equal(2 + 1, h.Count);
        Assert.Equal("a long\tsubject line", h.GetValue("SUBJECT"));
        Assert.Equal(["1", "2"], h.GetAll("X-A").Select(f => f.Value));
        Assert.Null(h.Get("Body"));
        Assert.Equal(" a long\r\n\tsubject line", Encoding.ASCII.GetString(h.Get("subject")!.RawValue.Span));
    }

    [Fact]
    public void Obsolete_space_before_colon_and_bare_lf_are_accepted()
    {
        var h = HeaderList.Parse(Encoding.ASCII.GetBytes("Subject  : obsolete\nTo: a@b\n continued\n"));
        Assert.Equal("obsolete", h.GetValue("Subject"));
        Assert.Equal("a@b continued", h.GetValue("To"));
    }

    [Fact]
    public void Utf8_header_values_are_decoded_and_invalid_bytes_fall_back_to_windows_1252()
    {
        var h = HeaderList.Parse([.. Encoding.UTF8.GetBytes("Subject: Grüße\r\nX-Old: "), 0xE9, 0x74, 0xE9, (byte)'\r', (byte)'\n']);
        Assert.Equal("Grüße", h.GetValue("Subject"));
        Assert.Equal("été", h.GetValue("X-Old"));
    }

    [Fact]
    public void Line_without_colon_ends_the_header_block()
    {
        var h = HeaderList.Parse(Encoding.ASCII.GetBytes("A: 1\r\nnot a header\r\nB: 2\r\n"));
        Assert.Single(h);
    }
}

public class EncodedWordTests
{
    [Theory]
    [InlineData("=?iso-8859-1?q?this=20is=20some=20text?=", "this is some text")]
    [InlineData("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=", "If you can read this you understand the example.")]
    [InlineData("(=?ISO-8859-1?Q?a?= b)", "(a b)")]
    [InlineData("=?ISO-8859-1?Q?a?=  \r\n  =?ISO-8859-1?Q?b?=", "ab")]
    [InlineData("=?UTF-8?Q?a_b?=", "a b")]
    [InlineData("=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=", "café")]
    [InlineData("=?koi8-r?B?8NLJ18XU?=", "Привет")]
    [InlineData("=?bogus?Q?abc?=", "abc")]
    [InlineData("=?utf-8?x?abc?=", "=?utf-8?x?abc?=")]
    [InlineData("no words", "no words")]
    [InlineData("=?utf-8*en?q?hi?=", "hi")]
    public void Decodes_rfc2047(string input, string expected) => Assert.Equal(expected, EncodedWords.DecodeUnstructured(input));

    [Theory]
    [InlineData("plain ascii")]
    [InlineData("Grüße aus München, a fairly long subject line that needs several encoded words 🎉🎉🎉")]
    public void Encoded_text_round_trips_and_words_are_short(string text)
    {
        var enc = EncodedWords.EncodeUnstructured(text);
        Assert.All(enc.Split(' '), w => Assert.True(w.Length <= 75 || !w.StartsWith("=?", StringComparison.Ordinal)));
        Assert.Equal(text, EncodedWords.DecodeUnstructured(enc));
        Assert.True(Ascii.IsValid(enc));
    }

    [Fact]
    public void Phrase_is_quoted_when_it_has_specials()
    {
        Assert.Equal("\"Smith, John\"", EncodedWords.EncodePhrase("Smith, John"));
        Assert.Equal("Alice", EncodedWords.EncodePhrase("Alice"));
        Assert.StartsWith("=?utf-8?b?", EncodedWords.EncodePhrase("Zoë"), StringComparison.Ordinal);
    }
}

public class MimeParameterTests
{
    [Fact]
    public void Rfc2231_continuations_charsets_and_languages()
    {
        var v = MimeFieldValue.Parse("application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"");
        Assert.Equal("application/x-stuff", v.Value);
        Assert.Equal("This is even more ***fun*** isn't it!", v.Get("title"));
        Assert.Equal("été.txt", MimeFieldValue.Parse("attachment; filename*=iso-8859-1'fr'%E9t%E9.txt").Get("filename"));
        Assert.Equal("€ x", MimeFieldValue.Parse("attachment; filename*=UTF-8''%E2%82%AC%20x").Get("FILENAME"));
    }

    [Fact]
    public void Sections_out_of_order_are_joined_in_order_and_extended_wins()
    {
        var v = MimeFieldValue.Parse("x/y; name*1=\"b\"; name*0=\"a\"; name=\"plain\"");
        Assert.Equal("ab", v.Get("name"));
        Assert.Equal("ü", MimeFieldValue.Parse("x/y; n=\"old\"; n*=utf-8''%C3%BC").Get("n"));
    }

    [Fact]
    public void Quoted_values_comments_and_junk()
    {
        var v = MimeFieldValue.Parse("Text/Plain (comment); charset = \"utf\\-8\" ; ; format=flowed (c); bare");
        Assert.Equal("text/plain", v.Value);
        Assert.Equal("utf-8", v.Get("charset"));
        Assert.Equal("flowed", v.Get("format"));
        Assert.Null(v.Get("bare"));
    }

    [Fact]
    public void Encoded_words_in_quoted_file_names_are_decoded()
    {
        Assert.Equal("Grüße.pdf", MimeFieldValue.Parse("attachment; filename=\"=?utf-8?q?Gr=C3=BC=C3=9Fe=2Epdf?=\"").Get("filename"));
    }

    [Fact]
    public void Parameter_count_is_bounded()
    {
        var text = "x/y" + string.Concat(Enumerable.Range(0, 500).Select(i => $"; p{i}=v"));
        Assert.Equal(64, MimeFieldValue.Parse(text).Parameters.Count);
    }
}

public class HeaderFormatterTests
{
    [Fact]
    public void Long_values_fold_at_whitespace_and_parse_back()
    {
        var subject = string.Join(' ', Enumerable.Range(0, 40).Select(i => "wörd" + i));
        var field = HeaderFormatter.FormatUnstructured("Subject", subject);
        Assert.All(field.Split("\r\n"), line => Assert.True(line.Length <= HeaderFormatter.LineLength, line));
        var h = HeaderList.Parse(Encoding.ASCII.GetBytes(field));
        Assert.Equal(subject, h.GetDecoded("Subject"));
    }

    [Fact]
    public void Line_breaks_in_values_cannot_inject_fields()
    {
        var field = HeaderFormatter.Format("Subject", "hi\r\nBcc: victim@example.com");
        Assert.Single(HeaderList.Parse(Encoding.ASCII.GetBytes(field)));
    }

    [Fact]
    public void Address_fields_encode_names()
    {
        var field = HeaderFormatter.FormatAddresses("To", [new MailAddress("Zoë", "z", "example.com"), new MailAddress(null, "a", "example.org")]);
        var list = AddressParser.ParseMailboxes(HeaderList.Parse(Encoding.ASCII.GetBytes(field)).GetValue("To"));
        Assert.Equal("Zoë", list[0].DisplayName);
        Assert.Equal("a@example.org", list[1].Address);
    }
}

public class HeaderFormatterLongWordTests
{
    [Fact]
    public void Words_longer_than_a_line_never_produce_an_empty_line()
    {
        var field = HeaderFormatter.Format("X-Long", new string('a', 100) + " " + new string('b', 100) + " c");
        Assert.DoesNotContain("\r\n\r\n", field, StringComparison.Ordinal);
        Assert.Equal(new string('a', 100) + " " + new string('b', 100) + " c", HeaderList.Parse(Encoding.ASCII.GetBytes(field)).GetValue("X-Long"));
    }
}
