using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Postern.Mail;
using Postern.Tests.Shared;

namespace Postern.Mail.Tests;

public class PropertyTests
{
    private static readonly string[] Pieces =
    [
        "Content-Type: multipart/mixed; boundary=b\r\n", "Content-Type: multipart/alternative; boundary=\"c\"\r\n",
        "Content-Type: message/rfc822\r\n", "Content-Type: text/plain\r\n", "\r\n", "\n", "\r", "--b\r\n", "--b--\r\n",
        "--c\n", "--c--", "Subject: =?utf-8?q?x?=\r\n", "From: a@b\r\n", " folded\r\n", "body text\r\n", "\0", "\u00e9",
        "Content-Transfer-Encoding: base64\r\n", "QUJD\r\n", "--", "b", ":",
    ];

    private static void CheckInvariants(byte[] raw)
    {
        var s = MessageStructure.Parse(raw, new MessageLimits(MaxDepth: 8, MaxParts: 40, MaxHeaderBlockBytes: 300, MaxLineBytes: 64));
        Assert.Equal(raw.Length, s.Size);
        Check(s.Root, 0, raw.Length);
        var back = MessageStructure.FromBytes(s.ToBytes());
        Assert.Equal(s.ToBytes(), back.ToBytes());
        // Chunked feeding gives the same structure.
        var p = new MessageParser(new MessageLimits(MaxDepth: 8, MaxParts: 40, MaxHeaderBlockBytes: 300, MaxLineBytes: 64));
        for (int i = 0; i < raw.Length; i += 7) p.Append(raw.AsSpan(i, Math.Min(7, raw.Length - i)));
        Assert.Equal(s.ToBytes(), p.Complete().ToBytes());
    }

    private static void Check(MessagePart p, long lo, long hi)
    {
        Assert.True(lo <= p.HeaderStart && p.HeaderStart <= p.BodyStart && p.BodyStart <= p.End && p.End <= hi, p.ToString());
        Assert.True(p.BodyLines >= 0);
        foreach (var c in p.Children) Check(c, p.BodyStart, p.End);
        if (p.EmbeddedMessage is { } em) Check(em, p.BodyStart, p.End);
    }

    [Fact]
    public void Random_bytes_never_throw_and_offsets_nest() =>
        Prop.ForAll((byte[] raw) => { CheckInvariants(raw); return true; }).QuickCheckThrowOnFailure();

    [Fact]
    public void Random_mime_like_input_never_throws_and_offsets_nest()
    {
        var gen = Gen.ListOf(Gen.Elements(Pieces)).Select(list => Encoding.UTF8.GetBytes(string.Concat(list)));
        Prop.ForAll(gen.ToArbitrary(), raw => { CheckInvariants(raw); return true; })
            .Check(Config.QuickThrowOnFailure.WithMaxTest(500));
    }

    private static readonly byte[][] CorpusMessages = Mutations.Corpus();

    [Fact]
    public void Mutated_corpus_messages_keep_the_invariants_and_their_text_decodes()
    {
        // Real-world shapes (the 256 corpus messages) with a few bytes changed reach corners of the
        // MIME, header and charset code that random bytes never get to.
        Prop.ForAll(Mutations.Of(CorpusMessages), raw =>
        {
            try
            {
                CheckInvariants(raw);
                var s = MessageStructure.Parse(raw);
                _ = Envelope.FromHeaders(s.Root.ParseHeaders(raw));
                _ = MessageText.ExtractText(s, raw);
                return s.Size == raw.Length;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new InvalidOperationException($"input {Mutations.Show(raw)}: {e.GetType().Name}: {e.Message}", e);
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(Mutations.Runs(1000)));
    }

    private static readonly string[] TextPieces =
    [
        "\"", "\\", "(", ")", "<", ">", "@", ",", ";", ":", ".", "[", "]", " ", "\t", "\r\n", "=?", "?=", "?q?", "?b?",
        "utf-8", "a", "b", "é", "日本", "=C3", "_", "=", "'", "*", "*0", "*1*", "%", "%E9", "name", "filename",
    ];

    [Fact]
    public void Header_value_parsers_never_throw()
    {
        var gen = Gen.ListOf(Gen.Elements(TextPieces)).Select(string.Concat);
        Prop.ForAll(gen.ToArbitrary(), text =>
        {
            _ = AddressParser.Parse(text);
            _ = MailAddress.TryParse(text);
            _ = EncodedWords.DecodeUnstructured(text);
            _ = MimeFieldValue.Parse(text);
            _ = MimeFieldValue.Parse("x/y; " + text);
            _ = MailDate.Parse(text);
            _ = Threading.BaseSubject(text);
            _ = Threading.ParseMessageIds(text);
            _ = MessageText.StripHtml(text);
            _ = HeaderList.Parse(Encoding.UTF8.GetBytes(text));
            return EncodedWords.DecodeUnstructured(EncodedWords.EncodeUnstructured(text)) == text;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(1000));
    }

    [Fact]
    public void Transfer_decoders_never_throw_and_chunking_does_not_matter()
    {
        Prop.ForAll((byte[] input, bool qp) =>
        {
            string cte = qp ? "quoted-printable" : "base64";
            var whole = TransferDecoding.Decode(input, cte);
            var d = TransferDecoding.Create(cte);
            var output = new List<byte>();
            var buf = new byte[input.Length + 8];
            for (int i = 0; i < input.Length; i += 3)
            {
                int n = d.Decode(input.AsSpan(i, Math.Min(3, input.Length - i)), buf);
                output.AddRange(buf.AsSpan(0, n).ToArray());
            }
            output.AddRange(buf.AsSpan(0, d.Flush(buf)).ToArray());
            return whole.SequenceEqual(output);
        }).QuickCheckThrowOnFailure();
    }
}
