using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Postern.Store.Junk;

namespace Postern.Store.Tests.Junk;

/// <summary>Training follows the $Junk/$NotJunk keywords of an account's messages: idempotent, per content, rebuildable.</summary>
public class JunkTrainingTests
{
    private static readonly JunkFilter Filter = new(new JunkFilterOptions { MinJunkMessages = 2, MinHamMessages = 2 });

    private static NewMessage Junk(int i, params string[] keywords) =>
        Message($"From: promo@deals.example\r\nSubject: lottery prize {i}\r\nMessage-ID: <j{i}@x>\r\n\r\nclaim your lottery prize winner\r\n", keywords);

    private static NewMessage Ham(int i, params string[] keywords) =>
        Message($"From: colleague@work.example\r\nSubject: meeting agenda {i}\r\nMessage-ID: <h{i}@x>\r\n\r\nproject meeting agenda notes\r\n", keywords);

    private static NewMessage Message(string text, string[] keywords) => TestStore.Message(text, SystemFlags.None, keywords);

    private static FlagChange Add(string keyword) => new(FlagOperation.Add, SystemFlags.None, [keyword]);

    private static FlagChange Remove(string keyword) => new(FlagOperation.Remove, SystemFlags.None, [keyword]);

    [Fact]
    public async Task Keywords_train_and_removing_them_untrains_to_nothing()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.Account.AppendAsync(inbox, [Junk(1), Junk(2), Ham(3), Ham(4), Ham(5)]);
        Assert.Equal(0, await Filter.TrainAsync(t.Account)); // no keywords yet: nothing to learn
        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(1, 2), Add("$Junk"));
        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(3, 4), Add("$notjunk")); // keywords compare case-insensitively
        Assert.Equal(4, await Filter.TrainAsync(t.Account));
        var totals = await t.Account.JunkWords.GetTotalsAsync();
        Assert.Equal((2, 2), (totals.JunkMessages, totals.HamMessages));
        Assert.Equal(await t.Account.GetHighestModSeqAsync(), totals.ModSeq);
        var counts = await t.Account.JunkWords.GetCountsAsync(["lottery", "meeting", "subject:lottery"]);
        Assert.Equal(new JunkWordCounts(2, 0), counts["lottery"]);
        Assert.Equal(new JunkWordCounts(0, 2), counts["meeting"]);
        Assert.Equal(0, await Filter.TrainAsync(t.Account)); // idempotent
        // The sender of mail marked not junk is trusted like someone the user wrote to; junk senders are not.
        Assert.True(await t.Account.JunkWords.IsContactAsync("colleague@work.example"));
        Assert.False(await t.Account.JunkWords.IsContactAsync("promo@deals.example"));

        // Junk becomes not junk: moved from one count to the other, not added twice.
        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(2), Remove("$Junk"));
        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(2), Add("$NotJunk"));
        Assert.Equal(1, await Filter.TrainAsync(t.Account));
        totals = await t.Account.JunkWords.GetTotalsAsync();
        Assert.Equal((1, 3), (totals.JunkMessages, totals.HamMessages));

        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(1), Remove("$Junk"));
        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(2, 3, 4), Remove("$NotJunk"));
        Assert.Equal(4, await Filter.TrainAsync(t.Account));
        totals = await t.Account.JunkWords.GetTotalsAsync();
        Assert.Equal((0, 0, 0), (totals.JunkMessages, totals.HamMessages, totals.Words)); // every word gone again
    }

    [Fact]
    public async Task Other_clients_spellings_of_the_keywords_count_too()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.Account.AppendAsync(inbox, [Junk(1, "Junk"), Ham(2, "NotJunk"), Ham(3, "NonJunk"), Ham(4, "JunkRecorded"), Ham(5, "$Junked")]);
        Assert.Equal(3, await Filter.TrainAsync(t.Account));
        var totals = await t.Account.JunkWords.GetTotalsAsync();
        Assert.Equal((1, 2), (totals.JunkMessages, totals.HamMessages));
    }

    [Fact]
    public async Task A_copy_or_move_trains_the_content_once_and_an_expunged_message_stays_trained()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        long archive = (await t.Account.GetMailboxAsync("Archive"))!.Id;
        long junkBox = (await t.Account.GetMailboxAsync("Junk"))!.Id;
        await t.Account.AppendAsync(inbox, [Junk(1, "$Junk"), Ham(2)]);
        Assert.Equal(1, await Filter.TrainAsync(t.Account));
        await t.Account.CopyAsync(inbox, UidSet.Of(1), archive);
        await t.Account.MoveAsync(inbox, UidSet.Of(1), junkBox);
        Assert.Equal(0, await Filter.TrainAsync(t.Account));
        Assert.Equal(1, (await t.Account.JunkWords.GetTotalsAsync()).JunkMessages);

        // The archived copy loses $Junk but the copy in Junk keeps it: still junk.
        await t.Account.StoreFlagsAsync(archive, UidSet.Of(1), Remove("$Junk"));
        Assert.Equal(0, await Filter.TrainAsync(t.Account));
        Assert.Equal(1, (await t.Account.JunkWords.GetTotalsAsync()).JunkMessages);

        // Deleting junk does not unteach it.
        await t.Account.StoreFlagsAsync(junkBox, UidSet.Of(1), new FlagChange(FlagOperation.Add, SystemFlags.Deleted, []));
        await t.Account.ExpungeAsync(junkBox);
        await t.Account.StoreFlagsAsync(archive, UidSet.Of(1), new FlagChange(FlagOperation.Add, SystemFlags.Deleted, []));
        await t.Account.ExpungeAsync(archive);
        Assert.Equal(0, await Filter.TrainAsync(t.Account));
        Assert.Equal(1, (await t.Account.JunkWords.GetTotalsAsync()).JunkMessages);
    }

    [Fact]
    public async Task Retrain_rebuilds_the_same_counts_and_survives_a_reopen()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.Account.AppendAsync(inbox, [Junk(1, "$Junk"), Junk(2, "$Junk"), Ham(3, "$NotJunk"), Ham(4, "$NotJunk"), Ham(5)]);
        Assert.Equal(4, await Filter.TrainAsync(t.Account));
        var before = await t.Account.JunkWords.GetCountsAsync(["lottery", "meeting", "from:deals.example", "winner"]);
        await Filter.TrainExternalAsync(t.Account, Encoding.ASCII.GetBytes("Subject: x\r\n\r\nwinner winner\r\n"), JunkClass.Junk);
        Assert.Equal(3, (await t.Account.JunkWords.GetTotalsAsync()).JunkMessages);

        await t.ReopenAsync();
        Assert.Equal(4, await Filter.RetrainAsync(t.Account));
        var after = await t.Account.JunkWords.GetCountsAsync(["lottery", "meeting", "from:deals.example", "winner"]);
        Assert.Equal(before, after); // what `junk train` added from outside is forgotten, the keywords' training is back
        var totals = await t.Account.JunkWords.GetTotalsAsync();
        Assert.Equal((2, 2), (totals.JunkMessages, totals.HamMessages));
    }

    [Fact]
    public async Task Classifying_uses_the_account_training_only_once_there_is_enough()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        byte[] probe = Encoding.ASCII.GetBytes("From: promo@deals.example\r\nSubject: lottery prize\r\n\r\nclaim your prize\r\n");
        await t.Account.AppendAsync(inbox, [Junk(1, "$Junk"), Ham(2, "$NotJunk"), Ham(3, "$NotJunk")]);
        await Filter.TrainAsync(t.Account);
        Assert.Null((await Filter.ClassifyAsync(t.Account, probe)).Probability); // one junk message is not enough
        await t.Account.AppendAsync(inbox, [Junk(4, "$Junk")]);
        await Filter.TrainAsync(t.Account);
        var score = await Filter.ClassifyAsync(t.Account, probe);
        Assert.True(score.IsJunk, score.Probability.ToString());
        var ham = await Filter.ClassifyAsync(t.Account, Encoding.ASCII.GetBytes("From: colleague@work.example\r\nSubject: agenda\r\n\r\nproject meeting notes\r\n"));
        Assert.True(ham.Probability < 0.05, ham.Probability.ToString());
    }

    [Fact]
    public async Task An_account_can_turn_its_filter_off_and_choose_its_threshold()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.Account.AppendAsync(inbox, [Junk(1, "$Junk"), Junk(2, "$Junk"), Ham(3, "$NotJunk"), Ham(4, "$NotJunk")]);
        await Filter.TrainAsync(t.Account);
        byte[] probe = Encoding.ASCII.GetBytes("From: promo@deals.example\r\nSubject: lottery\r\n\r\nclaim prize\r\n");
        double p = (await Filter.ClassifyAsync(t.Account, probe)).Probability!.Value;
        Assert.True(p is > 0.5 and < 1, p.ToString());
        await t.Account.JunkWords.SetSettingsAsync(enabled: false, threshold: Math.Min(1, p + 0.0001));
        await t.ReopenAsync(); // kept in junk.db
        var totals = await t.Account.JunkWords.GetTotalsAsync();
        Assert.False(totals.Enabled);
        Assert.False((await Filter.ClassifyAsync(t.Account, probe)).IsJunk); // the account's threshold is above this message
        await t.Account.JunkWords.SetSettingsAsync(enabled: true, threshold: 0.51);
        Assert.True((await Filter.ClassifyAsync(t.Account, probe)).IsJunk);
        await t.Account.JunkWords.SetSettingsAsync(enabled: null, threshold: null, serverThreshold: true);
        totals = await t.Account.JunkWords.GetTotalsAsync();
        Assert.True(totals.Enabled);
        Assert.Null(totals.Threshold);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => t.Account.JunkWords.SetSettingsAsync(enabled: null, threshold: 0.3));
        // Learning goes on while the filter is off.
        await t.Account.JunkWords.SetSettingsAsync(enabled: false, threshold: null);
        await t.Account.AppendAsync(inbox, [Junk(5, "$Junk")]);
        await Filter.TrainAsync(t.Account);
        Assert.Equal(3, (await t.Account.JunkWords.GetTotalsAsync()).JunkMessages);
    }

    [Fact]
    public async Task Contacts_are_kept_up_to_the_limit_the_least_recently_written_to_going_first()
    {
        await using var t = await TestStore.CreateAsync();
        var start = DateTimeOffset.UtcNow.AddDays(-1);
        await t.Account.JunkWords.AddContactsAsync(Enumerable.Range(0, IJunkWordStore.MaxContacts).Select(i => $"c{i}@example.com").ToList(), start);
        await t.Account.JunkWords.AddContactsAsync(["c0@example.com"], start.AddHours(1)); // written to again: recent
        await t.Account.JunkWords.AddContactsAsync(["New1@Example.com", "new2@example.com"], start.AddHours(2));
        Assert.True(await t.Account.JunkWords.IsContactAsync("new1@example.com")); // kept lower-cased
        Assert.True(await t.Account.JunkWords.IsContactAsync("c0@example.com"));
        // Two of the oldest made room: among equal times the greatest addresses go ("c9@" sorts after "c99@" and "c9999@").
        Assert.False(await t.Account.JunkWords.IsContactAsync("c9@example.com"));
        Assert.False(await t.Account.JunkWords.IsContactAsync("c99@example.com"));
        Assert.True(await t.Account.JunkWords.IsContactAsync("c999@example.com"));
        Assert.True(await t.Account.JunkWords.IsContactAsync("c1@example.com"));
    }

    [Fact]
    public async Task Past_the_word_limit_words_seen_once_are_dropped()
    {
        await using var t = await TestStore.CreateAsync();
        t.Store.JunkMaxWords = 300;
        long inbox = await t.InboxIdAsync();
        string common = "lottery prize claim winner";
        for (int i = 0; i < 4; i++)
        {
            string unique = string.Join(' ', Enumerable.Range(0, 100).Select(w => $"m{i}w{w}x"));
            await t.Account.AppendAsync(inbox, [Message($"Subject: s\r\n\r\n{common} {unique}\r\n", ["$Junk"])]);
        }
        await Filter.TrainAsync(t.Account);
        var totals = await t.Account.JunkWords.GetTotalsAsync();
        Assert.InRange(totals.Words, 1, 300);
        Assert.Equal(4, totals.JunkMessages);
        var counts = await t.Account.JunkWords.GetCountsAsync(["lottery", "m0w1x"]);
        Assert.Equal(new JunkWordCounts(4, 0), counts["lottery"]); // seen in every message: kept
    }

    [Fact]
    public async Task A_backup_carries_the_training_and_verifydata_checks_it()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.Account.AppendAsync(inbox, [Junk(1, "$Junk"), Ham(2, "$NotJunk")]);
        await Filter.TrainAsync(t.Account);
        string copy = t.Dir + "-backup";
        try
        {
            new Postern.Store.Sqlite.StoreBackup(t.Dir, copy).Run();
            Assert.True(File.Exists(Path.Combine(copy, "accounts", "alice", "junk.db")));
            Assert.Empty(await new Postern.Store.Sqlite.StoreVerifier(copy).VerifyAsync());
            await using var restored = Postern.Store.Sqlite.SqliteMailStore.Open(copy);
            await using var account = await restored.OpenAccountAsync("alice");
            var totals = await account.JunkWords.GetTotalsAsync();
            Assert.Equal((1, 1, (await t.Account.JunkWords.GetTotalsAsync()).Words), (totals.JunkMessages, totals.HamMessages, totals.Words));
        }
        finally
        {
            try { Directory.Delete(copy, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task The_trainer_follows_keyword_changes_made_while_it_runs()
    {
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        await t.Account.AppendAsync(inbox, [Junk(1, "$Junk")]); // before the trainer starts: caught up at start
        await using var trainer = new JunkTrainer(t.Store, Filter, NullLogger.Instance, TimeSpan.FromMilliseconds(50));
        trainer.Start(["alice"]);
        await WaitForAsync(async () => (await t.Account.JunkWords.GetTotalsAsync()).JunkMessages == 1);
        await t.Account.AppendAsync(inbox, [Ham(2)]);
        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(2), Add("$NotJunk"));
        await WaitForAsync(async () => (await t.Account.JunkWords.GetTotalsAsync()).HamMessages == 1);
        await t.Account.StoreFlagsAsync(inbox, UidSet.Of(1), Remove("$Junk"));
        await WaitForAsync(async () => (await t.Account.JunkWords.GetTotalsAsync()).JunkMessages == 0);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, "condition not reached within 30 s");
            await Task.Delay(20);
        }
    }
}
