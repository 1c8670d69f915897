using Postern.Store;

namespace Postern.Store.Tests;

public class ChangeFeedTests
{
    private static List<StoreChange> Drain(IChangeSubscription sub)
    {
        var list = new List<StoreChange>();
        while (sub.TryRead(out var c)) list.Add(c!);
        return list;
    }

    [Fact]
    public async Task Events_arrive_after_commit_in_modseq_order()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        using var sub = t.Account.Subscribe();
        var app = await t.AppendAsync(inbox, 2);
        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(1), new FlagChange(FlagOperation.Add, SystemFlags.Deleted, ["x"]));
        await t.Account.ExpungeAsync(inbox);
        var mb = await t.Account.CreateMailboxAsync("Lists");
        await t.Account.RenameMailboxAsync("Lists", "Groups");
        await t.Account.SetSubscribedAsync("Groups", true);
        await t.Account.DeleteMailboxAsync("Groups");
        var events = Drain(sub);
        Assert.Collection(events,
            e => Assert.Equal((inbox, 1u), (e.MailboxId, ((MessageAdded)e).Uid)),
            e => Assert.Equal(2u, ((MessageAdded)e).Uid),
            e => Assert.Equal((SystemFlags.Deleted, "x"), (((FlagsChanged)e).Flags, ((FlagsChanged)e).Keywords.Single())),
            e => Assert.Equal([1u], ((MessagesExpunged)e).Uids),
            e => Assert.Equal("Lists", ((MailboxCreated)e).Name),
            e => Assert.Equal(("Lists", "Groups"), (((MailboxRenamed)e).OldName, ((MailboxRenamed)e).NewName)),
            e => Assert.True(((SubscriptionChanged)e).Subscribed),
            e => Assert.Equal(mb.Id, ((MailboxDeleted)e).MailboxId));
        Assert.Equal(app.ModSeq, events[0].ModSeq);
        for (int i = 1; i < events.Count; i++) Assert.True(events[i].ModSeq >= events[i - 1].ModSeq);
        Assert.Equal(await t.Account.GetHighestModSeqAsync(), events[^1].ModSeq);
    }

    [Fact]
    public async Task Waiting_subscriber_wakes_on_new_message()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        using var sub = t.Account.Subscribe();
        var read = sub.ReadAsync().AsTask();
        Assert.False(read.IsCompleted);
        await t.AppendAsync(inbox, 1);
        var e = await read.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.IsType<MessageAdded>(e);
    }

    [Fact]
    public async Task Slow_subscriber_gets_overflow_with_bounded_buffer_then_new_events()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        using var slow = t.Account.Subscribe(capacity: 3);
        using var fast = t.Account.Subscribe();
        for (int i = 0; i < 10; i++) await t.AppendAsync(inbox, 1);
        var got = Drain(slow);
        Assert.Equal(4, got.Count);
        Assert.IsType<FeedOverflow>(got[^1]);
        Assert.Equal(10, Drain(fast).Count);
        await t.AppendAsync(inbox, 1);
        Assert.IsType<MessageAdded>(Drain(slow).Single());
    }

    [Fact]
    public async Task Disposed_subscription_gets_nothing_and_closing_the_store_ends_readers()
    {
        var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        var sub = t.Account.Subscribe();
        sub.Dispose();
        await t.AppendAsync(inbox, 1);
        Assert.False(sub.TryRead(out _));
        var live = t.Account.Subscribe();
        await t.DisposeAsync();
        Assert.False(await live.WaitToReadAsync());
    }

    [Fact]
    public async Task Account_store_instances_are_shared_and_reference_counted()
    {
        await using var t = await TestStore.CreateAsync();
        var second = await t.Store.OpenAccountAsync("alice");
        Assert.Same(t.Account, second);
        await second.DisposeAsync();
        // Still usable: t holds the other reference.
        Assert.NotNull(await t.Account.GetMailboxAsync("INBOX"));
        await Assert.ThrowsAsync<AccountNotFoundException>(async () => await t.Store.OpenAccountAsync("bob"));
    }
}
