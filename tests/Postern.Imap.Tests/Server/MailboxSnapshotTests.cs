using Postern.Imap.Server;
using Postern.Store;

namespace Postern.Imap.Tests.Server;

public class MailboxSnapshotTests
{
    [Fact]
    public void Applying_changes_equals_listing_again()
    {
        var random = new Random(1234);
        for (int round = 0; round < 200; round++)
        {
            // The mailbox before: UIDs with gaps, some flags and keywords.
            var before = new SortedDictionary<uint, MessageState>();
            uint uid = 0;
            long modSeq = 1;
            for (int i = random.Next(0, 60); i > 0; i--)
            {
                uid += (uint)random.Next(1, 4);
                before[uid] = new MessageState(uid, modSeq++, (SystemFlags)random.Next(0, 32), random.Next(4) == 0 ? ["$Label1"] : []);
            }
            var after = new SortedDictionary<uint, MessageState>(before);
            var changed = new List<MessageRecord>();
            var expunged = new List<uint>();
            // Some flag changes, some expunges, some new messages.
            foreach (uint u in before.Keys)
            {
                switch (random.Next(6))
                {
                    case 0:
                        after[u] = after[u] with { ModSeq = modSeq++, Flags = after[u].Flags ^ SystemFlags.Seen, Keywords = ["$Changed"] };
                        break;
                    case 1:
                        after.Remove(u);
                        expunged.Add(u);
                        break;
                }
            }
            for (int i = random.Next(0, 5); i > 0; i--)
            {
                uid += (uint)random.Next(1, 3);
                after[uid] = new MessageState(uid, modSeq++, SystemFlags.None, []);
            }
            foreach (MessageState s in after.Values)
            {
                if (!before.TryGetValue(s.Uid, out MessageState old) || old != s)
                    changed.Add(new MessageRecord(s.Uid, s.ModSeq, s.Flags, s.Keywords, 100, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch));
            }
            // An expunged message that was also new since (appended and expunged in between) appears only in Expunged.
            expunged.Add(uid + 7);

            MailboxSnapshot applied = new MailboxSnapshot([.. before.Values]).Apply(new MailboxChanges(changed, expunged, modSeq));
            var listed = new MailboxSnapshot([.. after.Values]);
            Assert.Equal(listed.Uids, applied.Uids);
            Assert.Equal(listed.Views.Select(v => (v.Flags, string.Join(' ', v.Keywords), v.ModSeq)), applied.Views.Select(v => (v.Flags, string.Join(' ', v.Keywords), v.ModSeq)));
            Assert.Equal(listed.FirstUnseen, applied.FirstUnseen);
            Assert.Equal(listed.HighestModSeq, applied.HighestModSeq);
            Assert.Equal(listed.Keywords.Order(), applied.Keywords.Order());
        }
    }
}
