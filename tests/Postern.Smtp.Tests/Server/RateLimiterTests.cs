using System.Net;
using Postern.Smtp.Server;

namespace Postern.Smtp.Tests.Server;

public class RateLimiterTests
{
    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void Networks_are_ipv4_24_ipv6_64_and_48()
    {
        Assert.Equal(("192.0.2.7", "192.0.2.0/24", null), SmtpRateLimiter.Keys(IPAddress.Parse("192.0.2.7")));
        Assert.Equal(("192.0.2.7", "192.0.2.0/24", null), SmtpRateLimiter.Keys(IPAddress.Parse("::ffff:192.0.2.7")));
        var (ip, net, wide) = SmtpRateLimiter.Keys(IPAddress.Parse("2001:db8:1:2:3::9"));
        Assert.Equal("2001:db8:1:2:3::9", ip);
        Assert.Equal("2001:db8:1:2::/64", net);
        Assert.Equal("2001:db8:1::/48", wide);
    }

    [Fact]
    public void Concurrent_connections_per_network()
    {
        var l = new SmtpRateLimiter(SmtpRateLimits.Unlimited with { MaxConcurrentPerIp = 2, MaxConcurrentPerNetwork = 3 });
        Assert.Null(l.TryConnect(IPAddress.Parse("192.0.2.1")));
        Assert.Null(l.TryConnect(IPAddress.Parse("192.0.2.1")));
        Assert.NotNull(l.TryConnect(IPAddress.Parse("192.0.2.1")));
        Assert.Null(l.TryConnect(IPAddress.Parse("192.0.2.2")));
        Assert.NotNull(l.TryConnect(IPAddress.Parse("192.0.2.3")));
        Assert.Null(l.TryConnect(IPAddress.Parse("198.51.100.1")));
        l.Disconnected(IPAddress.Parse("192.0.2.1"));
        Assert.Null(l.TryConnect(IPAddress.Parse("192.0.2.3")));
    }

    [Fact]
    public void Connection_message_and_byte_rates_reset_each_minute()
    {
        var time = new FixedTime(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var l = new SmtpRateLimiter(SmtpRateLimits.Unlimited with { ConnectionsPerMinutePerIp = 2, MessagesPerMinutePerIp = 2, BytesPerMinutePerIp = 1000 }, time);
        var ip = IPAddress.Parse("2001:db8::1");
        Assert.Null(l.TryConnect(ip));
        l.Disconnected(ip);
        Assert.Null(l.TryConnect(ip));
        l.Disconnected(ip);
        Assert.NotNull(l.TryConnect(ip));
        Assert.True(l.TryStartMessage(ip));
        l.AddBytes(ip, 5000);
        Assert.False(l.TryStartMessage(ip));
        time.Now = time.Now.AddMinutes(1);
        Assert.Null(l.TryConnect(ip));
        Assert.True(l.TryStartMessage(ip));
        Assert.True(l.TryStartMessage(ip));
        Assert.False(l.TryStartMessage(ip));
    }
}
