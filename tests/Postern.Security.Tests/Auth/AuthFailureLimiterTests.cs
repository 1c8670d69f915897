using System.Net;
using Postern.Security.Auth;

namespace Postern.Security.Tests.Auth;

public class AuthFailureLimiterTests
{
    private sealed class FakeClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly IPAddress Attacker = IPAddress.Parse("192.0.2.10");

    [Fact]
    public void Delay_grows_after_free_failures_and_is_capped()
    {
        var clock = new FakeClock();
        var limiter = new AuthFailureLimiter(new() { BlockAfterAddressFailures = 100, BlockAfterNetworkFailures = 100, BlockAfterAccountFailures = 100 }, clock);
        var delays = new List<TimeSpan>();
        for (int i = 0; i < 10; i++)
        {
            delays.Add(limiter.Check(Attacker, "bob").Delay);
            limiter.RecordFailure(Attacker, "bob");
        }
        Assert.Equal(TimeSpan.Zero, delays[3]);
        Assert.Equal(TimeSpan.FromSeconds(1), delays[4]);
        Assert.Equal(TimeSpan.FromSeconds(2), delays[5]);
        Assert.Equal(TimeSpan.FromSeconds(4), delays[6]);
        Assert.Equal(TimeSpan.FromSeconds(15), delays[9]);
    }

    [Fact]
    public void Address_is_blocked_then_unblocked_after_duration()
    {
        var clock = new FakeClock();
        var limiter = new AuthFailureLimiter(new(), clock);
        for (int i = 0; i < 10; i++) limiter.RecordFailure(Attacker, "user" + i);
        var t = limiter.Check(Attacker, null);
        Assert.True(t.IsBlocked);
        Assert.Equal(clock.Now + TimeSpan.FromMinutes(15), t.BlockedUntil);
        Assert.False(limiter.Check(IPAddress.Parse("198.51.100.1"), "someone").IsBlocked);
        clock.Now += TimeSpan.FromMinutes(16);
        Assert.False(limiter.Check(Attacker, null).IsBlocked);
    }

    [Fact]
    public void Network_counts_across_addresses_of_a_slash24_and_slash64()
    {
        var clock = new FakeClock();
        var limiter = new AuthFailureLimiter(new() { BlockAfterNetworkFailures = 5 }, clock);
        for (int i = 1; i <= 5; i++) limiter.RecordFailure(IPAddress.Parse("203.0.113." + i), null);
        Assert.True(limiter.Check(IPAddress.Parse("203.0.113.200"), null).IsBlocked);
        Assert.False(limiter.Check(IPAddress.Parse("203.0.114.1"), null).IsBlocked);
        for (int i = 1; i <= 5; i++) limiter.RecordFailure(IPAddress.Parse("2001:db8:1:2::" + i), null);
        Assert.True(limiter.Check(IPAddress.Parse("2001:db8:1:2:ffff::1"), null).IsBlocked);
        Assert.False(limiter.Check(IPAddress.Parse("2001:db8:1:3::1"), null).IsBlocked);
        Assert.Equal("203.0.113.0/24", AuthFailureLimiter.NetworkOf(IPAddress.Parse("::ffff:203.0.113.9")));
    }

    [Fact]
    public void Account_is_blocked_from_every_address()
    {
        var clock = new FakeClock();
        var limiter = new AuthFailureLimiter(new() { BlockAfterAccountFailures = 4 }, clock);
        for (int i = 0; i < 4; i++) limiter.RecordFailure(IPAddress.Parse($"10.{i}.0.1"), "Alice@Example.org");
        Assert.True(limiter.Check(IPAddress.Parse("10.9.9.9"), "alice@example.org").IsBlocked);
        Assert.False(limiter.Check(IPAddress.Parse("10.9.9.9"), "bob@example.org").IsBlocked);
    }

    [Fact]
    public void Success_resets_address_and_account_and_counters_forget_when_quiet()
    {
        var clock = new FakeClock();
        var limiter = new AuthFailureLimiter(new(), clock);
        for (int i = 0; i < 6; i++) limiter.RecordFailure(Attacker, "bob");
        limiter.RecordSuccess(Attacker, "bob");
        Assert.Equal(TimeSpan.Zero, limiter.Check(IPAddress.Parse("198.51.100.99"), "bob").Delay);
        Assert.NotEqual(TimeSpan.Zero, limiter.Check(Attacker, null).Delay); // the /24 still remembers
        clock.Now += TimeSpan.FromHours(2);
        Assert.Equal(TimeSpan.Zero, limiter.Check(Attacker, "bob").Delay);
    }

    [Fact]
    public void Memory_is_bounded()
    {
        var clock = new FakeClock();
        var limiter = new AuthFailureLimiter(new() { MaxEntries = 1000 }, clock);
        for (int i = 0; i < 20_000; i++)
        {
            clock.Now += TimeSpan.FromMilliseconds(1);
            limiter.RecordFailure(new IPAddress(BitConverter.GetBytes(i + 1)), "user" + i);
        }
        Assert.True(limiter.Count <= 1000);
    }

    [Fact]
    public void Concurrent_failures_are_all_counted()
    {
        var clock = new FakeClock();
        var limiter = new AuthFailureLimiter(new() { BlockAfterAccountFailures = 1000, BlockAfterAddressFailures = 1000, BlockAfterNetworkFailures = 1000 }, clock);
        Parallel.For(0, 999, _ => limiter.RecordFailure(Attacker, "x"));
        Assert.False(limiter.Check(Attacker, "x").IsBlocked);
        limiter.RecordFailure(Attacker, "x");
        Assert.True(limiter.Check(Attacker, "x").IsBlocked);
    }
}
