using FsCheck;
using FsCheck.Fluent;
using Postern.Imap.Protocol;
using Postern.Tests.Shared;

namespace Postern.Imap.Tests.Protocol;

/// <summary>
/// FsCheck properties of the command reader and parser together, on mutated valid commands (literals,
/// nested lists, sections, search keys, dates): the reader gives commands, refusals or the end, and
/// the parser a command or an <see cref="ImapParseException"/> (a tagged BAD), never another exception.
/// </summary>
public class ParserPropertyTests
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(Mutations.Runs(3000));

    private static readonly string[] Seeds =
    [
        "a1 CAPABILITY\r\nA2 LOGIN alice \"se\\\"cret\"\r\n",
        "a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
        "a SELECT INBOX (CONDSTORE QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
        "a UID FETCH 1:*,5 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From \"To\")]<0.100> BINARY[2] BINARY.SIZE[2] MODSEQ PREVIEW (LAZY) SAVEDATE) (CHANGEDSINCE 12345 VANISHED)\r\n",
        "a FETCH $ (ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE BODY[TEXT] BODY[1.MIME] EMAILID THREADID)\r\n",
        "a UID SEARCH RETURN (MIN MAX COUNT SAVE) CHARSET UTF-8 OR FROM \"bob\" (SINCE 1-Jan-2020 NOT SEEN LARGER 100) UID 1:5,7 HEADER Subject {5+}\r\nhello MODSEQ 4\r\n",
        "a SEARCH NOT (OR KEYWORD $Junk UNKEYWORD $NotJunk) BEFORE 31-Dec-2025 BODY x TEXT \"y z\" SENTON 2-Feb-2024 YOUNGER 300\r\n",
        "a APPEND INBOX (\\Seen $Forwarded) \"01-Jan-2020 10:00:00 +0100\" {11}\r\nhello world\r\n",
        "a APPEND Sent UTF8 (~{5+}\r\nhi\r\n\r\n)\r\n",
        "a MULTIAPPEND INBOX {3+}\r\nabc (\\Draft) {2+}\r\nde\r\n",
        "a UID STORE 1:3 +FLAGS.SILENT (\\Deleted \\Answered) (UNCHANGEDSINCE 5)\r\n",
        "a COPY 1:2 \"Archive/2024\"\r\na MOVE 3 Trash\r\na UID EXPUNGE 4:9\r\n",
        "a LIST (SUBSCRIBED REMOTE) \"\" (\"INBOX\" \"Lists/%\") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))\r\n",
        "a STATUS \"&ZeVnLIqe-\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ APPENDLIMIT MAILBOXID)\r\n",
        "a CREATE Projects/Postern (USE (\\Archive))\r\na RENAME Old New\r\na DELETE Gone\r\n",
        "a ENABLE UTF8=ACCEPT CONDSTORE QRESYNC\r\na ID (\"name\" \"client\" \"version\" NIL)\r\na IDLE\r\nDONE\r\n",
        "a SETMETADATA INBOX (/private/comment \"x\" /shared/admin NIL)\r\na GETMETADATA (MAXSIZE 100 DEPTH infinity) \"\" /shared/comment\r\n",
        "a SORT (REVERSE ARRIVAL SUBJECT) UTF-8 ALL\r\na THREAD REFERENCES UTF-8 SEEN\r\n",
        "a GETQUOTAROOT INBOX\r\na NAMESPACE\r\na UNSELECT\r\na CLOSE\r\na LOGOUT\r\n",
        "a COMPRESS DEFLATE\r\na STARTTLS\r\na NOOP\r\n",
    ];

    [Fact]
    public async Task Mutated_commands_give_commands_refusals_or_bad_never_an_exception()
    {
        // FsCheck's properties are synchronous; the reader is fed from a completed pipe, so it never waits.
        Prop.ForAll(Mutations.Of(Seeds), input => ReadAndParse(input).GetAwaiter().GetResult()).Check(Runs);
        await Task.CompletedTask;
    }

    private static async Task<bool> ReadAndParse(byte[] input)
    {
        var h = new ReaderHarness();
        await h.WriteAsync(input);
        await h.CompleteAsync();
        try
        {
            for (int i = 0; i < 100; i++)
            {
                ReadOutcome outcome = await h.ReadAsync();
                switch (outcome.Kind)
                {
                    case ReadOutcomeKind.EndOfStream:
                    case ReadOutcomeKind.Fatal:
                        return true;
                    case ReadOutcomeKind.Rejected:
                        if (string.IsNullOrEmpty(outcome.Response)) return false;
                        continue;
                }
                using RawCommand raw = outcome.Command!;
                foreach (bool utf8 in new[] { false, true })
                {
                    try
                    {
                        TaggedCommand parsed = ImapCommandParser.Parse(raw, utf8, ImapLimits.Default);
                        if (parsed.Tag.Length == 0 || parsed.Command is null) return false;
                    }
                    catch (ImapParseException e) when (e.Message.Length > 0)
                    {
                    }
                }
            }
            return true;
        }
        catch (Exception e) when (e is not ImapParseException)
        {
            throw new InvalidOperationException($"input {Mutations.Show(input)}: {e.GetType().Name}: {e.Message}", e);
        }
    }
}
