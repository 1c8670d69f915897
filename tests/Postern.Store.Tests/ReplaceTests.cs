using Postern.Store;

namespace Postern.Store.Tests;

public class ReplaceTests
{
    private static string[] MessageFiles(TestStore t) =>
        Directory.GetFiles(Path.Combine(t.Dir, "accounts", "alice", "msg"), "*", SearchOption.AllDirectories);

    [Fact]
    public async Task Replace_expunges_the_old_message_and_appends_the_new_one_in_one_step()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        long drafts = (await t.Account.GetMailboxAsync("Drafts"))!.Id;
        await t.Account.AppendAsync(inbox, [TestStore.Message("one"), TestStore.Message("two", SystemFlags.Draft)]);
        using var feed = t.Account.Subscribe();

        var r = await t.Account.ReplaceAsync(inbox, 2, drafts, TestStore.Message("three!", SystemFlags.Draft | SystemFlags.Seen));

        Assert.Equal([2u], r.Expunged.Uids);
        Assert.Equal(drafts, r.Appended.MailboxId);
        Assert.Equal([1u], r.Appended.Uids);
        Assert.True(r.Appended.ModSeq > r.Expunged.ModSeq);
        Assert.Equal([1u], (await t.Account.ListMessagesAsync(inbox)).Select(m => m.Uid));
        var draft = Assert.Single(await t.Account.ListMessagesAsync(drafts));
        Assert.Equal(SystemFlags.Draft | SystemFlags.Seen, draft.Flags);
        Assert.Equal(3 + 6, (await t.Account.GetQuotaAsync()).UsedBytes);
        Assert.Equal((1, 3L), ((await t.Account.GetMailboxAsync(inbox))!.Messages, (await t.Account.GetMailboxAsync(inbox))!.Size));
        Assert.Equal(2, MessageFiles(t).Length); // the old file is gone after the commit
        // One batch: the expunge and the add are published together.
        Assert.True(feed.TryRead(out var first));
        Assert.True(feed.TryRead(out var second));
        Assert.IsType<MessagesExpunged>(first);
        Assert.IsType<MessageAdded>(second);
    }

    [Fact]
    public async Task Replace_of_a_missing_message_changes_nothing_and_leaves_no_file()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.Account.AppendAsync(inbox, [TestStore.Message("one")]);
        var before = (await t.Account.GetMailboxAsync(inbox))!;

        await Assert.ThrowsAsync<MessageNotFoundException>(() => t.Account.ReplaceAsync(inbox, 7, inbox, TestStore.Message("new")));

        var after = (await t.Account.GetMailboxAsync(inbox))!;
        Assert.Equal((before.Messages, before.UidNext, before.HighestModSeq), (after.Messages, after.UidNext, after.HighestModSeq));
        Assert.Single(MessageFiles(t));
    }

    [Fact]
    public async Task Replace_counts_the_freed_space_against_the_quota_and_fails_whole_when_over()
    {
        await using var t = await TestStore.CreateAsync(quota: 100);
        long inbox = await t.InboxIdAsync();
        await t.Account.AppendAsync(inbox, [TestStore.Message(new string('x', 60))]);
        // 60 freed, 70 added: fits although 60 + 70 would not.
        var r = await t.Account.ReplaceAsync(inbox, 1, inbox, TestStore.Message(new string('y', 70)));
        Assert.Equal([2u], r.Appended.Uids);
        await Assert.ThrowsAsync<OverQuotaException>(() => t.Account.ReplaceAsync(inbox, 2, inbox, TestStore.Message(new string('z', 101))));
        Assert.Equal([2u], (await t.Account.ListMessagesAsync(inbox)).Select(m => m.Uid));
        Assert.Equal(70, (await t.Account.GetQuotaAsync()).UsedBytes);
        Assert.Single(MessageFiles(t));
    }
}
