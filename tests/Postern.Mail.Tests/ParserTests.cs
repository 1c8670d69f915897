using System.Text;
using Postern.Mail;

namespace Postern.Mail.Tests;

public class ParserTests
{
    internal static byte[] B(string s) => Encoding.UTF8.GetBytes(s.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal));

    internal static string Slice(byte[] raw, long a, long b) => Encoding.UTF8.GetString(raw, (int)a, (int)(b - a));

    private const string Multipart = """
        From: Alice <alice@example.com>
        To: bob@example.org
        Subject: Hello
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="XYZ"

        preamble
        --XYZ
        Content-Type: text/plain; charset=utf-8

        Hi Bob,
        line two
        --XYZ
        Content-Type: application/pdf; name="a.pdf"
        Content-Transfer-Encoding: base64
        Content-Disposition: attachment; filename="report.pdf"

        JVBERi0xLjQK
        --XYZ--
        epilogue
        """;

    [Fact]
    public void Multipart_offsets_and_lines()
    {
        var raw = B(Multipart);
        var s = MessageStructure.Parse(raw);
        Assert.Equal("multipart/mixed", s.Root.ContentType);
        Assert.Equal(2, s.Root.Children.Count);
        var p1 = s.FindPart("1")!;
        Assert.Equal("text/plain", p1.ContentType);
        Assert.Equal("utf-8", p1.Charset);
        Assert.Equal("Hi Bob,\r\nline two", Slice(raw, p1.BodyStart, p1.End));
        Assert.Equal(2, p1.BodyLines);
        Assert.Equal("Content-Type: text/plain; charset=utf-8\r\n\r\n", Slice(raw, p1.HeaderStart, p1.BodyStart));
        var p2 = s.FindPart("2")!;
        Assert.Equal("report.pdf", p2.FileName);
        Assert.Equal("base64", p2.ContentTransferEncoding);
        Assert.Equal("attachment", p2.Disposition);
        Assert.Equal("JVBERi0xLjQK", Slice(raw, p2.BodyStart, p2.End));
        Assert.Equal("%PDF-1.4\n", Encoding.ASCII.GetString(TransferDecoding.Decode(raw.AsSpan((int)p2.BodyStart, (int)p2.BodyOctets), p2.ContentTransferEncoding)));
        Assert.Equal(raw.Length, s.Root.End);
        Assert.Equal("Hello", s.Envelope.Subject);
        Assert.Equal("alice", s.Envelope.From[0].Mailbox);
        Assert.Equal("Alice", s.Envelope.From[0].Name);
        Assert.Equal("example.com", s.Envelope.From[0].Host);
        Assert.Same(s.Envelope.From, s.Envelope.Sender);
        Assert.Equal("Hi Bob, line two", s.Preview);
        Assert.Null(s.FindPart("3"));
        Assert.Empty(s.Warnings);
    }

    [Fact]
    public void Chunked_parse_equals_whole_parse_for_every_split()
    {
        var raw = B(Multipart);
        var whole = MessageStructure.Parse(raw).ToBytes();
        for (int chunk = 1; chunk < 40; chunk++)
        {
            var p = new MessageParser();
            for (int i = 0; i < raw.Length; i += chunk) p.Append(raw.AsSpan(i, Math.Min(chunk, raw.Length - i)));
            Assert.Equal(whole, p.Complete().ToBytes());
        }
    }

    [Fact]
    public void Single_part_message_is_part_1_and_counts_lines()
    {
        var raw = B("Subject: x\n\nline1\nline2\n");
        var s = MessageStructure.Parse(raw);
        Assert.Same(s.Root, s.FindPart("1"));
        Assert.Equal(2, s.Root.BodyLines);
        Assert.Equal("line1\r\nline2\r\n", Slice(raw, s.Root.BodyStart, s.Root.End));
        Assert.Null(s.FindPart("2"));
    }

    [Fact]
    public void Bare_lf_message_parses_with_offsets_into_raw_bytes()
    {
        var raw = Encoding.ASCII.GetBytes("Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nplain\n--b\nContent-Type: text/html\n\n<p>html</p>\n--b--\n");
        var s = MessageStructure.Parse(raw);
        Assert.Equal(2, s.Root.Children.Count);
        Assert.Equal("plain", Slice(raw, s.Root.Children[0].BodyStart, s.Root.Children[0].End));
        Assert.Equal("<p>html</p>", Slice(raw, s.Root.Children[1].BodyStart, s.Root.Children[1].End));
        Assert.Equal(1, s.Root.Children[1].BodyLines);
    }

    [Fact]
    public void Embedded_message_sections_follow_imap_numbering()
    {
        var raw = B("""
            Content-Type: multipart/mixed; boundary=outer

            --outer
            Content-Type: text/plain

            body
            --outer
            Content-Type: message/rfc822

            Subject: inner
            From: "Carol Q. Public" <carol@example.net>
            Content-Type: multipart/alternative; boundary=inner

            --inner
            Content-Type: text/plain

            inner plain
            --inner
            Content-Type: text/html

            <b>inner</b>
            --inner--
            --outer--
            """);
        var s = MessageStructure.Parse(raw);
        var p2 = s.FindPart("2")!;
        Assert.True(p2.IsEmbeddedMessage);
        Assert.Equal("inner", p2.EmbeddedMessage!.Envelope!.Subject);
        Assert.Equal("Carol Q. Public", p2.EmbeddedMessage.Envelope.From[0].Name);
        Assert.Equal("text/plain", s.FindPart("2.1")!.ContentType);
        Assert.Equal("inner plain", Slice(raw, s.FindPart("2.1")!.BodyStart, s.FindPart("2.1")!.End));
        Assert.Equal("2.2", s.FindPart("2.2")!.Section);
        Assert.Equal("text/html", s.FindPart("2.2")!.ContentType);
        Assert.Null(s.FindPart("2.3"));
        Assert.Null(s.FindPart("1.1"));
        Assert.Equal(p2.BodyStart, p2.EmbeddedMessage.HeaderStart);
    }

    [Fact]
    public void Missing_close_delimiter_and_missing_boundary_are_tolerated()
    {
        var raw = B("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst\n--b\n\nsecond\n");
        var s = MessageStructure.Parse(raw);
        Assert.Equal(2, s.Root.Children.Count);
        Assert.Equal("second\r\n", Slice(raw, s.Root.Children[1].BodyStart, s.Root.Children[1].End));
        Assert.Contains(s.Warnings, w => w.Kind == ParseWarningKind.MissingCloseDelimiter);

        var none = MessageStructure.Parse(B("Content-Type: multipart/mixed\n\nno boundary here\n"));
        Assert.Empty(none.Root.Children);
        Assert.Contains(none.Warnings, w => w.Kind == ParseWarningKind.MissingBoundary);
    }

    [Fact]
    public void Outer_boundary_closes_unterminated_inner_multipart()
    {
        var raw = B("Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/alternative; boundary=b\n\n--b\n\nx\n--a\n\ny\n--a--\n");
        var s = MessageStructure.Parse(raw);
        Assert.Equal(2, s.Root.Children.Count);
        Assert.Single(s.Root.Children[0].Children);
        Assert.Equal("x", Slice(raw, s.Root.Children[0].Children[0].BodyStart, s.Root.Children[0].Children[0].End));
        Assert.Equal("y", Slice(raw, s.Root.Children[1].BodyStart, s.Root.Children[1].End));
    }

    [Fact]
    public void Depth_limit_keeps_the_rest_opaque()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 100; i++) sb.Append($"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n");
        sb.Append("\ndeep\n");
        var s = MessageStructure.Parse(B(sb.ToString()), new MessageLimits(MaxDepth: 10));
        Assert.Contains(s.Warnings, w => w.Kind == ParseWarningKind.TooDeep);
        Assert.True(s.Truncated);
        Assert.True(s.Root.Walk().Count() <= 11);
    }

    [Fact]
    public void Part_limit_keeps_the_rest_opaque()
    {
        var sb = new StringBuilder("Content-Type: multipart/mixed; boundary=b\n\n");
        for (int i = 0; i < 100; i++) sb.Append($"--b\n\npart {i}\n");
        sb.Append("--b--\n");
        var s = MessageStructure.Parse(B(sb.ToString()), new MessageLimits(MaxParts: 10));
        Assert.Equal(10, s.Root.Walk().Count());
        Assert.Contains(s.Warnings, w => w.Kind == ParseWarningKind.TooManyParts);
        Assert.Equal(s.Size, s.Root.Children[^1].End);
    }

    [Fact]
    public void Huge_header_block_is_cut_at_the_limit()
    {
        var sb = new StringBuilder("Subject: big\n");
        for (int i = 0; i < 5000; i++) sb.Append($"X-Filler-{i}: {new string('a', 50)}\n");
        sb.Append("\nbody\n");
        var raw = B(sb.ToString());
        var s = MessageStructure.Parse(raw, new MessageLimits(MaxHeaderBlockBytes: 10_000));
        Assert.Contains(s.Warnings, w => w.Kind == ParseWarningKind.HeaderBlockTooLarge);
        Assert.Equal("big", s.Envelope.Subject);
        Assert.True(s.Root.BodyStart < 11_000);
        Assert.Equal(raw.Length, s.Root.End);
    }

    [Fact]
    public void Header_without_body_and_nul_bytes()
    {
        var raw = Encoding.ASCII.GetBytes("Subject: a\0b\r\nFrom: x@y");
        var s = MessageStructure.Parse(raw);
        Assert.Equal(raw.Length, s.Root.BodyStart);
        Assert.Equal(0, s.Root.BodyOctets);
        Assert.Contains(s.Warnings, w => w.Kind == ParseWarningKind.NulBytes);
        Assert.Equal("x", s.Envelope.From[0].Mailbox);
    }

    [Fact]
    public void Large_message_parses_in_chunks_without_keeping_bodies()
    {
        var head = B("Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n");
        var line = Encoding.ASCII.GetBytes(new string('A', 76) + "\r\n");
        var p = new MessageParser();
        p.Append(head);
        var block = new byte[line.Length * 1000];
        for (int i = 0; i < 1000; i++) line.CopyTo(block, i * line.Length);
        for (int i = 0; i < 200; i++) p.Append(block); // ~15 MB
        p.Append(B("--zz--\n"));
        var s = p.Complete();
        var part = s.FindPart("1")!;
        Assert.Equal(200_000, part.BodyLines);
        Assert.Equal(200L * block.Length - 2, part.BodyOctets);
    }
}

public class BoundedMemoryTests
{
    [Fact]
    public void Feeding_100_MB_allocates_almost_nothing()
    {
        var p = new MessageParser();
        p.Append(ParserTests.B("Subject: big\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"));
        var line = System.Text.Encoding.ASCII.GetBytes(new string('Q', 76) + "\r\n");
        var chunk = new byte[64 * 1024 / line.Length * line.Length];
        for (int i = 0; i < chunk.Length; i += line.Length) line.CopyTo(chunk, i);
        p.Append(chunk); // warm
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (long fed = 0; fed < 100_000_000; fed += chunk.Length) p.Append(chunk);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 64 * 1024, $"allocated {allocated} bytes while streaming the body");
        p.Append(ParserTests.B("\n--q--\n"));
        var s = p.Complete();
        Assert.True(s.FindPart("1")!.BodyOctets > 100_000_000);
    }

    [Fact]
    public void Long_lines_and_headers_stay_within_limits()
    {
        var p = new MessageParser(new MessageLimits(MaxHeaderBlockBytes: 4096, MaxLineBytes: 256));
        var junk = new byte[1_000_000];
        Array.Fill(junk, (byte)'x');
        p.Append("X-Long: "u8);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) p.Append(junk); // a 20 MB header line
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);
        var s = p.Complete();
        Assert.Contains(s.Warnings, w => w.Kind == ParseWarningKind.HeaderBlockTooLarge);
        Assert.Equal(20_000_008, s.Size);
    }

    [Fact]
    public void Top_level_message_rfc822_and_message_global_sections()
    {
        var raw = ParserTests.B("Content-Type: message/rfc822\n\nSubject: inner\nContent-Type: multipart/mixed; boundary=z\n\n--z\n\na\n--z\nContent-Type: message/global\n\nSubject: =?utf-8?q?deep?=\n\nd\n--z--\n");
        var s = MessageStructure.Parse(raw);
        Assert.Same(s.Root, s.FindPart("1"));
        Assert.Equal("inner", s.Root.EmbeddedMessage!.Envelope!.Subject);
        Assert.Equal("1.1", s.FindPart("1.1")!.Section);
        Assert.Equal("a", ParserTests.Slice(raw, s.FindPart("1.1")!.BodyStart, s.FindPart("1.1")!.End));
        var global = s.FindPart("1.2")!;
        Assert.Equal("deep", global.EmbeddedMessage!.Envelope!.DecodedSubject);
        Assert.Same(global.EmbeddedMessage, s.FindPart("1.2.1"));
        Assert.Equal("d", ParserTests.Slice(raw, s.FindPart("1.2.1")!.BodyStart, s.FindPart("1.2.1")!.End));
        var back = MessageStructure.FromBytes(s.ToBytes());
        Assert.Same(back.FindPart("1.2")!.EmbeddedMessage, back.FindPart("1.2.1"));
        Assert.Equal("deep", back.FindPart("1.2")!.EmbeddedMessage!.Envelope!.DecodedSubject);
    }
}
