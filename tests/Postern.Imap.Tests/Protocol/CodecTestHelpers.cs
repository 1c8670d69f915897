using System.IO.Pipelines;
using System.Text;
using Postern.Imap.Protocol;

namespace Postern.Imap.Tests.Protocol;

/// <summary>Feeds bytes to an ImapCommandReader and records continuations.</summary>
internal sealed class ReaderHarness
{
    public Pipe Pipe { get; } = new();
    public ImapCommandReader Reader { get; }
    public int Continuations { get; private set; }

    public ReaderHarness(ImapLimits? limits = null)
    {
        Reader = new ImapCommandReader(Pipe.Reader, limits ?? ImapLimits.Default)
        {
            SendContinuation = _ => { Continuations++; return ValueTask.CompletedTask; },
        };
    }

    public async Task WriteAsync(string s)
    {
        await Pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(s));
    }

    public async Task WriteAsync(byte[] b) => await Pipe.Writer.WriteAsync(b);

    public async Task CompleteAsync() => await Pipe.Writer.CompleteAsync();

    public ValueTask<ReadOutcome> ReadAsync() => Reader.ReadCommandAsync(CancellationToken.None);

    public static async Task<TaggedCommand> ParseAsync(string wire, bool utf8 = true)
    {
        var h = new ReaderHarness();
        await h.WriteAsync(wire);
        var outcome = await h.ReadAsync();
        Assert.Equal(ReadOutcomeKind.Command, outcome.Kind);
        return ImapCommandParser.Parse(outcome.Command!, utf8, ImapLimits.Default);
    }

    public static async Task<string> ParseErrorAsync(string wire)
    {
        var h = new ReaderHarness();
        await h.WriteAsync(wire);
        var outcome = await h.ReadAsync();
        Assert.Equal(ReadOutcomeKind.Command, outcome.Kind);
        var ex = Assert.Throws<ImapParseException>(() => ImapCommandParser.Parse(outcome.Command!, true, ImapLimits.Default));
        return ex.Message;
    }
}
