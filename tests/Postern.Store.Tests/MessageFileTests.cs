using System.Text;
using Postern.Store.Sqlite;

namespace Postern.Store.Tests;

/// <summary>Writing message files: into pre-created files under concurrent appends, and the errors.</summary>
public class MessageFileTests
{
    [Fact]
    public async Task Concurrent_appends_store_each_message_byte_for_byte()
    {
        // Overlapping appends take pre-created files (PrecreatedFiles); every message must read back exactly.
        await using var t = await TestStore.CreateAsync();
        long inbox = await t.InboxIdAsync();
        string Text(int i) => TestStore.Body(i) + new string((char)('a' + i % 26), 3000 + i) + "\r\n";
        for (int round = 0; round < 3; round++)
            await Task.WhenAll(Enumerable.Range(round * 40, 40).Select(i => Task.Run(() => t.Account.AppendAsync(inbox, [TestStore.Message(Text(i))]))));
        var seen = new HashSet<string>();
        for (uint uid = 1; uid <= 120; uid++)
        {
            await using Stream s = await t.Account.OpenContentAsync(inbox, uid);
            using var r = new StreamReader(s, Encoding.ASCII);
            seen.Add(await r.ReadToEndAsync());
        }
        Assert.Equal(Enumerable.Range(0, 120).Select(Text).ToHashSet(), seen);
    }

    [Fact]
    public void Writing_into_a_precreated_file_fills_it_and_a_missing_one_is_an_error()
    {
        string dir = Directory.CreateTempSubdirectory("postern-msgfile-").FullName;
        try
        {
            string path = Path.Combine(dir, "1");
            MessageFiles.CreateEmpty(path);
            byte[] bytes = Encoding.ASCII.GetBytes("Subject: x\r\n\r\nbody\r\n");
            MessageFiles.WriteIntoPrecreated(path, bytes);
            Assert.Equal(bytes, File.ReadAllBytes(path));

            // A pre-created file that vanished is not silently created again (its folder entry would not be durable).
            string missing = Path.Combine(dir, "2");
            Assert.Throws<IOException>(() => MessageFiles.WriteIntoPrecreated(missing, bytes));
            Assert.False(File.Exists(missing));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
