using Postern.Mail;

namespace Postern.Mail.Tests;

public class SerializationTests
{
    [Fact]
    public void Every_corpus_structure_round_trips()
    {
        foreach (var file in CorpusComparisonTests.CorpusFiles())
        {
            var s = MessageStructure.Parse(File.ReadAllBytes(file));
            var bytes = s.ToBytes();
            var back = MessageStructure.FromBytes(bytes);
            Assert.Equal(bytes, back.ToBytes());
            Assert.Equal(s.Root.Walk().Select(p => p.Section + " " + p.ContentType + " " + p.BodyStart + " " + p.End + " " + p.BodyLines + " " + p.FileName),
                back.Root.Walk().Select(p => p.Section + " " + p.ContentType + " " + p.BodyStart + " " + p.End + " " + p.BodyLines + " " + p.FileName));
            Assert.Equal(s.Envelope.From, back.Envelope.From);
            Assert.Equal(s.Envelope.Subject, back.Envelope.Subject);
            Assert.Equal(s.Preview, back.Preview);
            Assert.Equal(s.Warnings, back.Warnings);
        }
    }

    [Fact]
    public void Corrupt_or_unknown_data_is_a_format_exception()
    {
        var good = MessageStructure.Parse(ParserTests.B("Subject: x\n\nbody")).ToBytes();
        Assert.Throws<FormatException>(() => MessageStructure.FromBytes([]));
        Assert.Throws<FormatException>(() => MessageStructure.FromBytes([(byte)'P', (byte)'M', (byte)'S', 99]));
        for (int i = 4; i < good.Length; i++)
        {
            try { MessageStructure.FromBytes(good.AsSpan(0, i)); }
            catch (FormatException) { }
        }
    }
}
