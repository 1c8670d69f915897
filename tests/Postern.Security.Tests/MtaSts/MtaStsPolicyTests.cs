using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Postern.Security.MtaSts;

namespace Postern.Security.Tests.MtaSts;

public class MtaStsPolicyTests
{
    private static MtaStsPolicy? Parse(string text, out string? error) => MtaStsPolicy.Parse(Encoding.UTF8.GetBytes(text), out error);

    [Fact]
    public void Rfc_8461_example_policy_parses()
    {
        // RFC 8461 §3.2, the example policy.
        var p = Parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n", out string? error);
        Assert.Null(error);
        Assert.NotNull(p);
        Assert.Equal(MtaStsMode.Enforce, p.Mode);
        Assert.Equal(TimeSpan.FromDays(7), p.MaxAge);
        Assert.Equal(["mail.example.com", "*.example.net", "backupmx.example.com"], p.Mx);
        Assert.True(p.AllowsMx("mail.example.com"));
        Assert.True(p.AllowsMx("MAIL.example.com."));
        Assert.True(p.AllowsMx("mx1.example.net"));
        Assert.False(p.AllowsMx("a.mx1.example.net")); // a wildcard covers one label only (§4.1)
        Assert.False(p.AllowsMx("example.net"));
        Assert.False(p.AllowsMx("evil.example.com"));
        MtaStsPolicy again = MtaStsPolicy.Parse(Encoding.UTF8.GetBytes(p.Format()), out _)!;
        Assert.Equal((p.Mode, p.MaxAge), (again.Mode, again.MaxAge));
        Assert.Equal(p.Mx, again.Mx);
    }

    [Fact]
    public void Lf_lines_whitespace_and_unknown_keys_are_accepted()
    {
        var p = Parse("version: STSv1\nmode:testing\nmx:   mx.example.org  \nmax_age: 86400\nfuture_key: whatever\n\n", out _);
        Assert.NotNull(p);
        Assert.Equal(MtaStsMode.Testing, p.Mode);
        Assert.Equal(["mx.example.org"], p.Mx);
        var none = Parse("version: STSv1\r\nmode: none\r\nmax_age: 0\r\n", out _);
        Assert.Equal(MtaStsMode.None, none!.Mode);
    }

    [Theory]
    [InlineData("mode: enforce\nmx: a.example\nmax_age: 1\n", "no version")]
    [InlineData("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "unsupported version")]
    [InlineData("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n", "unknown mode")]
    [InlineData("version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx")]
    [InlineData("version: STSv1\nmode: enforce\nmx: a.example\n", "no max_age")]
    [InlineData("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", "max_age")]
    [InlineData("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", "max_age")]
    [InlineData("version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n", "invalid mx")]
    [InlineData("version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n", "invalid mx")]
    [InlineData("version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 1\n", "mode given twice")]
    [InlineData("version: STSv1\njust a line\n", "malformed line")]
    public void Invalid_policies_are_refused_with_a_reason(string text, string reason)
    {
        Assert.Null(Parse(text, out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_and_non_utf8_policies_are_refused()
    {
        byte[] big = Encoding.ASCII.GetBytes("version: STSv1\nmode: none\nmax_age: 1\n" + new string('#', MtaStsPolicy.MaxSize));
        Assert.Null(MtaStsPolicy.Parse(big, out string? e1));
        Assert.Contains("larger", e1, StringComparison.Ordinal);
        Assert.Null(MtaStsPolicy.Parse([0x76, 0xff, 0xfe], out string? e2));
        Assert.Contains("UTF-8", e2, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v=STSv1; id=20160831085700Z;", "20160831085700Z")]
    [InlineData("v=STSv1;id=abc", "abc")]
    [InlineData("v=STSv1; id=abc; ext=1", "abc")]
    public void Valid_records(string text, string id) => Assert.Equal(id, MtaStsRecord.Parse(text, out _)?.Id);

    [Theory]
    [InlineData("id=abc; v=STSv1", "v=STSv1")]
    [InlineData("v=STSv1;", "no id")]
    [InlineData("v=STSv1; id=", "1 to 32")]
    [InlineData("v=STSv1; id=abc-def", "1 to 32")]
    [InlineData("v=STSv1; id=123456789012345678901234567890123", "1 to 32")]
    [InlineData("v=STSv1; id=a; id=b", "twice")]
    [InlineData("v=STSv1; garbage", "malformed")]
    public void Invalid_records(string text, string reason)
    {
        Assert.Null(MtaStsRecord.Parse(text, out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    private static readonly string[] Pieces = ["version", "mode", "mx", "max_age", ":", " ", "\r\n", "\n", "\r", "STSv1", "enforce", "testing", "none", "*.", "a.example", ".", "-", "123", "31557600", "é", "\0", ";", "=", "v=STSv1", "id=", "x"];

    [Fact]
    public void Parsers_never_throw() =>
        Prop.ForAll(Gen.Elements(Pieces).ListOf().Select(l => string.Concat(l)).ToArbitrary(), text =>
        {
            MtaStsPolicy? p = MtaStsPolicy.Parse(Encoding.UTF8.GetBytes(text), out string? e1);
            MtaStsRecord? r = MtaStsRecord.Parse(text, out string? e2);
            return (p is not null || e1 is not null) && (r is not null || e2 is not null);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(1000));
}
