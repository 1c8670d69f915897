namespace Postern.Imap.Tests.Server;

public class TranscriptTests
{
    private const string Msg = "Subject: x\r\n\r\nbody\r\n";

    private static async Task<TestClient> WithMessagesAsync(TestServer s, int count)
    {
        var c = await s.ConnectAsync();
        for (int i = 0; i < count; i++)
            await ProtocolTests.AppendAsync(c, "INBOX", Msg);
        return c;
    }

    [Fact]
    public async Task Qresync_vanished()
    {
        await using var s = await TestServer.StartAsync();
        await using var a = await WithMessagesAsync(s, 3);
        var v = new Dictionary<string, string>();
        await Transcript.RunAsync(a, """
            C: a1 ENABLE QRESYNC
            S: * ENABLED QRESYNC
            S: a1 OK ENABLE completed
            C: a2 SELECT INBOX
            S: * 3 EXISTS
            S: * 3 RECENT
            S: * OK [UNSEEN 1] First unseen
            S: * FLAGS (\Seen \Answered \Flagged \Deleted \Draft)
            S: * OK [PERMANENTFLAGS (\Seen \Answered \Flagged \Deleted \Draft \*)] Flags permitted
            S: * OK [UIDVALIDITY <uv>] UIDs valid
            S: * OK [UIDNEXT 4] Predicted next UID
            S: * OK [HIGHESTMODSEQ <ms>] Highest
            S: a2 OK [READ-WRITE] SELECT completed
            C: a3 STORE 2 +FLAGS.SILENT (\Deleted)
            S: * 2 FETCH (MODSEQ (<m2>))
            S: a3 OK STORE completed
            C: a4 EXPUNGE
            S: * VANISHED 2
            S: a4 OK EXPUNGE completed
            """, v);
        await using var b = await s.ConnectAsync();
        await Transcript.RunAsync(b, """
            C: b1 ENABLE QRESYNC
            S: * ENABLED QRESYNC
            S: b1 OK ENABLE completed
            C: b2 SELECT INBOX (QRESYNC ({uv} {ms} 1:3))
            S: * 2 EXISTS
            S: * 0 RECENT
            S: * OK [UNSEEN 1] First unseen
            S: * FLAGS (\Seen \Answered \Flagged \Deleted \Draft)
            S: * OK [PERMANENTFLAGS (\Seen \Answered \Flagged \Deleted \Draft \*)] Flags permitted
            S: * OK [UIDVALIDITY {uv}] UIDs valid
            S: * OK [UIDNEXT 4] Predicted next UID
            S: * OK [HIGHESTMODSEQ <hm>] Highest
            S: * VANISHED (EARLIER) 2
            S: b2 OK [READ-WRITE] SELECT completed
            C: b3 UID FETCH 1:* (FLAGS) (CHANGEDSINCE {ms} VANISHED)
            S: * VANISHED (EARLIER) 2
            S: b3 OK FETCH completed
            """, v);
    }

    [Fact]
    public async Task Condstore_unchangedsince_conflict()
    {
        await using var s = await TestServer.StartAsync();
        await using var a = await WithMessagesAsync(s, 2);
        await using var b = await s.ConnectAsync();
        var v = new Dictionary<string, string>();
        await Transcript.RunAsync(a, """
            C: a1 ENABLE CONDSTORE IMAP4rev2
            S: * ENABLED CONDSTORE IMAP4rev2
            S: a1 OK ENABLE completed
            C: a2 EXAMINE INBOX
            S: * 2 EXISTS
            S: * FLAGS (\Seen \Answered \Flagged \Deleted \Draft)
            S: * OK [PERMANENTFLAGS ()] Flags permitted
            S: * OK [UIDVALIDITY <uv>] UIDs valid
            S: * OK [UIDNEXT 3] Predicted next UID
            S: * OK [HIGHESTMODSEQ <ms>] Highest
            S: * LIST () "/" "INBOX"
            S: a2 OK [READ-ONLY] EXAMINE completed
            C: a3 FETCH 1:2 (MODSEQ)
            S: * 1 FETCH (MODSEQ (<m1>))
            S: * 2 FETCH (MODSEQ (<m2>))
            S: a3 OK FETCH completed
            """, v);
        await b.ExpectOkAsync("SELECT INBOX");
        await b.ExpectOkAsync("STORE 2 +FLAGS (\\Flagged)");
        await Transcript.RunAsync(b, """
            C: b1 UID STORE 1:2 (UNCHANGEDSINCE {m2}) +FLAGS (\Seen)
            S: * 1 FETCH (UID 1 FLAGS (\Seen \Recent) MODSEQ (<n1>))
            S: b1 OK [MODIFIED 2] Conditional STORE failed for some messages
            """, v);
    }

    [Fact]
    public async Task Searchres_dollar()
    {
        await using var s = await TestServer.StartAsync();
        await using var a = await WithMessagesAsync(s, 4);
        var v = new Dictionary<string, string>();
        await a.ExpectOkAsync("SELECT INBOX");
        await Transcript.RunAsync(a, """
            C: a1 STORE 2,4 +FLAGS.SILENT (\Answered)
            S: a1 OK STORE completed
            C: a2 UID SEARCH RETURN (SAVE) ANSWERED
            S: a2 OK SEARCH completed
            C: a3 UID FETCH $ (FLAGS)
            S: * 2 FETCH (UID 2 FLAGS (\Answered \Recent))
            S: * 4 FETCH (UID 4 FLAGS (\Answered \Recent))
            S: a3 OK FETCH completed
            C: a4 SEARCH RETURN (COUNT) $ UNSEEN
            S: * ESEARCH (TAG "a4") COUNT 2
            S: a4 OK SEARCH completed
            """, v);
    }

    [Fact]
    public async Task Move_with_copyuid()
    {
        await using var s = await TestServer.StartAsync();
        await using var a = await WithMessagesAsync(s, 3);
        var v = new Dictionary<string, string>();
        await a.ExpectOkAsync("SELECT INBOX");
        await Transcript.RunAsync(a, """
            C: a1 MOVE 1:2 Archive
            S: * OK [COPYUID <uv> 1,2 1,2] Moved
            S: * 2 EXPUNGE
            S: * 1 EXPUNGE
            S: a1 OK MOVE completed
            C: a2 UID MOVE 3 Archive
            S: * OK [COPYUID {uv} 3 3] Moved
            S: * 1 EXPUNGE
            S: a2 OK MOVE completed
            """, v);
    }

    [Fact]
    public async Task Replace_appends_then_expunges_atomically()
    {
        await using var s = await TestServer.StartAsync();
        await using var a = await WithMessagesAsync(s, 3);
        var v = new Dictionary<string, string>();
        await a.ExpectOkAsync("ENABLE IMAP4rev2");
        await a.ExpectOkAsync("SELECT INBOX");
        // RFC 8508 §3.3: APPENDUID in an untagged OK, then the expunge of the old message.
        await Transcript.RunAsync(a, """
            C: a1 REPLACE 2 INBOX {19+}
            C: Subject: y\r\n\r\nnew\r\n
            S: * OK [APPENDUID <uv> 4] Replacement Message ready
            S: * 2 EXPUNGE
            S: * 3 EXISTS
            S: a1 OK REPLACE completed
            C: a2 UID SEARCH ALL
            S: * ESEARCH (TAG "a2") UID ALL 1,3:4
            S: a2 OK SEARCH completed
            C: a3 UID REPLACE 3 Drafts (\Draft) {19+}
            C: Subject: z\r\n\r\nnew\r\n
            S: * OK [APPENDUID <duv> 1] Replacement Message ready
            S: * 2 EXPUNGE
            S: a3 OK REPLACE completed
            C: a4 REPLACE 1 Nowhere {19+}
            C: Subject: z\r\n\r\nnew\r\n
            S: a4 NO [TRYCREATE] No such mailbox
            C: a5 UID REPLACE 99 INBOX {19+}
            C: Subject: z\r\n\r\nnew\r\n
            S: a5 NO [NONEXISTENT] No message with that UID to replace
            C: a6 REPLACE 9 INBOX {19+}
            C: Subject: z\r\n\r\nnew\r\n
            S: a6 BAD Message sequence number out of range
            C: a7 UID FETCH 1:* (FLAGS)
            S: * 1 FETCH (UID 1 FLAGS ())
            S: * 2 FETCH (UID 4 FLAGS ())
            S: a7 OK FETCH completed
            C: a8 EXAMINE Drafts
            S: * OK [CLOSED] Previous mailbox closed
            S: * 1 EXISTS
            S: * FLAGS (\Seen \Answered \Flagged \Deleted \Draft)
            S: * OK [PERMANENTFLAGS ()] Flags permitted
            S: * OK [UIDVALIDITY {duv}] UIDs valid
            S: * OK [UIDNEXT 2] Predicted next UID
            S: * LIST () "/" "Drafts"
            S: a8 OK [READ-ONLY] EXAMINE completed
            C: a9 REPLACE 1 Drafts {19+}
            C: Subject: z\r\n\r\nnew\r\n
            S: a9 NO [READ-ONLY] Mailbox is read-only
            """, v);
    }

    [Fact]
    public async Task Literals_and_literal_plus()
    {
        await using var s = await TestServer.StartAsync();
        await using var a = await s.ConnectAsync(login: false);
        var v = new Dictionary<string, string>();
        await Transcript.RunAsync(a, """
            C: a1 LOGIN {5}
            S: + Ready for literal data
            C: alice {6+}
            C: secret
            S: a1 OK [CAPABILITY <x>IMAP4rev2 IMAP4rev1 ENABLE LITERAL+ IDLE SASL-IR UNSELECT UIDPLUS ESEARCH SEARCHRES MOVE UTF8=ACCEPT LIST-EXTENDED LIST-STATUS ID NAMESPACE MULTIAPPEND SPECIAL-USE CREATE-SPECIAL-USE BINARY STATUS=SIZE SAVEDATE WITHIN PREVIEW UNAUTHENTICATE QUOTA QUOTA=RES-STORAGE CONDSTORE QRESYNC SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES COMPRESS=DEFLATE REPLACE APPENDLIMIT=67108864] Logged in
            C: a2 APPEND INBOX (\Seen) {13+}
            C: Subject: a\r\n
            S: a2 OK [APPENDUID <uv> 1] APPEND completed
            C: a3 APPEND INBOX {13}
            S: + Ready for literal data
            C: Subject: b\r\n
            S: a3 OK [APPENDUID {uv} 2] APPEND completed
            C: a4 APPEND INBOX {99999999999}
            S: a4 NO [TOOBIG] Message larger than APPENDLIMIT 67108864
            """.Replace("<x>", "", StringComparison.Ordinal), v);
    }

    [Fact]
    public async Task Idle_with_concurrent_changes()
    {
        await using var s = await TestServer.StartAsync();
        await using var a = await WithMessagesAsync(s, 2);
        await using var b = await s.ConnectAsync();
        var v = new Dictionary<string, string>();
        await a.ExpectOkAsync("ENABLE IMAP4rev2");
        await a.ExpectOkAsync("SELECT INBOX");
        await b.ExpectOkAsync("SELECT INBOX");
        await Transcript.RunAsync(a, """
            C: a1 IDLE
            S: + idling
            """, v);
        await b.ExpectOkAsync("STORE 1 +FLAGS (\\Flagged)");
        await Transcript.RunAsync(a, """
            S: * 1 FETCH (UID 1 FLAGS (\Flagged))
            """, v);
        await b.ExpectOkAsync("STORE 2 +FLAGS.SILENT (\\Deleted)");
        await Transcript.RunAsync(a, """
            S: * 2 FETCH (UID 2 FLAGS (\Deleted))
            """, v);
        await b.ExpectOkAsync("EXPUNGE");
        await Transcript.RunAsync(a, """
            S: * 2 EXPUNGE
            """, v);
        await ProtocolTests.AppendAsync(b, "INBOX", Msg);
        await Transcript.RunAsync(a, """
            S: * 2 EXISTS
            C: DONE
            S: a1 OK IDLE terminated
            """, v);
    }

    [Fact]
    public async Task Thread_references_and_sort()
    {
        await using var s = await TestServer.StartAsync();
        await using var a = await s.ConnectAsync();
        string M(string id, string extra, string subject, string time) =>
            $"Message-ID: <{id}@x>\r\n{extra}Subject: {subject}\r\nDate: Mon, 1 Jan 2024 {time}:00 +0000\r\n\r\nbody\r\n";
        await ProtocolTests.AppendAsync(a, "INBOX", M("a", "", "Plan", "10:00"));
        await ProtocolTests.AppendAsync(a, "INBOX", M("b", "References: <a@x>\r\n", "Re: Plan", "11:00"));
        await ProtocolTests.AppendAsync(a, "INBOX", M("c", "", "Other", "10:30"));
        await ProtocolTests.AppendAsync(a, "INBOX", M("d", "In-Reply-To: <b@x>\r\n", "Re: Plan", "12:00"));
        await ProtocolTests.AppendAsync(a, "INBOX", M("e", "References: <a@x>\r\n", "Re: Plan", "11:30"));
        await a.ExpectOkAsync("SELECT INBOX");
        var v = new Dictionary<string, string>();
        await Transcript.RunAsync(a, """
            C: a1 THREAD REFERENCES UTF-8 ALL
            S: * THREAD (1 (2 4)(5))(3)
            S: a1 OK THREAD completed
            C: a2 THREAD ORDEREDSUBJECT UTF-8 ALL
            S: * THREAD (1 (2)(5)(4))(3)
            S: a2 OK THREAD completed
            C: a3 UID THREAD REFERENCES US-ASCII NOT SUBJECT Other
            S: * THREAD (1 (2 4)(5))
            S: a3 OK THREAD completed
            C: a4 SORT (SUBJECT) UTF-8 ALL
            S: * SORT 3 1 2 4 5
            S: a4 OK SORT completed
            C: a5 SORT (REVERSE DATE) UTF-8 ALL
            S: * SORT 4 5 2 3 1
            S: a5 OK SORT completed
            C: a6 SORT (DATE) ISO-8859-1 ALL
            S: a6 NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset
            """, v);
    }
}
