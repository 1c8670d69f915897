using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Postern.Tests.Shared;

namespace Postern.Imap.Tests.Server;

/// <summary>
/// Mutated IMAP conversations (login, literals, APPEND, FETCH, SEARCH, STORE, IDLE, mailbox
/// commands) sent to a running server in one write each, then the client's half of the connection
/// closed: the server greets, closes the connection once the client has gone (it never waits
/// forever), no command ends in an unexpected exception, and a normal session still works afterwards.
/// </summary>
public class SessionFuzzTests
{
    private static readonly string[] Scripts =
    [
        "a0 LOGIN alice secret\r\na1 SELECT INBOX\r\na2 APPEND INBOX (\\Seen) {24+}\r\nSubject: hi\r\n\r\nhello!\r\n\r\na3 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Subject)] BINARY[1]<0.3> PREVIEW)\r\na4 LOGOUT\r\n",
        "a0 LOGIN alice secret\r\na1 ENABLE UTF8=ACCEPT QRESYNC\r\na2 SELECT INBOX (CONDSTORE)\r\na3 UID SEARCH RETURN (MIN MAX COUNT) CHARSET UTF-8 OR FROM bob (SINCE 1-Jan-2020 NOT SEEN)\r\na4 UID STORE 1:* +FLAGS (\\Deleted) (UNCHANGEDSINCE 9)\r\na5 EXPUNGE\r\n",
        "a0 LOGIN alice secret\r\na1 CREATE Projects/Postern\r\na2 LIST \"\" \"*\" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\na3 RENAME Projects/Postern Archive/P\r\na4 DELETE Archive/P\r\na5 STATUS INBOX (MESSAGES UIDNEXT SIZE)\r\n",
        "a0 LOGIN alice secret\r\na1 SELECT INBOX\r\na2 IDLE\r\nDONE\r\na3 COPY 1 INBOX\r\na4 MOVE 1 Trash\r\na5 SORT (REVERSE DATE) UTF-8 ALL\r\na6 THREAD REFERENCES UTF-8 ALL\r\n",
        "a0 AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\na1 NAMESPACE\r\na2 GETQUOTAROOT INBOX\r\na3 ID (\"name\" \"fuzz\")\r\na4 SETMETADATA INBOX (/private/comment \"x\")\r\n",
        "a0 LOGIN {5}\r\nalice {6}\r\nsecret\r\na1 APPEND INBOX {10}\r\n0123456789\r\na2 SELECT INBOX\r\na3 FETCH 1 BODY[]\r\na4 CLOSE\r\n",
        "a0 STARTTLS\r\n\u0016\u0003\u0001\u0000\u0005hello",
        "a0 LOGIN alice secret\r\na1 SELECT INBOX\r\na2 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\na3 UNSELECT\r\na4 COMPRESS DEFLATE\r\nxyz",
    ];

    [Fact]
    public async Task Mutated_conversations_end_with_a_closed_connection_and_no_failed_command()
    {
        var logger = new ErrorLog();
        await using var s = await TestServer.StartAsync(logger: logger, authLimiter: FuzzServers.NoAuthDelays());
        Prop.ForAll(Mutations.Of(Scripts), input => Converse(s.Port, input).GetAwaiter().GetResult())
            .Check(Config.QuickThrowOnFailure.WithMaxTest(Mutations.Runs(300)));
        Assert.Empty(logger.Errors);
        await using var c = await s.ConnectAsync();
        await c.ExpectOkAsync("SELECT INBOX");
    }

    private static async Task<bool> Converse(int port, byte[] input) =>
        Encoding.UTF8.GetString(await FuzzConnection.SendAndCloseAsync(port, input)).StartsWith("* OK", StringComparison.Ordinal);
}
