using System.Text;
using Postern.Mail;

namespace Postern.Mail.Tests;

public class DecodingTests
{
    private static byte[] DecodeInChunks(string cte, byte[] input, int chunk)
    {
        var d = TransferDecoding.Create(cte);
        var output = new List<byte>();
        var buf = new byte[chunk + 8];
        for (int i = 0; i < input.Length; i += chunk)
        {
            int n = d.Decode(input.AsSpan(i, Math.Min(chunk, input.Length - i)), buf);
            output.AddRange(buf.AsSpan(0, n).ToArray());
        }
        int f = d.Flush(buf);
        output.AddRange(buf.AsSpan(0, f).ToArray());
        return [.. output];
    }

    [Fact]
    public void Base64_in_any_chunking_and_tolerant_of_garbage()
    {
        var data = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        var enc = Encoding.ASCII.GetBytes(Convert.ToBase64String(data, Base64FormattingOptions.InsertLineBreaks));
        for (int chunk = 1; chunk < 20; chunk++) Assert.Equal(data, DecodeInChunks("base64", enc, chunk));
        Assert.Equal("Hello world", Encoding.ASCII.GetString(TransferDecoding.Decode("SGVsbG8g!!!d29y\r\nbGQ=====garbage"u8, "BASE64")));
        Assert.Equal("Hi", Encoding.ASCII.GetString(TransferDecoding.Decode("SGk"u8, "base64"))); // missing padding
    }

    [Fact]
    public void Quoted_printable_soft_breaks_bad_escapes_and_trailing_space()
    {
        var input = Encoding.ASCII.GetBytes("caf=E9 =ZZ not hex =\r\nsoft break=\r\ncontinued   \r\nlast=3");
        var expected = new byte[] { (byte)'c', (byte)'a', (byte)'f', 0xE9 }.Concat(Encoding.ASCII.GetBytes(" =ZZ not hex soft breakcontinued\r\nlast=3")).ToArray();
        for (int chunk = 1; chunk < 12; chunk++) Assert.Equal(expected, DecodeInChunks("quoted-printable", input, chunk));
        Assert.Equal("a\nb", Encoding.ASCII.GetString(TransferDecoding.Decode("a=\n\nb"u8, "quoted-printable")));
    }

    [Fact]
    public void Charsets_legacy_and_unknown()
    {
        Assert.Equal("Привет", Charsets.Decode([0xF0, 0xD2, 0xC9, 0xD7, 0xC5, 0xD4], "koi8-r"));
        Assert.Equal("日本", Charsets.Decode([0x93, 0xFA, 0x96, 0x7B], "Shift_JIS"));
        Assert.Equal("é", Charsets.Decode([0xC3, 0xA9], "x-unknown"));
        Assert.Equal("é", Charsets.Decode([0xE9], "x-unknown"));
        Assert.Equal("€", Charsets.Decode([0x80], "iso-8859-1"));
    }

    [Fact]
    public void Text_and_preview_of_html_message()
    {
        var raw = ParserTests.B("Content-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n<html><head><style>p{}</style></head><body><p>Caf=E9   &amp;\n<b>cr=E8me</b></p></body></html>\n");
        var s = MessageStructure.Parse(raw);
        Assert.Equal("Café & crème", s.Preview);
        Assert.Contains("Café", MessageText.ExtractText(s, raw), StringComparison.Ordinal);
        Assert.Equal(200, MessageText.MakePreview(new string('x', 500)).Length);
    }
}
