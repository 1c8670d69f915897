using System.Buffers;
using System.Text;
using Postern.Smtp.Protocol;

namespace Postern.Smtp.Tests.Protocol;

public class CodecTests
{
    private sealed class Sink : IMessageSink
    {
        public MemoryStream Data { get; } = new();
        public void Write(ReadOnlySpan<byte> bytes) => Data.Write(bytes);
    }

    private static (DataStatus, string, long) Decode(string input, int chunk)
    {
        var d = new DotDataDecoder(1000);
        var sink = new Sink();
        byte[] all = Encoding.ASCII.GetBytes(input);
        var pending = new List<byte>();
        int pos = 0;
        DataStatus st = DataStatus.NeedMore;
        while (pos < all.Length && st == DataStatus.NeedMore)
        {
            int n = Math.Min(chunk, all.Length - pos);
            pending.AddRange(all.AsSpan(pos, n).ToArray());
            pos += n;
            var seq = new ReadOnlySequence<byte>(pending.ToArray());
            st = d.Decode(ref seq, sink);
            pending = seq.ToArray().ToList();
        }
        return (st, Encoding.ASCII.GetString(sink.Data.ToArray()), pending.Count + (all.Length - pos));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Decoder_unstuffs_and_stops_at_crlf_dot_crlf_whatever_the_chunking(int chunk)
    {
        (DataStatus st, string data, long left) = Decode("a\r\n..b\r\n.\r\nNEXT\r\n", chunk);
        Assert.Equal(DataStatus.Complete, st);
        Assert.Equal("a\r\n.b\r\n", data);
        Assert.Equal(6, left);
    }

    [Theory]
    [InlineData("a\nb\r\n.\r\n", DataStatus.BareLineFeed)]
    [InlineData("a\rb\r\n.\r\n", DataStatus.BareCarriageReturn)]
    [InlineData("a\r\n.\n", DataStatus.BareLineFeed)]
    [InlineData("a\n.\r\n", DataStatus.BareLineFeed)]
    [InlineData("a\r.\r", DataStatus.BareCarriageReturn)]
    [InlineData("a\r\n.\r", DataStatus.NeedMore)]
    [InlineData("a\r\n.\rX", DataStatus.BareCarriageReturn)]
    public void Decoder_refuses_bare_line_endings(string input, DataStatus expected)
    {
        foreach (int chunk in new[] { 1, 2, 100 })
            Assert.Equal(expected, Decode(input, chunk).Item1);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes, Segment? previous)
        {
            Memory = bytes;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }

    /// <summary>A buffer of several segments, as a pipe hands over data that arrived in several reads.</summary>
    private static ReadOnlySequence<byte> Segmented(byte[] all, int[] cuts)
    {
        Segment? first = null, last = null;
        int from = 0;
        foreach (int to in cuts.Append(all.Length))
        {
            last = new Segment(all[from..to], last);
            first ??= last;
            from = to;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    [Fact]
    public void Decoder_gives_the_same_message_whichever_way_lines_fall_across_buffer_segments()
    {
        // Long runs of ordinary lines (decoded in runs), dot-stuffed lines, and an overlong line (refused at the end).
        string body = string.Concat(Enumerable.Range(0, 40).Select(i => i % 7 == 3 ? "..dot " + i + "\r\n" : "line " + i + " of the message\r\n"));
        byte[] input = Encoding.ASCII.GetBytes(body + ".\r\nMAIL FROM:<next@example.org>\r\n");
        string expected = body.Replace("\r\n..", "\r\n.", StringComparison.Ordinal);
        expected = expected.StartsWith("..", StringComparison.Ordinal) ? expected[1..] : expected;
        var random = new Random(7);
        for (int round = 0; round < 200; round++)
        {
            int[] cuts = Enumerable.Range(0, random.Next(1, 6)).Select(_ => random.Next(1, input.Length)).Distinct().Order().ToArray();
            var seq = Segmented(input, cuts);
            var sink = new Sink();
            Assert.Equal(DataStatus.Complete, new DotDataDecoder(1000).Decode(ref seq, sink));
            Assert.Equal(expected, Encoding.ASCII.GetString(sink.Data.ToArray()));
            Assert.Equal("MAIL FROM:<next@example.org>\r\n", Encoding.ASCII.GetString(seq.ToArray()));
        }
        string overlong = "a\r\n" + new string('x', 120) + "\r\nb\r\n.\r\n";
        var longSeq = Segmented(Encoding.ASCII.GetBytes(overlong), [2, 50]);
        var decoder = new DotDataDecoder(100);
        Assert.Equal(DataStatus.Complete, decoder.Decode(ref longSeq, new Sink()));
        Assert.True(decoder.LineTooLong);
    }

    [Fact]
    public void Decoder_drops_overlong_lines_with_bounded_buffering()
    {
        var d = new DotDataDecoder(100);
        var sink = new Sink();
        var seq = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(new string('x', 500)));
        Assert.Equal(DataStatus.NeedMore, d.Decode(ref seq, sink));
        Assert.True(seq.Length <= 1);
        Assert.True(d.LineTooLong);
        seq = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("yy\r\n.\r\n"));
        Assert.Equal(DataStatus.Complete, d.Decode(ref seq, sink));
    }

    [Fact]
    public void Bdat_checker_across_chunks()
    {
        var c = new BdatLineChecker(1000);
        Assert.Equal(DataStatus.NeedMore, c.Check("a\r"u8));
        Assert.Equal(DataStatus.NeedMore, c.Check("\nb\r\n"u8));
        Assert.Equal(DataStatus.Complete, c.Finish());
        Assert.Equal(DataStatus.BareLineFeed, new BdatLineChecker(1000).Check("a\n"u8));
        var c2 = new BdatLineChecker(1000);
        Assert.Equal(DataStatus.NeedMore, c2.Check("a\r"u8));
        Assert.Equal(DataStatus.BareCarriageReturn, c2.Finish());
    }

    [Theory]
    [InlineData("<a@b.example>", "a", "b.example")]
    [InlineData("<\"a b\\\"c\"@b.example>", "a b\"c", "b.example")]
    [InlineData("<a@[192.0.2.1]>", "a", "[192.0.2.1]")]
    [InlineData("<a@[IPv6:2001:db8::1]>", "a", "[IPv6:2001:db8::1]")]
    [InlineData("<@r1.example,@r2.example:a@b.example>", "a", "b.example")]
    public void Paths(string text, string local, string domain)
    {
        int pos = 0;
        SmtpAddress a = SmtpPath.Parse(text, ref pos, false, false, out _)!;
        Assert.Equal(local, a.LocalPart);
        Assert.Equal(domain, a.Domain);
        Assert.Equal(text.Length, pos);
    }

    [Theory]
    [InlineData("<a@b")]
    [InlineData("<a@[300.1.1.1]>")]
    [InlineData("<a@[general:x]>")]
    [InlineData("<.a@b.example>")]
    [InlineData("<a.@b.example>")]
    [InlineData("<a@b-.example>")]
    [InlineData("<é@b.example>")]
    [InlineData("<a@bü.example>")]
    [InlineData("<\"a\x01\"@b.example>")]
    public void Bad_paths(string text)
    {
        int pos = 0;
        Assert.Throws<SmtpSyntaxException>(() => SmtpPath.Parse(text, ref pos, false, false, out _));
    }

    [Fact]
    public void Local_part_and_path_lengths()
    {
        int pos = 0;
        Assert.Throws<SmtpSyntaxException>(() => SmtpPath.Parse("<" + new string('a', 65) + "@b.example>", ref pos, false, false, out _));
        pos = 0;
        Assert.NotNull(SmtpPath.Parse("<" + new string('a', 64) + "@b.example>", ref pos, false, false, out _));
    }

    [Theory]
    [InlineData("a+2Bb", "a+b")]
    [InlineData("plain", "plain")]
    [InlineData("a+2b", null)]
    [InlineData("a=b", null)]
    [InlineData("a+2", null)]
    public void Xtext_decoding(string input, string? expected) => Assert.Equal(expected, Xtext.Decode(input));

    [Fact]
    public void Connection_id_round_trip()
    {
        using var c = new Postern.Smtp.Delivery.ConnectionIdCipher(Postern.Smtp.Delivery.ConnectionIdCipher.NewKey());
        string e = c.Encrypt(123456789);
        Assert.Equal(32, e.Length);
        Assert.Equal(123456789, c.Decrypt(e));
        Assert.Null(c.Decrypt("zz"));
        Assert.Null(c.Decrypt(new string('0', 32)));
    }
}
