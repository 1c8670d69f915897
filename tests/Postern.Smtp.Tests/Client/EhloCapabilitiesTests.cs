using Postern.Smtp.Client;

namespace Postern.Smtp.Tests.Client;

public class EhloCapabilitiesTests
{
    [Fact]
    public void Parses_the_extensions_the_client_uses_and_ignores_the_rest()
    {
        var c = EhloCapabilities.Parse(["mx.example greets you", "PIPELINING", "size 35882577", "8BITMIME", "SMTPUTF8", "CHUNKING", "STARTTLS",
            "DSN", "REQUIRETLS", "ENHANCEDSTATUSCODES", "LIMITS RCPTMAX=50 MAILMAX=5 BOGUS=x", "AUTH scram-sha-256 PLAIN", "X-UNKNOWN whatever", ""]);
        Assert.True(c.Pipelining && c.Size && c.EightBitMime && c.SmtpUtf8 && c.Chunking && c.StartTls && c.Dsn && c.RequireTls && c.EnhancedStatusCodes);
        Assert.Equal(35882577, c.MaxSize);
        Assert.Equal((50, 5), (c.RcptMax, c.MailMax));
        Assert.Equal(["SCRAM-SHA-256", "PLAIN"], c.AuthMechanisms);
    }

    [Fact]
    public void The_greeting_line_is_not_an_extension()
    {
        var c = EhloCapabilities.Parse(["PIPELINING"]);
        Assert.False(c.Pipelining);
        Assert.Equal(0, EhloCapabilities.Parse(["x", "LIMITS RCPTMAX=0", "SIZE"]).RcptMax);
    }
}
