using System.Net;
using FsCheck;
using FsCheck.Fluent;
using Postern.Dns;
using Postern.Dns.Wire;

namespace Postern.Dns.Tests;

/// <summary>FsCheck properties of the wire format: no input crashes the reader; writing then reading is lossless.</summary>
public class WirePropertyTests
{
    private static readonly Config Many = Config.QuickThrowOnFailure.WithMaxTest(2000);

    [Fact]
    public void Random_bytes_never_crash_the_reader()
    {
        Check.One(Many, Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), bytes => ReadOrTypedError(bytes)));
    }

    [Fact]
    public void Mutated_valid_messages_never_crash_the_reader()
    {
        Gen<(byte[] Wire, int Position, byte Value, int Cut)> gen =
            from m in MessageGen
            let wire = DnsMessageWriter.Write(m)
            from pos in Gen.Choose(0, wire.Length - 1)
            from value in Gen.Choose(0, 255)
            from cut in Gen.Choose(0, wire.Length)
            select (wire, pos, (byte)value, cut);
        Check.One(Many, Prop.ForAll(gen.ToArbitrary(), t =>
        {
            byte[] copy = (byte[])t.Wire.Clone();
            copy[t.Position] = t.Value;
            return ReadOrTypedError(copy) && ReadOrTypedError(copy.AsSpan(0, t.Cut).ToArray());
        }));
    }

    [Fact]
    public void Written_messages_read_back_identically()
    {
        Check.One(Many, Prop.ForAll(MessageGen.ToArbitrary(), m =>
        {
            DnsMessage back = DnsMessageReader.Read(DnsMessageWriter.Write(m));
            return back.Id == m.Id && back.ResponseCode == m.ResponseCode && back.AuthenticData == m.AuthenticData
                && back.Truncated == m.Truncated
                && back.Questions.SequenceEqual(m.Questions, QuestionComparer.Instance)
                && back.Answers.Select(r => r.ToString()).SequenceEqual(m.Answers.Select(r => r.ToString()))
                && back.Authorities.Select(r => r.ToString()).SequenceEqual(m.Authorities.Select(r => r.ToString()))
                && (back.Edns is null) == (m.Edns is null);
        }));
    }

    private static bool ReadOrTypedError(byte[] bytes)
    {
        try
        {
            DnsMessageReader.Read(bytes);
            return true;
        }
        catch (DnsFormatException)
        {
            return true;
        }
    }

    private static readonly Gen<string> Label =
        from len in Gen.Choose(1, 12)
        from chars in Gen.ArrayOf(Gen.Elements("abcdefghijklmnopqrstuvwxyz0123456789-_".ToCharArray()), len)
        select new string(chars);

    private static readonly Gen<string> Name =
        from n in Gen.Choose(1, 4)
        from labels in Gen.ArrayOf(Gen.Elements("example", "mail", "test", "a", "_dmarc").Or(Label), n)
        select string.Join('.', labels);

    private static readonly Gen<uint> Ttl = Gen.Choose(0, int.MaxValue).Select(i => (uint)i);

    private static readonly Gen<byte[]> Blob = Gen.Choose(0, 40).SelectMany(n => Gen.ArrayOf(Gen.Choose(0, 255).Select(i => (byte)i), n));

    private static readonly Gen<DnsRecord> Record = Gen.OneOf(
        from n in Name from t in Ttl from b in Gen.ArrayOf(Gen.Choose(0, 255).Select(i => (byte)i), 4) select (DnsRecord)new ARecord(n, t, new IPAddress(b)),
        from n in Name from t in Ttl from b in Gen.ArrayOf(Gen.Choose(0, 255).Select(i => (byte)i), 16) select (DnsRecord)new AaaaRecord(n, t, new IPAddress(b)),
        from n in Name from t in Ttl from p in Gen.Choose(0, 65535) from x in Name select (DnsRecord)new MxRecord(n, t, (ushort)p, x),
        from n in Name from t in Ttl from x in Name select (DnsRecord)new CnameRecord(n, t, x),
        from n in Name from t in Ttl from s in Gen.ArrayOf(Blob, 3) select (DnsRecord)new TxtRecord(n, t, s),
        from n in Name from t in Ttl from u in Gen.Choose(0, 3) from d in Blob select (DnsRecord)new TlsaRecord(n, t, (byte)u, 1, 1, d),
        from n in Name from t in Ttl from x in Name from p in Gen.Choose(0, 65535) select (DnsRecord)new SrvRecord(n, t, 1, 2, (ushort)p, x),
        from n in Name from t in Ttl from x in Name from y in Name select (DnsRecord)new SoaRecord(n, t, x, y, 1, 2, 3, 4, 5),
        from n in Name from t in Ttl from d in Blob select (DnsRecord)new CaaRecord(n, t, 0, "issue", d),
        from n in Name from t in Ttl from s in Name from sig in Blob select (DnsRecord)new RrsigRecord(n, t, DnsRecordType.A, 13, 2, 60, 2, 1, 7, s, sig),
        from n in Name from t in Ttl from d in Blob select (DnsRecord)new UnknownRecord(n, (DnsRecordType)999, t, d));

    private static readonly Gen<DnsMessage> MessageGen =
        from id in Gen.Choose(0, 65535)
        from rcode in Gen.Elements(DnsResponseCode.NoError, DnsResponseCode.NXDomain, DnsResponseCode.ServFail, DnsResponseCode.BadVers)
        from ad in ArbMap.Default.GeneratorFor<bool>()
        from tc in ArbMap.Default.GeneratorFor<bool>()
        from q in Name
        from answers in Gen.Choose(0, 6).SelectMany(n => Gen.ArrayOf(Record, n))
        from authorities in Gen.Choose(0, 2).SelectMany(n => Gen.ArrayOf(Record, n))
        from edns in ArbMap.Default.GeneratorFor<bool>()
        select new DnsMessage
        {
            Id = (ushort)id,
            IsResponse = true,
            ResponseCode = edns || rcode != DnsResponseCode.BadVers ? rcode : DnsResponseCode.NoError,
            AuthenticData = ad,
            Truncated = tc,
            Questions = { new DnsQuestion(q, DnsRecordType.MX) },
            Answers = [.. answers],
            Authorities = [.. authorities],
            Edns = edns ? new DnsEdns() : null,
        };

    private sealed class QuestionComparer : IEqualityComparer<DnsQuestion>
    {
        public static readonly QuestionComparer Instance = new();
        public bool Equals(DnsQuestion? x, DnsQuestion? y) => x!.Type == y!.Type && DnsName.Equals(x.Name, y.Name);
        public int GetHashCode(DnsQuestion obj) => 0;
    }
}

/// <summary>Properties of name handling.</summary>
public class DnsNamePropertyTests
{
    [Fact]
    public void Arbitrary_strings_never_crash_normalization_and_valid_results_encode()
    {
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(2000), Prop.ForAll(ArbMap.Default.ArbFor<string>(), s =>
        {
            if (!DnsName.TryNormalize(s, out string? n, out _)) return true;
            // A normalized name is stable and fits in a query.
            return DnsName.Normalize(n) == n && DnsMessageReader.Read(DnsMessageWriter.BuildQuery(1, n, DnsRecordType.A)).Questions[0].Name == n;
        }));
    }
}
