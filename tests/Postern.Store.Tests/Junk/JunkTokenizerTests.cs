using System.Text;
using Postern.Store.Junk;

namespace Postern.Store.Tests.Junk;

/// <summary>What a message is reduced to for the junk filter, and the tokenizer's limits.</summary>
public class JunkTokenizerTests
{
    private static HashSet<string> Tokens(string message, JunkTokenizerLimits? limits = null) => JunkTokenizer.Tokenize(Encoding.UTF8.GetBytes(message), limits);

    [Fact]
    public void Header_words_are_prefixed_with_their_field_and_addresses_give_their_domain()
    {
        var t = Tokens("From: \"Lottery Office\" <win@Prizes.Example>\r\nTo: bob@example.com\r\nSubject: =?utf-8?q?Gro=C3=9Fer_Gewinn?= today\r\nX-Mailer: MassMailer 9\r\n\r\nhello there\r\n");
        Assert.Contains("from:prizes.example", t);
        Assert.Contains("from:lottery", t);
        Assert.Contains("from:office", t);
        Assert.Contains("to:example.com", t);
        Assert.Contains("subject:großer", t); // RFC 2047 decoded, lower-cased
        Assert.Contains("subject:gewinn", t);
        Assert.Contains("x-mailer:massmailer", t);
        Assert.Contains("hello", t);
        Assert.DoesNotContain("subject", t); // field names themselves are not words
        Assert.DoesNotContain("win", t);     // the local part is not used
    }

    [Fact]
    public void Html_is_read_as_text_with_link_hosts_and_without_markup_or_scripts()
    {
        var t = Tokens("Content-Type: text/html\r\n\r\n<html><head><style>.promo{color:red}</style></head><body><p>Claim&nbsp;your <b>prize</b></p>"
            + "<a href=\"https://Click.Tracker.Example/x?id=1\">here</a><script>var secretvariable=1</script></body></html>\r\n");
        Assert.Contains("claim", t);
        Assert.Contains("prize", t);
        Assert.Contains("url:click.tracker.example", t);
        Assert.Contains("url:tracker.example", t);
        Assert.DoesNotContain("html", t);
        Assert.DoesNotContain("promo", t);
        Assert.DoesNotContain("secretvariable", t);
        Assert.Contains("part:text/html", t);
    }

    [Fact]
    public void Encoded_bodies_are_decoded_and_attachments_count_by_kind()
    {
        string b64 = Convert.ToBase64String(Encoding.UTF8.GetBytes("guaranteed investment returns"));
        var t = Tokens("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + b64 + "\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"invoice.PDF.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n");
        Assert.Contains("guaranteed", t);
        Assert.Contains("investment", t);
        Assert.Contains("charset:utf-8", t);
        Assert.Contains("part:application/octet-stream", t);
        Assert.Contains("file:.exe", t);
        Assert.DoesNotContain("aaaa", t); // an attachment's bytes are not text
    }

    [Fact]
    public void Short_long_and_numeric_runs_are_skipped_and_each_token_counts_once()
    {
        var t = Tokens("Subject: x\r\n\r\nok yes yes yes 1234 20261130 $100 don't " + new string('a', 25) + " " + new string('b', 24) + "\r\n");
        Assert.DoesNotContain("ok", t);
        Assert.Contains("yes", t);
        Assert.Contains("1234", t);
        Assert.DoesNotContain("20261130", t);
        Assert.Contains("$100", t);
        Assert.Contains("don't", t);
        Assert.DoesNotContain(new string('a', 25), t);
        Assert.Contains(new string('b', 24), t);
    }

    [Fact]
    public void Only_the_first_bytes_are_read_and_the_token_count_is_bounded()
    {
        string words = string.Join(' ', Enumerable.Range(0, 50_000).Select(i => "word" + i.ToString("x")));
        string message = "Subject: many\r\n\r\n" + words + "\r\n";
        var t = Tokens(message, new JunkTokenizerLimits { MaxTokens = 500 });
        Assert.Equal(500, t.Count);
        var cut = Tokens(message, new JunkTokenizerLimits { MaxBytes = 1000, MaxTokens = 100_000 });
        Assert.InRange(cut.Count, 50, 200);
        Assert.DoesNotContain("wordc34f", cut); // word 49999 is far past the first 1000 bytes
    }

    [Fact]
    public void The_same_bytes_give_the_same_tokens_and_garbage_gives_no_exception()
    {
        string m = "From: a@b.example\r\nSubject: same\r\n\r\nsame words here\r\n";
        Assert.Equal(Tokens(m).Order(), Tokens(m).Order());
        var rnd = new Random(7);
        for (int i = 0; i < 200; i++)
        {
            var bytes = new byte[rnd.Next(0, 3000)];
            rnd.NextBytes(bytes);
            _ = JunkTokenizer.Tokenize(bytes);
        }
        Assert.DoesNotContain(JunkTokenizer.Tokenize([]), x => !x.StartsWith("part:", StringComparison.Ordinal));
    }
}
