using System.Net;
using Postern.Dns;
using Postern.Dns.Wire;

namespace Postern.Dns.Tests;

public class WireReaderTests
{
    private static readonly byte[] Header1Answer = [0x12, 0x34, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];

    [Fact]
    public void Reads_compressed_names_in_a_real_response_layout()
    {
        var m = new DnsMessage
        {
            Id = 7,
            IsResponse = true,
            Questions = { new DnsQuestion("example.com", DnsRecordType.MX) },
            Answers =
            {
                new MxRecord("example.com", 300, 10, "mail.example.com"),
                new MxRecord("example.com", 300, 20, "backup.example.com"),
            },
        };
        byte[] wire = DnsMessageWriter.Write(m);
        // The second owner name and the exchange suffixes are compressed: the message is small.
        Assert.True(wire.Length < 80, $"length {wire.Length}");
        DnsMessage back = DnsMessageReader.Read(wire);
        Assert.Equal(["10 mail.example.com.", "20 backup.example.com."], back.Answers.Select(a => a.FormatData()));
        Assert.All(back.Answers, a => Assert.Equal("example.com", a.Name));
    }

    [Fact]
    public void Rejects_a_compression_pointer_to_itself()
    {
        byte[] wire = [.. Header1Answer, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4];
        var e = Assert.Throws<DnsFormatException>(() => DnsMessageReader.Read(wire));
        Assert.Equal(DnsFormatError.BadCompressionPointer, e.Error);
    }

    [Fact]
    public void Rejects_a_forward_compression_pointer()
    {
        byte[] wire = [.. Header1Answer, 0xC0, 20, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4, 1, (byte)'a', 0];
        Assert.Equal(DnsFormatError.BadCompressionPointer, Assert.Throws<DnsFormatException>(() => DnsMessageReader.Read(wire)).Error);
    }

    [Fact]
    public void Rejects_a_two_pointer_loop()
    {
        // Label "a" then pointer to offset 12 at offset 14; the owner name at 16 points to 14.
        byte[] wire = [0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 1, (byte)'a', 0xC0, 12, 0xC0, 14, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4];
        // Answer owner starts at 12: "a" then pointer back to 12 = loop.
        Assert.Equal(DnsFormatError.BadCompressionPointer, Assert.Throws<DnsFormatException>(() => DnsMessageReader.Read(wire)).Error);
    }

    [Fact]
    public void Rejects_reserved_label_types()
    {
        byte[] wire = [.. Header1Answer, 0x41, 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4];
        Assert.Equal(DnsFormatError.BadLabelType, Assert.Throws<DnsFormatException>(() => DnsMessageReader.Read(wire)).Error);
    }

    [Fact]
    public void Rejects_names_longer_than_255_octets()
    {
        var name = new List<byte>();
        for (int i = 0; i < 5; i++) { name.Add(63); name.AddRange(Enumerable.Repeat((byte)'x', 63)); }
        name.Add(0);
        byte[] wire = [.. Header1Answer, .. name, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4];
        Assert.Equal(DnsFormatError.NameTooLong, Assert.Throws<DnsFormatException>(() => DnsMessageReader.Read(wire)).Error);
    }

    [Fact]
    public void Rejects_truncated_messages_at_every_length()
    {
        var m = new DnsMessage
        {
            IsResponse = true,
            Questions = { new DnsQuestion("example.com", DnsRecordType.TXT) },
            Answers = { new TxtRecord("example.com", 60, "v=spf1 -all"), new ARecord("example.com", 60, IPAddress.Parse("192.0.2.1")) },
            Edns = new DnsEdns(),
        };
        byte[] wire = DnsMessageWriter.Write(m);
        for (int n = 0; n < wire.Length; n++)
        {
            var e = Assert.Throws<DnsFormatException>(() => DnsMessageReader.Read(wire.AsSpan(0, n)));
            Assert.Equal(DnsFormatError.Truncated, e.Error);
        }
        Assert.Equal(2, DnsMessageReader.Read(wire).Answers.Count);
    }

    [Fact]
    public void Rejects_record_counts_the_message_cannot_hold()
    {
        byte[] wire = [0, 1, 0x81, 0x80, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0];
        Assert.Throws<DnsFormatException>(() => DnsMessageReader.Read(wire));
    }

    [Fact]
    public void Rejects_rdata_that_does_not_fit_its_type()
    {
        // An A record with 5 octets of data.
        byte[] wire = [.. Header1Answer, 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 1, 2, 3, 4, 5];
        Assert.Equal(DnsFormatError.BadRecordData, Assert.Throws<DnsFormatException>(() => DnsMessageReader.Read(wire)).Error);
        // A CNAME whose name runs past RDLENGTH.
        byte[] cname = [.. Header1Answer, 0, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 3, (byte)'a', (byte)'b', (byte)'c', 0];
        Assert.Throws<DnsFormatException>(() => DnsMessageReader.Read(cname));
    }

    [Fact]
    public void Rejects_a_second_opt_record()
    {
        var m = new DnsMessage { Edns = new DnsEdns() };
        byte[] one = DnsMessageWriter.Write(m);
        byte[] opt = one[12..];
        byte[] two = [.. one, .. opt];
        two[11] = 2;
        Assert.Equal(DnsFormatError.BadEdns, Assert.Throws<DnsFormatException>(() => DnsMessageReader.Read(two)).Error);
    }

    [Fact]
    public void Reads_extended_rcode_and_extended_errors()
    {
        var m = new DnsMessage { IsResponse = true, ResponseCode = DnsResponseCode.BadVers, Edns = new DnsEdns() };
        m.Edns.Options.Add(new EdnsOption(DnsEdns.ExtendedErrorOptionCode, new ExtendedDnsError(6, "bad sig\n\u001bforged").Encode()));
        DnsMessage back = DnsMessageReader.Read(DnsMessageWriter.Write(m));
        Assert.Equal(DnsResponseCode.BadVers, back.ResponseCode);
        ExtendedDnsError ede = Assert.Single(back.Edns!.ExtendedErrors);
        Assert.Equal(6, ede.InfoCode);
        Assert.Equal("DNSSEC Bogus", ede.Description);
        Assert.DoesNotContain('\n', ede.ExtraText);
        Assert.StartsWith("EDE 6 (DNSSEC Bogus): bad sig", ede.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Escapes_unusual_bytes_in_names()
    {
        var m = new DnsMessage { Questions = { new DnsQuestion(@"a\.b\032c.example", DnsRecordType.A) } };
        DnsMessage back = DnsMessageReader.Read(DnsMessageWriter.Write(m));
        Assert.Equal(@"a\.b\032c.example", back.Questions[0].Name);
    }

    [Fact]
    public void Every_record_type_round_trips_with_its_zone_file_form()
    {
        DnsRecord[] records =
        [
            new ARecord("h.example", 1, IPAddress.Parse("192.0.2.1")),
            new AaaaRecord("h.example", 2, IPAddress.Parse("2001:db8::1")),
            new NsRecord("example", 3, "ns1.example"),
            new CnameRecord("www.example", 4, "h.example"),
            new SoaRecord("example", 5, "ns1.example", "hostmaster.example", 2024010101, 7200, 3600, 1209600, 300),
            new PtrRecord("1.2.0.192.in-addr.arpa", 6, "h.example"),
            new MxRecord("example", 7, 10, "mx.example"),
            new TxtRecord("example", 8, [[.. "v=spf1 "u8], [.. "-all \"q\""u8]]),
            new SrvRecord("_imaps._tcp.example", 9, 0, 1, 993, "imap.example"),
            new TlsaRecord("_25._tcp.mx.example", 10, 3, 1, 1, Convert.FromHexString("AABBCC")),
            new CaaRecord("example", 11, 128, "issue", [.. "letsencrypt.org"u8]),
            new DsRecord("example", 12, 12345, 13, 2, Convert.FromHexString("0102")),
            new DnskeyRecord("example", 13, 257, 3, 13, [1, 2, 3]),
            new RrsigRecord("example", 14, DnsRecordType.MX, 13, 1, 300, 1_800_000_000, 1_700_000_000, 12345, "example", [9, 9]),
            new UnknownRecord("example", (DnsRecordType)65280, 15, [0xDE, 0xAD]),
        ];
        var m = new DnsMessage { IsResponse = true };
        m.Answers.AddRange(records);
        DnsMessage back = DnsMessageReader.Read(DnsMessageWriter.Write(m));
        Assert.Equal(records.Select(r => r.ToString()), back.Answers.Select(r => r.ToString()));
        Assert.Equal("example. 7 IN MX 10 mx.example.", back.Answers[6].ToString());
        Assert.Equal("\"v=spf1 \" \"-all \\\"q\\\"\"", back.Answers[7].FormatData());
        Assert.Equal("v=spf1 -all \"q\"", ((TxtRecord)back.Answers[7]).Text);
        Assert.Equal("_25._tcp.mx.example. 10 IN TLSA 3 1 1 aabbcc", back.Answers[9].ToString());
        Assert.Equal(@"example. 15 IN TYPE65280 \# 2 DEAD", back.Answers[14].ToString());
    }
}
