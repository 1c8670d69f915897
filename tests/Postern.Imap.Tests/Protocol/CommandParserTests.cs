using Postern.Imap.Protocol;

namespace Postern.Imap.Tests.Protocol;

public class CommandParserTests
{
    private static async Task<T> Parse<T>(string line, bool utf8 = true) where T : ImapCommand =>
        Assert.IsType<T>((await ReaderHarness.ParseAsync(line + "\r\n", utf8)).Command);

    [Fact]
    public async Task Simple_commands()
    {
        var c = await ReaderHarness.ParseAsync("A001 capability\r\n");
        Assert.Equal("A001", c.Tag);
        Assert.Equal("CAPABILITY", c.Name);
    }

    [Fact]
    public async Task Fetch_with_sections_partial_and_modifiers()
    {
        var f = await Parse<FetchCommand>("a UID FETCH 1:*,5 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From \"To\")]<0.100> BINARY[2] BINARY.SIZE[2] MODSEQ PREVIEW (LAZY) SAVEDATE) (CHANGEDSINCE 12345 VANISHED)");
        Assert.True(f.Uid);
        Assert.Equal("1:*,5", f.Set.ToString());
        Assert.Equal(7, f.Items.Count);
        var body = f.Items[1];
        Assert.Equal(FetchItemKind.BodySection, body.Kind);
        Assert.True(body.Peek);
        Assert.Equal([1, 2], body.Section!.Part);
        Assert.Equal(SectionText.HeaderFields, body.Section.Text);
        Assert.Equal(["From", "To"], body.Section.Fields);
        Assert.Equal((0u, 100u), (body.PartialOffset!.Value, body.PartialLength!.Value));
        Assert.Equal("1.2.HEADER.FIELDS (From To)", body.Section.ToString());
        Assert.Equal(FetchItemKind.BinarySection, f.Items[2].Kind);
        Assert.True(f.Items[5].Lazy);
        Assert.Equal(12345UL, f.ChangedSince);
        Assert.True(f.Vanished);
    }

    [Fact]
    public async Task Fetch_macros_expand()
    {
        var f = await Parse<FetchCommand>("a FETCH 1 FULL");
        Assert.Equal(5, f.Items.Count);
        f = await Parse<FetchCommand>("a FETCH 1 BODY[]");
        Assert.Empty(f.Items[0].Section!.Part);
        Assert.Equal(SectionText.None, f.Items[0].Section!.Text);
    }

    [Theory]
    [InlineData("a FETCH 1 (FLAGS", "Expected")]
    [InlineData("a FETCH 0 FLAGS", "Sequence number 0")]
    [InlineData("a FETCH 1 BOGUS", "Unknown fetch item BOGUS")]
    [InlineData("a FETCH 1 BODY[MIME]", "MIME needs a part number")]
    [InlineData("a FETCH 1 FLAGS (VANISHED)", "VANISHED")]
    [InlineData("a FROB", "Unknown command FROB")]
    [InlineData("a UID NOOP", "not a command")]
    [InlineData("a STORE 1 +FLAGS (\\Recent)", "\\Recent")]
    [InlineData("a SEARCH BEFORE 31-Feb-2024", "Invalid date")]
    [InlineData("a SELECT INBOX extra", "Expected '('")]
    [InlineData("a NOOP extra", "Unexpected text")]
    [InlineData("a LOGIN {3}", "")]
    public async Task Malformed_commands_say_what_is_wrong(string line, string expected)
    {
        if (line.EndsWith('}'))
        {
            // A marker that is not followed by a literal must not be accepted mid-line.
            var h = new ReaderHarness();
            await h.WriteAsync("a LOGIN \"{3}\" {3}\r\nabc\r\n");
            var o = await h.ReadAsync();
            var l = Assert.IsType<LoginCommand>(ImapCommandParser.Parse(o.Command!, true, ImapLimits.Default).Command);
            Assert.Equal("{3}", l.User);
            return;
        }
        string msg = await ReaderHarness.ParseErrorAsync(line + "\r\n");
        Assert.Contains(expected, msg);
    }

    [Fact]
    public async Task Store_with_unchangedsince()
    {
        var s = await Parse<StoreCommand>("a STORE 1:3 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted $Junk)");
        Assert.Equal(320162338UL, s.UnchangedSince);
        Assert.Equal(StoreMode.Add, s.Mode);
        Assert.True(s.Silent);
        Assert.Equal(["\\Deleted", "$Junk"], s.Flags);
        s = await Parse<StoreCommand>("a STORE 1 -FLAGS \\Seen \\Flagged");
        Assert.Equal(StoreMode.Remove, s.Mode);
        Assert.Equal(2, s.Flags.Count);
    }

    [Fact]
    public async Task Search_with_return_and_nested_keys()
    {
        var s = await Parse<SearchCommand>("a UID SEARCH RETURN (MIN COUNT SAVE) CHARSET UTF-8 OR (FROM \"bob\" UNSEEN) NOT SUBJECT {5+}\r\nhello MODSEQ \"/flags/\\\\draft\" all 620162338 OLDER 3600 UID $ 2:4 SAVEDSINCE 1-Jan-2024 HEADER X-Spam yes");
        Assert.True(s.Uid);
        Assert.True(s.Return!.Min && s.Return.Count && s.Return.Save && !s.Return.Max);
        Assert.Equal("UTF-8", s.Charset);
        Assert.Equal(SearchKeyKind.And, s.Key.Kind);
        var or = s.Key.Children[0];
        Assert.Equal(SearchKeyKind.Or, or.Kind);
        Assert.Equal(SearchKeyKind.And, or.Children[0].Kind);
        Assert.Equal("From", or.Children[0].Children[0].Field);
        Assert.Equal("\\Seen", or.Children[0].Children[1].Text);
        var not = or.Children[1];
        Assert.Equal("hello", not.Children[0].Text);
        Assert.Equal(620162338UL, s.Key.Children[1].Number);
        Assert.True(s.Key.UsesModSeq);
        Assert.True(s.Key.UsesSavedResult);
        Assert.Equal(SearchKeyKind.Older, s.Key.Children[2].Kind);
        Assert.Equal(SearchKeyKind.SequenceNumbers, s.Key.Children[4].Kind);
        Assert.Equal(new DateOnly(2024, 1, 1), s.Key.Children[5].Date);
        Assert.Equal("X-Spam", s.Key.Children[6].Field);
    }

    [Fact]
    public async Task Search_nesting_is_bounded()
    {
        string msg = await ReaderHarness.ParseErrorAsync("a SEARCH " + new string('(', 100) + "ALL" + new string(')', 100) + "\r\n");
        Assert.Contains("nested too deeply", msg);
    }

    [Fact]
    public async Task Select_with_qresync()
    {
        var s = await Parse<SelectCommand>("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1:10 1:20)))");
        Assert.Equal("INBOX", s.Mailbox);
        Assert.Equal(67890007u, s.Qresync!.UidValidity);
        Assert.Equal(20050715194045000UL, s.Qresync.ModSeq);
        Assert.Equal("41,43:211,214:541", s.Qresync.KnownUids!.ToString());
        Assert.Equal("1:10", s.Qresync.KnownSequenceNumbers!.ToString());
        var e = await Parse<SelectCommand>("a EXAMINE inbox (CONDSTORE)");
        Assert.True(e.ReadOnly && e.CondStore);
        Assert.Equal("INBOX", e.Mailbox);
    }

    [Fact]
    public async Task List_extended_and_status()
    {
        var l = await Parse<ListCommand>("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" %/*) RETURN (CHILDREN STATUS (MESSAGES UNSEEN SIZE))");
        Assert.True(l.SelectSubscribed && l.SelectRecursiveMatch && l.ReturnChildren && l.Extended);
        Assert.Equal(["INBOX", "%/*"], l.Patterns);
        Assert.Equal(["MESSAGES", "UNSEEN", "SIZE"], l.ReturnStatus);
        var basic = await Parse<ListCommand>("a LIST \"\" *");
        Assert.False(basic.Extended);
        var s = await Parse<StatusCommand>("a STATUS Sent (UIDNEXT HIGHESTMODSEQ APPENDLIMIT)");
        Assert.Equal(3, s.Items.Count);
    }

    [Fact]
    public async Task Mailbox_names_are_decoded_from_modified_utf7_for_legacy_clients()
    {
        var s = await Parse<SelectCommand>("a SELECT \"&ZeVnLIqe-\"", utf8: false);
        Assert.Equal("日本語", s.Mailbox);
        var u = await Parse<SelectCommand>("a SELECT \"日本語\"", utf8: true);
        Assert.Equal("日本語", u.Mailbox);
        Assert.Contains("modified UTF-7", await Task.Run(async () =>
        {
            var h = new ReaderHarness();
            await h.WriteAsync("a SELECT \"&Jjo\"\r\n");
            var o = await h.ReadAsync();
            return Assert.Throws<ImapParseException>(() => ImapCommandParser.Parse(o.Command!, false, ImapLimits.Default)).Message;
        }));
    }

    [Fact]
    public async Task Append_multiappend_with_flags_and_dates()
    {
        var h = new ReaderHarness();
        await h.WriteAsync("a APPEND Drafts (\\Draft) \" 7-Feb-1994 21:52:25 -0800\" {5+}\r\nhello (\\Seen) ~{3+}\r\nb\0c\r\n");
        var o = await h.ReadAsync();
        var a = Assert.IsType<AppendCommand>(ImapCommandParser.Parse(o.Command!, true, ImapLimits.Default).Command);
        Assert.Equal(2, a.Messages.Count);
        Assert.Equal(new DateTimeOffset(1994, 2, 7, 21, 52, 25, TimeSpan.FromHours(-8)), a.Messages[0].InternalDate);
        Assert.Equal("hello"u8.ToArray(), a.Messages[0].Content.GetBytes().ToArray());
        Assert.True(a.Messages[1].Content.IsBinary);
        Assert.Equal(3, a.Messages[1].Content.Length);
    }

    [Fact]
    public async Task Nul_in_plain_literal_is_rejected()
    {
        var h = new ReaderHarness();
        await h.WriteAsync("a LOGIN {3+}\r\nb\0c x\r\n");
        var o = await h.ReadAsync();
        Assert.Throws<ImapParseException>(() => ImapCommandParser.Parse(o.Command!, true, ImapLimits.Default));
    }

    [Fact]
    public async Task Authenticate_with_initial_response()
    {
        var a = await Parse<AuthenticateCommand>("a AUTHENTICATE PLAIN AHVzZXIAcGFzcw==");
        Assert.Equal("PLAIN", a.Mechanism);
        Assert.Equal("\0user\0pass"u8.ToArray(), a.InitialResponse);
        a = await Parse<AuthenticateCommand>("a AUTHENTICATE plain =");
        Assert.Empty(a.InitialResponse!);
        a = await Parse<AuthenticateCommand>("a AUTHENTICATE SCRAM-SHA-256");
        Assert.Null(a.InitialResponse);
    }

    [Fact]
    public async Task Sort_thread_enable_id_create_copy_expunge_replace()
    {
        var s = await Parse<SortCommand>("a UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL");
        Assert.True(s.Criteria[0].Reverse);
        var t = await Parse<ThreadCommand>("a THREAD REFERENCES US-ASCII SINCE 1-Feb-2024");
        Assert.Equal("REFERENCES", t.Algorithm);
        var e = await Parse<EnableCommand>("a ENABLE QRESYNC utf8=accept");
        Assert.Equal(["QRESYNC", "UTF8=ACCEPT"], e.Capabilities);
        var id = await Parse<IdCommand>("a ID (\"name\" \"mbsync\" \"version\" NIL)");
        Assert.Equal(("version", (string?)null), id.Parameters![1]);
        Assert.Null((await Parse<IdCommand>("a ID NIL")).Parameters);
        var c = await Parse<CreateCommand>("a CREATE Stuff (USE (\\Archive))");
        Assert.Equal(["\\Archive"], c.SpecialUse);
        var m = await Parse<CopyCommand>("a UID MOVE 1:5 Trash");
        Assert.True(m.Move && m.Uid);
        var x = await Parse<ExpungeCommand>("a UID EXPUNGE 3000:3002");
        Assert.Equal("3000:3002", x.UidSet!.ToString());
        var r = await Parse<ReplaceCommand>("a UID REPLACE 4 Drafts {3+}\r\nabc");
        Assert.Equal(4u, r.Target);
    }

    [Fact]
    public void Sequence_set_semantics()
    {
        var set = new SequenceSet([(5, SequenceSet.Star), (2, 2)]);
        Assert.True(set.Contains(9, 9));
        Assert.True(set.Contains(2, 9));
        Assert.False(set.Contains(3, 9));
        // RFC 9051 §9: "*:4" with 3 messages is 3:4.
        Assert.Equal([(2u, 2u), (5u, 10u)], set.Normalize(10));
        Assert.Equal("1:3,7,9:10", SequenceSet.Format([1, 2, 3, 7, 9, 10]));
    }
}
