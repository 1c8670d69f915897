using System.Text;
using Postern.Store;

namespace Postern.Store.Tests;

public class MessageTests
{
    private static FlagChange Add(SystemFlags f, params string[] kw) => new(FlagOperation.Add, f, kw);

    [Fact]
    public async Task Append_assigns_uids_and_keeps_counts_exact()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        var before = (await t.Account.GetMailboxAsync(inbox))!;
        var r = await t.Account.AppendAsync(inbox, [TestStore.Message("a"), TestStore.Message("bb", SystemFlags.Seen), TestStore.Message("ccc", SystemFlags.Deleted, "$Work")]);
        Assert.Equal([1u, 2u, 3u], r.Uids);
        Assert.Equal(before.UidValidity, r.UidValidity);
        var mb = (await t.Account.GetMailboxAsync(inbox))!;
        Assert.Equal((3, 2, 1, 6L, 4u), (mb.Messages, mb.Unseen, mb.Deleted, mb.Size, mb.UidNext));
        Assert.Equal(r.ModSeq, mb.HighestModSeq);
        var list = await t.Account.ListMessagesAsync(inbox);
        Assert.Equal(["$Work"], list[2].Keywords);
        Assert.Equal(SystemFlags.Seen, list[1].Flags);
        Assert.Equal(6L, (await t.Account.GetQuotaAsync()).UsedBytes);
    }

    [Fact]
    public async Task Content_is_prefix_then_file_and_details_round_trip()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        var msg = TestStore.Message("Subject: x\r\n\r\nhello\r\n") with
        {
            Prefix = Encoding.ASCII.GetBytes("Received: by test\r\n"),
            Meta = new MessageMeta { MessageId = "<m1@x>", References = "<r@x>", BaseSubject = "x", FromAddress = "a@b.c", Date = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000) },
        };
        var r = await t.Account.AppendAsync(inbox, [msg]);
        await using (var s = await t.Account.OpenContentAsync(inbox, r.Uids[0]))
        {
            var text = await new StreamReader(s).ReadToEndAsync();
            Assert.Equal("Received: by test\r\nSubject: x\r\n\r\nhello\r\n", text);
            s.Position = 10;
            var buf = new byte[12];
            Assert.Equal(9, s.Read(buf, 0, 9));
            Assert.Equal("by test\r\nS", Encoding.ASCII.GetString(buf, 0, 9) + "S");
        }
        var d = (await t.Account.GetMessageDetailsAsync(inbox, r.Uids[0]))!;
        Assert.Equal(19, d.PrefixLength);
        Assert.Equal([1, 2, 3], d.Structure);
        Assert.Equal("<m1@x>", d.Meta.MessageId);
        Assert.Equal("<r@x>", d.Meta.References);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), d.Meta.Date);
        Assert.Equal(d.Size, (await t.Account.ListMessagesAsync(inbox))[0].Size);
        await Assert.ThrowsAsync<MessageNotFoundException>(() => t.Account.OpenContentAsync(inbox, 99));
    }

    [Fact]
    public async Task Store_flags_add_remove_replace_with_modseq_and_counts()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.AppendAsync(inbox, 4);
        var r1 = await t.Account.StoreFlagsAsync(inbox, UidSet.Range(1, 2), Add(SystemFlags.Seen | SystemFlags.Deleted, "Todo"));
        Assert.Equal(2, r1.Changed.Count);
        long ms = r1.Changed[0].ModSeq;
        var mb = (await t.Account.GetMailboxAsync(inbox))!;
        Assert.Equal((2, 2), (mb.Unseen, mb.Deleted));
        Assert.Equal(ms, mb.HighestModSeq);
        // No actual change: nothing reported, MODSEQ untouched.
        var r2 = await t.Account.StoreFlagsAsync(inbox, UidSet.Of(1), Add(SystemFlags.Seen, "todo"));
        Assert.Empty(r2.Changed);
        var r3 = await t.Account.StoreFlagsAsync(inbox, UidSet.Of(1), new FlagChange(FlagOperation.Remove, SystemFlags.Deleted, ["TODO"]));
        Assert.Equal(SystemFlags.Seen, r3.Changed[0].Flags);
        Assert.Empty(r3.Changed[0].Keywords);
        Assert.True(r3.Changed[0].ModSeq > ms);
        var r4 = await t.Account.StoreFlagsAsync(inbox, UidSet.All, new FlagChange(FlagOperation.Replace, SystemFlags.Flagged, ["A", "B"]));
        Assert.Equal(4, r4.Changed.Count);
        mb = (await t.Account.GetMailboxAsync(inbox))!;
        Assert.Equal((4, 0), (mb.Unseen, mb.Deleted));
        Assert.Equal(["A", "B"], (await t.Account.GetKeywordsAsync(inbox)).Order().ToArray());
        await Assert.ThrowsAsync<StoreException>(() => t.Account.StoreFlagsAsync(inbox, UidSet.All, Add(SystemFlags.None, "bad keyword")));
    }

    [Fact]
    public async Task Unchangedsince_conflict_reports_failed_uids()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        var app = await t.AppendAsync(inbox, 3);
        var r1 = await t.Account.StoreFlagsAsync(inbox, UidSet.Of(2), Add(SystemFlags.Flagged));
        // RFC 7162 §3.1.3: message 2 changed after app.ModSeq, so it fails the condition.
        var r2 = await t.Account.StoreFlagsAsync(inbox, UidSet.Range(1, 3), Add(SystemFlags.Seen), unchangedSince: app.ModSeq);
        Assert.Equal([2u], r2.FailedCondition);
        Assert.Equal([1u, 3u], r2.Changed.Select(c => c.Uid).ToArray());
        var msgs = await t.Account.ListMessagesAsync(inbox);
        Assert.Equal(SystemFlags.Flagged, msgs[1].Flags);
        Assert.True(r2.Changed[0].ModSeq > r1.Changed[0].ModSeq);
    }

    [Fact]
    public async Task Copy_shares_bytes_and_move_is_atomic_with_expunge_record()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        var archive = (await t.Account.GetMailboxAsync("Archive"))!;
        var trash = (await t.Account.GetMailboxAsync("Trash"))!;
        await t.AppendAsync(inbox, 3, SystemFlags.Seen);
        long filesBefore = Directory.GetFiles(Path.Combine(t.Dir, "accounts", "alice", "msg"), "*", SearchOption.AllDirectories).Length;
        var copy = await t.Account.CopyAsync(inbox, UidSet.Range(2, 3), archive.Id);
        Assert.Equal([2u, 3u], copy.SourceUids);
        Assert.Equal([1u, 2u], copy.DestinationUids);
        Assert.Equal(archive.UidValidity, copy.DestinationUidValidity);
        Assert.Equal(filesBefore, Directory.GetFiles(Path.Combine(t.Dir, "accounts", "alice", "msg"), "*", SearchOption.AllDirectories).Length);
        var before = (await t.Account.GetMailboxAsync(inbox))!;
        var move = await t.Account.MoveAsync(inbox, UidSet.Of(1, 3), trash.Id);
        Assert.Equal([1u, 3u], move.SourceUids);
        var inboxAfter = (await t.Account.GetMailboxAsync(inbox))!;
        var trashAfter = (await t.Account.GetMailboxAsync(trash.Id))!;
        Assert.Equal(1, inboxAfter.Messages);
        Assert.Equal(2, trashAfter.Messages);
        var changes = await t.Account.GetChangesSinceAsync(inbox, before.HighestModSeq);
        Assert.Equal([1u, 3u], changes.Expunged);
        // Expunging the copies in Archive keeps the shared file for the one in Trash.
        await t.Account.StoreFlagsAsync(archive.Id, UidSet.All, Add(SystemFlags.Deleted));
        await t.Account.ExpungeAsync(archive.Id);
        await using var s = await t.Account.OpenContentAsync(trash.Id, move.DestinationUids[1]);
        Assert.Contains("body 2", await new StreamReader(s).ReadToEndAsync(), StringComparison.Ordinal);
        var q = await t.Account.GetQuotaAsync();
        Assert.Equal(inboxAfter.Size + trashAfter.Size, q.UsedBytes);
    }

    [Fact]
    public async Task Expunge_removes_only_deleted_optionally_within_set_and_files_go()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.AppendAsync(inbox, 5);
        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(1, 2, 4), Add(SystemFlags.Deleted));
        var e1 = await t.Account.ExpungeAsync(inbox, UidSet.Range(2, 5));
        Assert.Equal([2u, 4u], e1.Uids);
        var e2 = await t.Account.ExpungeAsync(inbox);
        Assert.Equal([1u], e2.Uids);
        Assert.True(e2.ModSeq > e1.ModSeq);
        var mb = (await t.Account.GetMailboxAsync(inbox))!;
        Assert.Equal((2, 0), (mb.Messages, mb.Deleted));
        Assert.Equal(new uint[] { 3, 5 }, (await t.Account.ListMessagesAsync(inbox)).Select(m => m.Uid).ToArray());
        Assert.Equal(2, Directory.GetFiles(Path.Combine(t.Dir, "accounts", "alice", "msg"), "*", SearchOption.AllDirectories).Length);
        var changes = await t.Account.GetChangesSinceAsync(inbox, e1.ModSeq - 1);
        Assert.Equal([1u, 2u, 4u], changes.Expunged);
        Assert.Empty(changes.Changed);
        Assert.Equal(mb.HighestModSeq, changes.HighestModSeq);
    }

    [Fact]
    public async Task Changes_since_lists_changed_records()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        var app = await t.AppendAsync(inbox, 4);
        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(3), Add(SystemFlags.Answered));
        var c = await t.Account.GetChangesSinceAsync(inbox, app.ModSeq);
        Assert.Equal([3u], c.Changed.Select(x => x.Uid).ToArray());
        Assert.Equal(4, (await t.Account.GetChangesSinceAsync(inbox, 0)).Changed.Count);
        Assert.Equal(new uint[] { 2, 4 }, (await t.Account.GetMessagesAsync(inbox, UidSet.Of(2, 4, 9))).Select(x => x.Uid).ToArray());
    }

    [Fact]
    public async Task Recent_is_claimed_by_exactly_one_caller()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.AppendAsync(inbox, 3);
        var claims = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => t.Account.ClaimRecentAsync(inbox)));
        Assert.Equal([1u, 2u, 3u], claims.SelectMany(c => c).Order().ToArray());
        Assert.Single(claims, c => c.Count > 0);
        await t.AppendAsync(inbox, 1);
        Assert.Equal(new uint[] { 4 }, await t.Account.ClaimRecentAsync(inbox));
    }

    [Fact]
    public async Task Concurrent_flag_additions_all_win()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.AppendAsync(inbox, 10);
        var keywords = Enumerable.Range(0, 40).Select(i => "kw" + i).ToArray();
        await Task.WhenAll(keywords.Select(k => Task.Run(() => t.Account.StoreFlagsAsync(inbox, UidSet.All, Add(SystemFlags.None, k)))));
        var msgs = await t.Account.ListMessagesAsync(inbox);
        Assert.All(msgs, m => Assert.Equal(keywords.Order().ToArray(), m.Keywords.Order().ToArray()));
    }

    [Fact]
    public async Task Concurrent_appends_get_distinct_uids_and_exact_counts()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(() => t.Account.AppendAsync(inbox, [TestStore.Message(TestStore.Body(i))]))));
        var uids = results.SelectMany(r => r.Uids).Order().ToArray();
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (uint)i).ToArray(), uids);
        var mb = (await t.Account.GetMailboxAsync(inbox))!;
        Assert.Equal(50, mb.Messages);
        Assert.Equal(51u, mb.UidNext);
    }

    [Fact]
    public async Task Over_quota_append_and_copy_fail_and_change_nothing()
    {
        await using var t = await TestStore.CreateAsync(quota: 100);
        long inbox = await t.InboxIdAsync();
        await t.Account.AppendAsync(inbox, [TestStore.Message(new string('x', 60))]);
        var ex = await Assert.ThrowsAsync<OverQuotaException>(() => t.Account.AppendAsync(inbox, [TestStore.Message(new string('y', 60))]));
        Assert.Equal(100, ex.Limit);
        await Assert.ThrowsAsync<OverQuotaException>(() => t.Account.CopyAsync(inbox, UidSet.All, inbox));
        Assert.Equal(1, (await t.Account.GetMailboxAsync(inbox))!.Messages);
        Assert.Single(Directory.GetFiles(Path.Combine(t.Dir, "accounts", "alice", "msg"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(Path.Combine(t.Dir, "accounts", "alice", "tmp")));
        await t.Store.Directory.SetQuotaAsync("alice", null);
        await t.Account.AppendAsync(inbox, [TestStore.Message(new string('y', 60))]);
        Assert.Equal(new QuotaInfo(null, 120), await t.Account.GetQuotaAsync());
    }

    [Fact]
    public async Task Large_message_streams_through_temp_file()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        const int chunk = 1 << 20;
        const int chunks = 64;
        var block = new byte[chunk];
        for (int i = 0; i < chunk; i++) block[i] = (byte)('a' + i % 26);
        await using var tmp = t.Account.CreateTempFile();
        for (int i = 0; i < chunks; i++) await tmp.Stream.WriteAsync(block);
        var r = await t.Account.AppendAsync(inbox, [new NewMessage(MessageSource.FromTempFile(tmp), [], MessageMeta.Empty)]);
        var rec = (await t.Account.GetMessagesAsync(inbox, UidSet.Of(r.Uids[0])))[0];
        Assert.Equal((long)chunk * chunks, rec.Size);
        await using var s = await t.Account.OpenContentAsync(inbox, r.Uids[0]);
        Assert.Equal((long)chunk * chunks, s.Length);
        s.Seek(-3, SeekOrigin.End);
        var tail = new byte[3];
        Assert.Equal(3, s.Read(tail));
        Assert.Equal(block.AsSpan(chunk - 3).ToArray(), tail);
        Assert.Empty(Directory.GetFiles(Path.Combine(t.Dir, "accounts", "alice", "tmp")));
    }

    [Fact]
    public async Task Data_survives_reopen()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.AppendAsync(inbox, 3);
        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(2), Add(SystemFlags.Seen));
        long ms = await t.Account.GetHighestModSeqAsync();
        await t.ReopenAsync();
        Assert.Equal(ms, await t.Account.GetHighestModSeqAsync());
        var r = await t.AppendAsync(inbox, 1);
        Assert.Equal(new uint[] { 4 }, r.Uids);
        Assert.True(r.ModSeq > ms);
    }

    [Fact]
    public async Task Append_to_missing_mailbox_fails_without_leftovers()
    {
        await using var t = await TestStore.CreateAsync();
        await Assert.ThrowsAsync<MailboxNotFoundException>(() => t.AppendAsync(9999, 2));
        Assert.Empty(Directory.GetFiles(Path.Combine(t.Dir, "accounts", "alice", "msg"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(Path.Combine(t.Dir, "accounts", "alice", "tmp")));
    }
}
