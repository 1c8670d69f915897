using Postern.Store;

namespace Postern.Smtp.Tests.Server;

/// <summary>Recipient resolution (addresses, +tags, catch-all, aliases), destination mailboxes, rules, quotas.</summary>
public class DeliveryTests
{
    private static async Task SendAsync(SmtpTestServer s, string rcpt, string body = "Subject: t\r\n\r\nbody\r\n", string expect = "250")
    {
        await using var c = await s.ConnectAsync();
        await c.EnvelopeAsync("sender@remote.example", rcpt);
        await c.ExpectAsync("DATA", "354");
        await c.ExpectAsync(body + ".", expect);
    }

    [Fact]
    public async Task Plus_tag_is_delivered_to_the_base_address()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await SendAsync(s, "alice+lists@example.org");
        Assert.Contains("Delivered-To: alice@example.org", Assert.Single(await s.MessagesAsync("alice")));
    }

    [Fact]
    public async Task Catch_all_takes_unknown_addresses_of_its_domain()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await s.Store.Directory.AddAddressAsync("@catch.example", "bob");
        await SendAsync(s, "whatever@catch.example");
        Assert.Contains("Delivered-To: whatever@catch.example", Assert.Single(await s.MessagesAsync("bob")));
        // An exact address still wins over the catch-all.
        await s.Store.Directory.AddAddressAsync("exact@catch.example", "alice");
        await SendAsync(s, "exact@catch.example");
        Assert.Single(await s.MessagesAsync("alice"));
    }

    [Fact]
    public async Task Alias_delivers_to_each_local_member_once()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await s.Store.Directory.AddAddressAsync("alice2@example.org", "alice");
        await s.Store.Directory.AddAliasAsync("team@example.org", ["alice@example.org", "bob@example.org", "alice2@example.org"]);
        await SendAsync(s, "team@example.org");
        Assert.Single(await s.MessagesAsync("alice"));
        Assert.Single(await s.MessagesAsync("bob"));
        await Assert.ThrowsAsync<AddressExistsException>(() => s.Store.Directory.AddAddressAsync("team@example.org", "alice"));
        Assert.True(await s.Store.Directory.IsLocalDomainAsync("EXAMPLE.org"));
    }

    [Fact]
    public async Task Destination_mailbox_per_address()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await s.Store.Directory.AddAddressAsync("shop@example.org", "alice");
        Assert.True(await s.Store.Directory.SetAddressMailboxAsync("shop@example.org", "Archive"));
        await SendAsync(s, "shop@example.org");
        Assert.Single(await s.MessagesAsync("alice", "Archive"));
        Assert.Empty(await s.MessagesAsync("alice"));
    }

    [Fact]
    public async Task Rules_file_messages_by_header_from_and_envelope()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await s.Store.Directory.AddDeliveryRuleAsync(new DeliveryRule(0, "alice", DeliveryRuleField.Header, "List-Id", @"<dev\.lists\.example>", "Archive"));
        await s.Store.Directory.AddDeliveryRuleAsync(new DeliveryRule(0, "alice", DeliveryRuleField.From, null, @"@spam\.example$", "Junk"));
        await s.Store.Directory.AddDeliveryRuleAsync(new DeliveryRule(0, "alice", DeliveryRuleField.EnvelopeTo, null, @"^alice\+trash@", "Trash"));
        await SendAsync(s, "alice@example.org", "List-Id: Dev <dev.lists.example>\r\nSubject: a\r\n\r\nx\r\n");
        await SendAsync(s, "alice@example.org", "From: Bad <bad@SPAM.example>\r\nSubject: b\r\n\r\nx\r\n");
        await SendAsync(s, "alice@example.org", "Subject: c\r\n\r\nx\r\n");
        Assert.Single(await s.MessagesAsync("alice", "Archive"));
        Assert.Single(await s.MessagesAsync("alice", "Junk"));
        Assert.Single(await s.MessagesAsync("alice"));
        Assert.Equal(3, (await s.Store.Directory.ListDeliveryRulesAsync("alice")).Count);
        await Assert.ThrowsAsync<StoreException>(() => s.Store.Directory.AddDeliveryRuleAsync(new DeliveryRule(0, "alice", DeliveryRuleField.From, null, "(", "Junk")));
    }

    [Fact]
    public async Task Quota_gives_452_at_rcpt_and_552_at_data()
    {
        await using var s = await SmtpTestServer.StartAsync();
        await s.Store.Directory.SetQuotaAsync("alice", 2000);
        await using (var c = await s.ConnectAsync())
        {
            await c.ExpectAsync("EHLO client.example", "250");
            await c.ExpectAsync("MAIL FROM:<a@remote.example> SIZE=5000", "250");
            await c.ExpectAsync("RCPT TO:<alice@example.org>", "452 4.2.2");
            await c.ExpectAsync("RSET", "250");
            await c.ExpectAsync("MAIL FROM:<a@remote.example>", "250");
            await c.ExpectAsync("RCPT TO:<alice@example.org>", "250");
            await c.ExpectAsync("DATA", "354");
            await c.ExpectAsync("Subject: big\r\n\r\n" + string.Concat(Enumerable.Repeat(new string('x', 98) + "\r\n", 30)) + ".", "552 5.2.2");
        }
        Assert.Empty(await s.MessagesAsync("alice"));
    }

    [Fact]
    public async Task Schema_migration_keeps_existing_addresses()
    {
        // A version-1 global database (as written before SMTP) is migrated in place on open.
        string dir = Path.Combine(Path.GetTempPath(), "postern-smtp-migrate-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            using (var conn = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + Path.Combine(dir, "postern.db")))
            {
                conn.Open();
                using var cmd = conn.CreateCommand();
                cmd.CommandText = """
                    CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
                    CREATE TABLE account (name TEXT PRIMARY KEY, created INTEGER NOT NULL, quota INTEGER, credentials TEXT) WITHOUT ROWID;
                    CREATE TABLE address (address TEXT PRIMARY KEY, account TEXT NOT NULL REFERENCES account(name)) WITHOUT ROWID;
                    CREATE INDEX address_account ON address(account);
                    CREATE TABLE login_attempt (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, remote_ip TEXT NOT NULL, login_name TEXT NOT NULL, mechanism TEXT NOT NULL, result TEXT NOT NULL, protocol TEXT NOT NULL);
                    INSERT INTO account VALUES ('old', 0, NULL, NULL); INSERT INTO address VALUES ('old@example.org', 'old');
                    """;
                cmd.ExecuteNonQuery();
            }
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            await using var store = Postern.Store.Sqlite.SqliteMailStore.Open(dir);
            Assert.Equal(new AddressTarget("old", null), await store.Directory.LookupAddressTargetAsync("old@example.org"));
            Assert.True(await store.Directory.IsLocalDomainAsync("example.org"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
