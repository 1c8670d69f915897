using System.Text;
using Postern.Mail;

namespace Postern.Mail.Tests;

/// <summary>The preview stored with each message (RFC 8970) whatever the body's encoding and length.</summary>
public class PreviewTests
{
    private static string BodyText(int seed)
    {
        var random = new Random(seed);
        string[] words = ["mail", "Grüße", "naïve", "日本語", "😀", "a", "longerword", "\t", "x=y", "end."];
        var sb = new StringBuilder();
        while (sb.Length < 3000)
        {
            sb.Append(words[random.Next(words.Length)]);
            sb.Append(random.Next(8) == 0 ? "\r\n" : " ");
        }
        return sb.ToString();
    }

    private static string Encode(string text, string encoding) => encoding switch
    {
        "base64" => string.Join("\r\n", Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).Chunk(76).Select(c => new string(c))),
        "quoted-printable" => QuotedPrintable(Encoding.UTF8.GetBytes(text)),
        _ => text,
    };

    private static string QuotedPrintable(byte[] bytes)
    {
        var sb = new StringBuilder();
        int line = 0;
        foreach (byte b in bytes)
        {
            string piece = b is >= 33 and <= 126 and not (byte)'=' ? ((char)b).ToString() : b == (byte)' ' ? " " : $"={b:X2}";
            if (line + piece.Length > 73)
            {
                sb.Append("=\r\n");
                line = 0;
            }
            sb.Append(piece);
            line += piece.Length;
        }
        return sb.ToString();
    }

    [Theory]
    [InlineData("8bit")]
    [InlineData("base64")]
    [InlineData("quoted-printable")]
    public void Preview_is_the_first_characters_of_the_decoded_text(string encoding)
    {
        for (int seed = 0; seed < 40; seed++)
        {
            string text = BodyText(seed);
            byte[] raw = Encoding.UTF8.GetBytes("From: a@example.org\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
                + encoding + "\r\n\r\n" + Encode(text, encoding) + "\r\n");
            var parser = new MessageParser();
            parser.Append(raw);
            MessageStructure structure = parser.Complete();
            // The start of the whole decoded body.
            var part = structure.Root;
            int captured = (int)(part.End - part.BodyStart);
            string expected = MessageText.MakePreview(MessageText.DecodeText(raw.AsSpan((int)part.BodyStart, captured), part.ContentTransferEncoding, part.Charset, html: false));
            Assert.Equal(expected, structure.Preview);
            Assert.True(structure.Preview!.Length >= MessageText.PreviewLength - 1);
        }
    }

    [Fact]
    public void A_long_line_cut_inside_an_escape_or_a_character_keeps_its_charset()
    {
        // One 3,000-octet line (no line break to cut at): the preview's first try ends inside "=C3=A9" or inside "é".
        foreach (string encoding in new[] { "quoted-printable", "8bit" })
        {
            for (int shift = 0; shift < 6; shift++)
            {
                string text = new string('x', shift) + string.Concat(Enumerable.Repeat("é ", 1500));
                string body = encoding == "8bit" ? text : string.Concat(Encoding.UTF8.GetBytes(text).Select(b => b < 128 ? ((char)b).ToString() : $"={b:X2}"));
                var parser = new MessageParser();
                parser.Append(Encoding.UTF8.GetBytes("From: a@example.org\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
                    + encoding + "\r\n\r\n" + body + "\r\n"));
                string preview = parser.Complete().Preview!;
                Assert.DoesNotContain("Ã", preview, StringComparison.Ordinal);
                Assert.StartsWith(new string('x', shift) + "é é", preview, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void A_short_body_gives_its_whole_text()
    {
        var parser = new MessageParser();
        parser.Append(Encoding.UTF8.GetBytes("From: a@example.org\r\n\r\nHello   there,\r\n\r\n  see you.\r\n"));
        Assert.Equal("Hello there, see you.", parser.Complete().Preview);
    }

    [Fact]
    public void A_preview_ends_with_a_word_never_with_the_space_before_the_next()
    {
        string preview = MessageText.MakePreview(new string('x', MessageText.PreviewLength - 1) + " yz");
        Assert.Equal(new string('x', MessageText.PreviewLength - 1), preview);
        Assert.Equal(MessageText.PreviewLength, MessageText.MakePreview(new string('x', 500)).Length);
    }

    [Fact]
    public void The_preview_does_not_depend_on_how_the_message_arrived_when_its_first_body_line_is_cut()
    {
        // A first line too long for a header (it ends the header and is kept only up to the line limit),
        // in three-byte characters, so the kept start alone holds fewer than 200 characters. Whether that
        // line came in one piece or many, the preview is the same.
        var limits = new MessageLimits(MaxHeaderBlockBytes: 300, MaxLineBytes: 64);
        byte[] raw = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("李雷 <李雷> ", 300)) + "\r\n\r\nbody\r\n");
        string? whole = MessageStructure.Parse(raw, limits).Preview;
        Assert.False(string.IsNullOrEmpty(whole));
        foreach (int size in new[] { 1, 7, 100, 1000 })
        {
            var parser = new MessageParser(limits);
            for (int i = 0; i < raw.Length; i += size)
                parser.Append(raw.AsSpan(i, Math.Min(size, raw.Length - i)));
            Assert.Equal(whole, parser.Complete().Preview);
        }
    }
}
