using Postern.Store;

namespace Postern.Store.Tests;

public class MailboxTests
{
    [Fact]
    public async Task New_account_has_default_mailboxes_with_special_use_and_subscriptions()
    {
        await using var t = await TestStore.CreateAsync();
        var boxes = await t.Account.ListMailboxesAsync();
        Assert.Equal(["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"], boxes.Select(b => b.Name).ToArray());
        Assert.Equal(SpecialUse.Sent, boxes.Single(b => b.Name == "Sent").SpecialUse);
        Assert.Equal(SpecialUse.Junk, boxes.Single(b => b.Name == "Junk").SpecialUse);
        Assert.All(boxes, b => Assert.True(b.Subscribed && b.Selectable && b.UidNext == 1 && b.Messages == 0));
        Assert.Equal(6, boxes.Select(b => b.UidValidity).Distinct().Count());
    }

    [Fact]
    public async Task Inbox_is_case_insensitive()
    {
        await using var t = await TestStore.CreateAsync();
        var a = await t.Account.GetMailboxAsync("inbox");
        var b = await t.Account.GetMailboxAsync("InBoX");
        Assert.NotNull(a);
        Assert.Equal("INBOX", a!.Name);
        Assert.Equal(a.Id, b!.Id);
        var child = await t.Account.CreateMailboxAsync("inbox/lists");
        Assert.Equal("INBOX/lists", child.Name);
    }

    [Fact]
    public async Task Create_makes_parents_and_rejects_duplicates_and_bad_names()
    {
        await using var t = await TestStore.CreateAsync();
        var mb = await t.Account.CreateMailboxAsync("a/b/c", SpecialUse.Flagged);
        Assert.Equal(SpecialUse.Flagged, mb.SpecialUse);
        Assert.NotNull(await t.Account.GetMailboxAsync("a"));
        Assert.NotNull(await t.Account.GetMailboxAsync("a/b"));
        await Assert.ThrowsAsync<MailboxExistsException>(() => t.Account.CreateMailboxAsync("a/b"));
        await Assert.ThrowsAsync<InvalidMailboxNameException>(() => t.Account.CreateMailboxAsync("x//y"));
        await Assert.ThrowsAsync<InvalidMailboxNameException>(() => t.Account.CreateMailboxAsync("/x"));
        await Assert.ThrowsAsync<InvalidMailboxNameException>(() => t.Account.CreateMailboxAsync("x\u0001"));
    }

    [Fact]
    public async Task Recreated_name_gets_greater_uidvalidity_and_rename_keeps_it()
    {
        await using var t = await TestStore.CreateAsync();
        var first = await t.Account.CreateMailboxAsync("Work");
        await t.Account.DeleteMailboxAsync("Work");
        var second = await t.Account.CreateMailboxAsync("Work");
        Assert.True(second.UidValidity > first.UidValidity);
        var renamed = await t.Account.RenameMailboxAsync("Work", "Job");
        Assert.Equal(second.Id, renamed.Id);
        Assert.Equal(second.UidValidity, renamed.UidValidity);
        var third = await t.Account.CreateMailboxAsync("Work");
        Assert.True(third.UidValidity > second.UidValidity);
    }

    [Fact]
    public async Task Rename_moves_children()
    {
        await using var t = await TestStore.CreateAsync();
        await t.Account.CreateMailboxAsync("p/c1/g");
        await t.Account.CreateMailboxAsync("p/c2");
        await t.Account.CreateMailboxAsync("px");
        await t.Account.RenameMailboxAsync("p", "q/r");
        var names = (await t.Account.ListMailboxesAsync()).Select(m => m.Name).ToHashSet();
        Assert.Contains("q/r/c1/g", names);
        Assert.Contains("q/r/c2", names);
        Assert.Contains("q", names);
        Assert.Contains("px", names);
        Assert.DoesNotContain("p", names);
        await Assert.ThrowsAsync<MailboxOperationException>(() => t.Account.RenameMailboxAsync("q", "q/r/c1/x"));
        await Assert.ThrowsAsync<MailboxNotFoundException>(() => t.Account.RenameMailboxAsync("nope", "nope2"));
        await Assert.ThrowsAsync<MailboxExistsException>(() => t.Account.RenameMailboxAsync("px", "Sent"));
    }

    [Fact]
    public async Task Renaming_inbox_moves_its_messages_and_leaves_inbox_empty()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.AppendAsync(inbox, 3);
        var old = await t.Account.RenameMailboxAsync("INBOX", "Old");
        Assert.Equal(3, old.Messages);
        var inboxAfter = await t.Account.GetMailboxAsync("INBOX");
        Assert.Equal(inbox, inboxAfter!.Id);
        Assert.Equal(0, inboxAfter.Messages);
        Assert.Equal(4u, inboxAfter.UidNext);
        Assert.Equal(3, (await t.Account.ListMessagesAsync(old.Id)).Count);
    }

    [Fact]
    public async Task Delivery_lookups_follow_create_rename_delete_and_special_use()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        Assert.Equal(inbox, await t.Account.FindSelectableMailboxAsync("inbox"));
        Assert.Null(await t.Account.FindSelectableMailboxAsync("Lists"));
        Assert.Null(await t.Account.FindSelectableMailboxAsync("bad//name"));
        long junk = (await t.Account.GetMailboxAsync("Junk"))!.Id;
        Assert.Equal(junk, await t.Account.FindSpecialUseMailboxAsync(SpecialUse.Junk));

        var lists = await t.Account.CreateMailboxAsync("Lists");
        Assert.Equal(lists.Id, await t.Account.FindSelectableMailboxAsync("Lists"));
        await t.Account.RenameMailboxAsync("Lists", "Old");
        Assert.Null(await t.Account.FindSelectableMailboxAsync("Lists"));
        Assert.Equal(lists.Id, await t.Account.FindSelectableMailboxAsync("Old"));
        await t.Account.CreateMailboxAsync("Old/child");
        await t.Account.DeleteMailboxAsync("Old");
        Assert.Null(await t.Account.FindSelectableMailboxAsync("Old"));

        await t.Account.SetSpecialUseAsync(junk, SpecialUse.None);
        Assert.Null(await t.Account.FindSpecialUseMailboxAsync(SpecialUse.Junk));
        await t.Account.SetSpecialUseAsync(lists.Id, SpecialUse.Junk);
        Assert.Null(await t.Account.FindSpecialUseMailboxAsync(SpecialUse.Junk)); // "Old" is a \Noselect placeholder now
    }

    [Fact]
    public async Task Delete_with_children_leaves_noselect_placeholder()
    {
        await using var t = await TestStore.CreateAsync();
        var parent = await t.Account.CreateMailboxAsync("parent");
        await t.AppendAsync(parent.Id, 2);
        await t.Account.CreateMailboxAsync("parent/child");
        await t.Account.DeleteMailboxAsync("parent");
        var placeholder = await t.Account.GetMailboxAsync("parent");
        Assert.False(placeholder!.Selectable);
        Assert.Equal(0, placeholder.Messages);
        await Assert.ThrowsAsync<MailboxNotSelectableException>(() => t.AppendAsync(parent.Id, 1));
        await Assert.ThrowsAsync<MailboxOperationException>(() => t.Account.DeleteMailboxAsync("parent"));
        await Assert.ThrowsAsync<MailboxOperationException>(() => t.Account.DeleteMailboxAsync("INBOX"));
        await Assert.ThrowsAsync<MailboxNotFoundException>(() => t.Account.DeleteMailboxAsync("none"));
        // Creating the name again makes it selectable with a greater UIDVALIDITY.
        var again = await t.Account.CreateMailboxAsync("parent");
        Assert.True(again.Selectable);
        Assert.True(again.UidValidity > parent.UidValidity);
        var q = await t.Account.GetQuotaAsync();
        Assert.Equal(0, q.UsedBytes);
    }

    [Fact]
    public async Task Subscriptions_are_by_name_and_may_name_missing_mailboxes()
    {
        await using var t = await TestStore.CreateAsync();
        await t.Account.SetSubscribedAsync("Ghost/Box", true);
        await t.Account.SetSubscribedAsync("Trash", false);
        var subs = await t.Account.ListSubscriptionsAsync();
        Assert.Contains("Ghost/Box", subs);
        Assert.DoesNotContain("Trash", subs);
        Assert.False((await t.Account.GetMailboxAsync("Trash"))!.Subscribed);
        var created = await t.Account.CreateMailboxAsync("Ghost/Box");
        Assert.True(created.Subscribed);
    }
}
