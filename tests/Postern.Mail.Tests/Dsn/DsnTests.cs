using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Postern.Mail.Dsn;

namespace Postern.Mail.Tests.Dsn;

public class DsnTests
{
    private static readonly DateTimeOffset When = new(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);

    private static readonly byte[] Original = Encoding.ASCII.GetBytes(
        "From: Alice <alice@example.org>\r\nTo: bob@remote.example\r\nSubject: Hello\r\nMessage-ID: <orig-1@example.org>\r\n\r\nHi Bob.\r\n");

    private static DsnReport FailedReport(byte[]? original = null, DsnReturn? ret = null) => new()
    {
        ReportingMta = "mail.example.org",
        To = "alice@example.org",
        EnvelopeId = "QQ314159",
        ArrivalDate = When.AddHours(-1),
        Date = When,
        Return = ret,
        OriginalMessage = original ?? Original,
        Recipients =
        [
            new DsnRecipient(DsnAddress.ForMailbox("bob@remote.example"), DsnAction.Failed, "5.1.1")
            {
                OriginalRecipient = new DsnAddress("rfc822", "Bob@Remote.Example"),
                RemoteMta = "mx.remote.example",
                DiagnosticCode = "550 5.1.1 <bob@remote.example>: Recipient address rejected: no such user",
                LastAttemptDate = When.AddMinutes(-1),
            },
        ],
    };

    private static string Text(byte[] b) => Encoding.UTF8.GetString(b);

    private static void AssertWireClean(byte[] b, bool sevenBit)
    {
        for (int i = 0; i < b.Length; i++)
        {
            if (b[i] == '\n') Assert.True(i > 0 && b[i - 1] == '\r', "bare LF at " + i);
            if (b[i] == '\r') Assert.True(i + 1 < b.Length && b[i + 1] == '\n', "bare CR at " + i);
            if (sevenBit) Assert.True(b[i] < 0x80, "8-bit octet at " + i);
        }
        foreach (var line in Text(b).Split("\r\n"))
            Assert.True(Encoding.UTF8.GetByteCount(line) <= 998, "line too long");
    }

    [Fact]
    public void An_original_with_lines_over_998_octets_or_nul_is_returned_as_its_header_only_folded()
    {
        // RFC 5322 §2.1.1: a DSN is mail too; a long line returned verbatim can be refused by the next server.
        // Found by DsnPropertyTests.
        string longWord = new('x', 1200);
        byte[] longBody = Encoding.ASCII.GetBytes($"From: Alice <alice@example.org>\r\nSubject: Hello\r\n\r\n{longWord}\r\n");
        byte[] longHeader = Encoding.ASCII.GetBytes($"From: Alice <alice@example.org>\r\nX-Long: {longWord}\r\n\r\nHi\r\n");
        byte[] nul = Encoding.ASCII.GetBytes("From: Alice <alice@example.org>\r\n\r\nHi\0there\r\n");
        foreach (byte[] original in new[] { longBody, longHeader, nul })
        {
            byte[] dsn = DsnBuilder.Build(FailedReport(original, DsnReturn.Full));
            AssertWireClean(dsn, sevenBit: true);
            Assert.DoesNotContain((byte)0, dsn);
            string s = Text(dsn);
            Assert.DoesNotContain("Content-Type: message/rfc822", s);
            Assert.Contains("only its header is attached", s);
            Assert.Contains("From: Alice <alice@example.org>", s);
        }
    }

    [Fact]
    public void Failed_dsn_has_the_rfc_3464_structure_and_round_trips()
    {
        var bytes = DsnBuilder.Build(FailedReport());
        AssertWireClean(bytes, sevenBit: true);
        string s = Text(bytes);
        Assert.Contains("Content-Type: multipart/report; report-type=delivery-status;", s);
        Assert.Contains("Auto-Submitted: auto-replied\r\n", s);
        Assert.Contains("From: \"Mail Delivery Subsystem\" <MAILER-DAEMON@mail.example.org>\r\n", s);
        Assert.Contains("To: <alice@example.org>\r\n", s);
        Assert.Contains("Subject: Undelivered Mail Returned to Sender\r\n", s);
        Assert.Contains("In-Reply-To: <orig-1@example.org>\r\n", s);
        Assert.Contains("References: <orig-1@example.org>\r\n", s);
        Assert.Contains("Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n", s);
        Assert.Contains("Content-Type: message/delivery-status\r\n", s);
        Assert.Contains("Reporting-MTA: dns; mail.example.org\r\n", s);
        Assert.Contains("Original-Envelope-Id: QQ314159\r\n", s);
        Assert.Contains("Original-Recipient: rfc822;Bob@Remote.Example\r\n", s);
        Assert.Contains("Final-Recipient: rfc822;bob@remote.example\r\n", s);
        Assert.Contains("Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.remote.example\r\n", s);
        // Failed without RET: the full message comes back (the documented default).
        Assert.Contains("Content-Type: message/rfc822\r\n", s);
        Assert.Contains("Hi Bob.\r\n", s);

        var parsed = DsnParser.Parse(bytes)!;
        Assert.NotNull(parsed);
        Assert.False(parsed.Global);
        Assert.Equal("QQ314159", parsed.OriginalEnvelopeId);
        Assert.Equal("mail.example.org", parsed.ReportingMta);
        Assert.Equal(When.AddHours(-1), parsed.ArrivalDate);
        Assert.Equal("orig-1@example.org", parsed.OriginalMessageId);
        var r = Assert.Single(parsed.Recipients);
        Assert.Equal(new DsnAddress("rfc822", "bob@remote.example"), r.FinalRecipient);
        Assert.Equal(new DsnAddress("rfc822", "Bob@Remote.Example"), r.OriginalRecipient);
        Assert.Equal(DsnAction.Failed, r.ActionValue);
        Assert.Equal("5.1.1", r.Status);
        Assert.Equal("mx.remote.example", r.RemoteMta);
        Assert.Equal("smtp", r.DiagnosticType);
        Assert.Equal("550 5.1.1 <bob@remote.example>: Recipient address rejected: no such user", r.DiagnosticCode);
        Assert.Equal(When.AddMinutes(-1), r.LastAttemptDate);
    }

    [Fact]
    public void Ret_hdrs_returns_only_the_header_and_delayed_defaults_to_headers()
    {
        string s = Text(DsnBuilder.Build(FailedReport(ret: DsnReturn.Headers)));
        Assert.Contains("Content-Type: text/rfc822-headers\r\n", s);
        Assert.DoesNotContain("Hi Bob.", s);
        Assert.Contains("Message-ID: <orig-1@example.org>", s);

        var delayed = FailedReport() with
        {
            Recipients = [new DsnRecipient(DsnAddress.ForMailbox("bob@remote.example"), DsnAction.Delayed, "4.4.1") { WillRetryUntil = When.AddDays(4) }],
        };
        string d = Text(DsnBuilder.Build(delayed));
        Assert.Contains("Subject: Delayed Mail (still being retried)\r\n", d);
        Assert.Contains("Action: delayed\r\n", d);
        Assert.Contains("Will-Retry-Until: Fri, 4 Dec 2026 10:00:00 +0000\r\n", d);
        Assert.Contains("Content-Type: text/rfc822-headers\r\n", d);
        Assert.DoesNotContain("Hi Bob.", d);
        Assert.Equal(When.AddDays(4), DsnParser.Parse(Encoding.UTF8.GetBytes(d))!.Recipients[0].WillRetryUntil);
    }

    [Fact]
    public void Delivered_dsn_has_a_success_subject_and_no_envid_when_none_was_given()
    {
        var report = FailedReport() with
        {
            EnvelopeId = null,
            Recipients = [new DsnRecipient(DsnAddress.ForMailbox("carol@example.org"), DsnAction.Delivered, "2.0.0")],
        };
        string s = Text(DsnBuilder.Build(report));
        Assert.Contains("Subject: Successful Mail Delivery Report\r\n", s);
        Assert.DoesNotContain("Original-Envelope-Id", s);
        Assert.Contains("Action: delivered\r\nStatus: 2.0.0\r\n", s);
    }

    [Theory]
    [InlineData("")]
    [InlineData("<>")]
    [InlineData("  ")]
    public void Dsn_to_the_null_sender_is_refused(string to) =>
        Assert.Throws<ArgumentException>(() => DsnBuilder.Build(FailedReport() with { To = to }));

    [Fact]
    public void Invalid_status_and_empty_recipient_list_are_refused()
    {
        Assert.Throws<ArgumentException>(() => DsnBuilder.Build(FailedReport() with { Recipients = [] }));
        Assert.Throws<ArgumentException>(() => DsnBuilder.Build(FailedReport() with
        {
            Recipients = [new DsnRecipient(DsnAddress.ForMailbox("a@b.example"), DsnAction.Failed, "550")],
        }));
    }

    [Fact]
    public void Long_diagnostics_are_folded_and_injection_is_impossible()
    {
        string longText = "550 5.7.1 " + string.Join(' ', Enumerable.Repeat("blocked", 200)) + "\r\nX-Injected: yes";
        var report = FailedReport() with
        {
            Recipients = [new DsnRecipient(DsnAddress.ForMailbox("bob@remote.example"), DsnAction.Failed, "5.7.1") { DiagnosticCode = longText }],
        };
        var bytes = DsnBuilder.Build(report);
        AssertWireClean(bytes, sevenBit: true);
        string s = Text(bytes);
        Assert.DoesNotContain("\r\nX-Injected", s);
        int start = s.IndexOf("Diagnostic-Code: smtp; 550 5.7.1 blocked", StringComparison.Ordinal);
        Assert.True(start > 0);
        var lines = s[start..].Split("\r\n").TakeWhile((l, i) => i == 0 || l.StartsWith(' ')).ToList();
        Assert.True(lines.Count > 5);
        Assert.All(lines, l => Assert.True(l.Length <= 78, l));
        var r = DsnParser.Parse(bytes)!.Recipients[0];
        Assert.StartsWith("550 5.7.1 blocked blocked", r.DiagnosticCode);
        Assert.True(r.DiagnosticCode!.Length <= DsnBuilder.MaxDiagnosticLength);
    }

    [Fact]
    public void Utf8_recipient_uses_the_rfc_6533_global_forms()
    {
        byte[] original = Encoding.UTF8.GetBytes("From: Jörg <jörg@exämple.org>\r\nTo: björn@remote.example\r\nSubject: Grüße\r\nMessage-ID: <u1@exämple.org>\r\n\r\nHallo Björn.\r\n");
        var report = new DsnReport
        {
            ReportingMta = "mail.example.org",
            To = "jörg@exämple.org",
            Utf8 = true,
            Date = When,
            OriginalMessage = original,
            Recipients =
            [
                new DsnRecipient(DsnAddress.ForMailbox("björn@remote.example"), DsnAction.Failed, "5.1.1")
                {
                    OriginalRecipient = DsnAddress.ParseOrcpt("utf-8;bj\\x{F6}rn@remote.example", allowUtf8: false),
                    DiagnosticCode = "550 5.1.1 unknown user björn",
                },
            ],
        };
        var bytes = DsnBuilder.Build(report);
        AssertWireClean(bytes, sevenBit: false);
        string s = Text(bytes);
        Assert.Contains("Content-Type: message/global-delivery-status\r\n", s);
        Assert.Contains("Final-Recipient: utf-8;björn@remote.example\r\n", s);
        Assert.Contains("Original-Recipient: utf-8;björn@remote.example\r\n", s);
        Assert.Contains("Content-Type: message/global\r\n", s);
        Assert.Contains("To: <jörg@exämple.org>\r\n", s);
        var parsed = DsnParser.Parse(bytes)!;
        Assert.True(parsed.Global);
        Assert.Equal("björn@remote.example", parsed.Recipients[0].FinalRecipient!.Address);
        Assert.Equal("utf-8", parsed.Recipients[0].FinalRecipient!.Type);
        Assert.Equal("björn@remote.example", parsed.Recipients[0].OriginalRecipient!.Address);
        Assert.Equal("u1@exämple.org", parsed.OriginalMessageId);
        Assert.Equal("550 5.1.1 unknown user björn", parsed.Recipients[0].DiagnosticCode);

        // Headers only: message/global-headers.
        string h = Text(DsnBuilder.Build(report with { Return = DsnReturn.Headers }));
        Assert.Contains("Content-Type: message/global-headers\r\n", h);
        Assert.DoesNotContain("Hallo", h);
    }

    [Fact]
    public void Eight_bit_original_without_smtputf8_is_returned_as_7bit_headers()
    {
        byte[] original = [.. Encoding.ASCII.GetBytes("Subject: caf"), 0xE9, .. Encoding.ASCII.GetBytes("\r\nMessage-ID: <x@y.example>\r\n\r\nbody "), 0xE9, (byte)'\r', (byte)'\n'];
        var bytes = DsnBuilder.Build(FailedReport(original));
        AssertWireClean(bytes, sevenBit: true);
        string s = Text(bytes);
        Assert.Contains("Content-Type: text/rfc822-headers; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n", s);
        Assert.Contains("Subject: caf=E9", s);
        Assert.Contains("8-bit content", s);
        Assert.Equal("x@y.example", DsnParser.Parse(bytes)!.OriginalMessageId);

        byte[] body8Only = [.. Encoding.ASCII.GetBytes("Subject: x\r\n\r\nbody "), 0xE9, (byte)'\r', (byte)'\n'];
        string b = Text(DsnBuilder.Build(FailedReport(body8Only)));
        Assert.Contains("Content-Type: text/rfc822-headers\r\n", b);
        Assert.DoesNotContain("body", b.Split("Content-Type: text/rfc822-headers")[1]);
    }

    [Fact]
    public void Too_large_original_is_returned_as_headers()
    {
        string s = Text(DsnBuilder.Build(FailedReport() with { MaxFullReturnBytes = 10 }));
        Assert.Contains("Content-Type: text/rfc822-headers\r\n", s);
        Assert.Contains("too large", s);
    }

    [Fact]
    public void Bare_lf_original_is_normalized_and_no_original_gives_two_parts()
    {
        var bytes = DsnBuilder.Build(FailedReport(Encoding.ASCII.GetBytes("Subject: x\nMessage-ID: <lf@x>\n\nline\n")));
        AssertWireClean(bytes, sevenBit: true);
        Assert.Equal("lf@x", DsnParser.Parse(bytes)!.OriginalMessageId);

        var none = DsnBuilder.Build(FailedReport([]));
        AssertWireClean(none, sevenBit: true);
        Assert.DoesNotContain("message/rfc822", Text(none));
        Assert.Single(DsnParser.Parse(none)!.Recipients);
    }

    [Fact]
    public void Orcpt_values_parse_strictly()
    {
        Assert.Equal(new DsnAddress("rfc822", "a+b@example.org"), DsnAddress.ParseOrcpt("rfc822;a+2Bb@example.org", false));
        Assert.Equal(new DsnAddress("rfc822", "x@y"), DsnAddress.ParseOrcpt("RFC822;x@y", false));
        Assert.Null(DsnAddress.ParseOrcpt("rfc822;a+2bb@example.org", false)); // lower-case hex
        Assert.Null(DsnAddress.ParseOrcpt("rfc822;a=b@example.org", false));
        Assert.Null(DsnAddress.ParseOrcpt("rfc822;", false));
        Assert.Null(DsnAddress.ParseOrcpt(";x@y", false));
        Assert.Null(DsnAddress.ParseOrcpt("rfc822;" + new string('a', 500), false));
        Assert.Equal(new DsnAddress("utf-8", "jörg@x.example"), DsnAddress.ParseOrcpt("utf-8;j\\x{F6}rg@x.example", false));
        Assert.Null(DsnAddress.ParseOrcpt("utf-8;jörg@x.example", false));
        Assert.Equal(new DsnAddress("utf-8", "jörg@x.example"), DsnAddress.ParseOrcpt("utf-8;jörg@x.example", true));
        Assert.Null(DsnAddress.ParseOrcpt("utf-8;j\\x{D800}rg@x", false));
        Assert.Null(DsnAddress.ParseOrcpt("utf-8;j\\x{F}rg@x", false));
        Assert.Equal("utf-8;j\\x{F6}rg@x.example", new DsnAddress("utf-8", "jörg@x.example").ToOrcpt());
        Assert.Equal("rfc822;a+2Bb@example.org", new DsnAddress("rfc822", "a+b@example.org").ToOrcpt());
    }

    [Fact]
    public void Real_postfix_bounce_is_parsed()
    {
        var bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Dsn", "Fixtures", "postfix-bounce.eml"));
        var p = DsnParser.Parse(bytes)!;
        Assert.NotNull(p);
        Assert.Equal("relay.test", p.ReportingMta);
        Assert.Equal("fixture+envid", p.OriginalEnvelopeId);
        Assert.NotNull(p.ArrivalDate);
        Assert.Equal("fixture-1@sender.test", p.OriginalMessageId);
        var r = Assert.Single(p.Recipients);
        Assert.Equal(new DsnAddress("rfc822", "nobody@remote.test"), r.FinalRecipient);
        Assert.Equal(new DsnAddress("rfc822", "Nobody@remote.test"), r.OriginalRecipient);
        Assert.Equal(DsnAction.Failed, r.ActionValue);
        Assert.Equal("5.1.1", r.Status);
        Assert.Equal("127.0.0.1", r.RemoteMta);
        Assert.Equal("smtp", r.DiagnosticType);
        Assert.Equal("550 5.1.1 <nobody@remote.test>: Recipient address rejected: no such user here", r.DiagnosticCode);
    }

    // Modelled on the examples of RFC 3464 Appendix (several recipients, one delayed, comments, a gateway diagnostic).
    private const string MultiRecipientExample =
        "Date: Thu, 7 Jul 1994 17:16:05 -0400\r\n" +
        "From: Mail Delivery Subsystem <MAILER-DAEMON@example.com>\r\n" +
        "Message-Id: <199407072116.RAA14128@example.com>\r\n" +
        "Subject: Returned mail: Cannot send message for 5 days\r\n" +
        "To: <owner-info-mime@example.net>\r\n" +
        "MIME-Version: 1.0\r\n" +
        "Content-Type: multipart/report; report-type=\"delivery-status\";\r\n" +
        "    boundary=\"RAA14128.773615765/example.com\"\r\n" +
        "\r\n" +
        "--RAA14128.773615765/example.com\r\n" +
        "\r\n" +
        "The original message was received at Sat, 2 Jul 1994 17:10:28 -0400\r\n" +
        "\r\n" +
        "--RAA14128.773615765/example.com\r\n" +
        "content-type: message/delivery-status\r\n" +
        "\r\n" +
        "Reporting-MTA: dns; example.com\r\n" +
        "\r\n" +
        "Original-Recipient: rfc822;arathib@vnet.example.com\r\n" +
        "Final-Recipient: rfc822;arathib@vnet.example.com\r\n" +
        "Action: failed\r\n" +
        "Status: 5.0.0 (permanent failure)\r\n" +
        "Diagnostic-Code: smtp;\r\n" +
        "     550 'arathib@vnet.EXAMPLE.COM' is not a registered gateway user\r\n" +
        "Remote-MTA: dns; vnet.example.com\r\n" +
        "\r\n" +
        "Original-Recipient: rfc822;johnh@hpnjld.example.com\r\n" +
        "Final-Recipient: rfc822;johnh@hpnjld.example.com\r\n" +
        "Action: delayed\r\n" +
        "Status: 4.0.0 (hpnjld.example.com: host name lookup failure)\r\n" +
        "\r\n" +
        "Original-Recipient: rfc822;wsnell@sdcc13.example.edu\r\n" +
        "Final-Recipient: rfc822;wsnell@sdcc13.example.edu\r\n" +
        "Action: failed\r\n" +
        "Status: 5.0.0\r\n" +
        "Diagnostic-Code: smtp; 550 user unknown\r\n" +
        "Remote-MTA: dns; sdcc13.example.edu\r\n" +
        "\r\n" +
        "--RAA14128.773615765/example.com\r\n" +
        "content-type: message/rfc822\r\n" +
        "\r\n" +
        "Message-Id: <original@example.net>\r\n" +
        "Subject: test\r\n" +
        "\r\n" +
        "body\r\n" +
        "--RAA14128.773615765/example.com--\r\n";

    [Fact]
    public void Rfc_3464_style_multi_recipient_report_is_parsed()
    {
        var p = DsnParser.Parse(Encoding.ASCII.GetBytes(MultiRecipientExample))!;
        Assert.Equal("example.com", p.ReportingMta);
        Assert.Null(p.OriginalEnvelopeId);
        Assert.Equal("original@example.net", p.OriginalMessageId);
        Assert.Equal(3, p.Recipients.Count);
        Assert.Equal("5.0.0", p.Recipients[0].Status);
        Assert.Equal("550 'arathib@vnet.EXAMPLE.COM' is not a registered gateway user", p.Recipients[0].DiagnosticCode);
        Assert.Equal("vnet.example.com", p.Recipients[0].RemoteMta);
        Assert.Equal(DsnAction.Delayed, p.Recipients[1].ActionValue);
        Assert.Equal("4.0.0", p.Recipients[1].Status);
        Assert.Null(p.Recipients[1].DiagnosticCode);
        Assert.Equal("wsnell@sdcc13.example.edu", p.Recipients[2].FinalRecipient!.Address);
    }

    [Theory]
    [InlineData("Subject: plain\r\n\r\nnot a report\r\n")]
    [InlineData("Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n")]
    [InlineData("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n--b--\r\n")]
    [InlineData("")]
    public void Non_dsn_messages_give_null(string message) => Assert.Null(DsnParser.Parse(Encoding.ASCII.GetBytes(message)));

    [Fact]
    public void Malformed_reports_give_partial_results()
    {
        // No status part at all.
        var p = DsnParser.Parse(Encoding.ASCII.GetBytes("Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n\r\ntext\r\n--b--\r\n"))!;
        Assert.Empty(p.Recipients);
        // Garbage fields, no boundary end, a recipient group without a blank line before it, bad status and dates.
        p = DsnParser.Parse(Encoding.ASCII.GetBytes(
            "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n" +
            "Reporting-MTA: nosemicolon\r\nFinal-Recipient: garbage\r\nAction: exploded\r\nStatus: 9.9\r\nArrival-Date: yesterday\r\n\r\n:::\r\n\r\nFinal-Recipient: rfc822; <x@y>\r\n"))!;
        Assert.Equal("nosemicolon", p.ReportingMta);
        Assert.Null(p.ArrivalDate);
        Assert.Equal(2, p.Recipients.Count);
        Assert.Null(p.Recipients[0].FinalRecipient);
        Assert.Equal("exploded", p.Recipients[0].Action);
        Assert.Null(p.Recipients[0].ActionValue);
        Assert.Null(p.Recipients[0].Status);
        Assert.Equal("x@y", p.Recipients[1].FinalRecipient!.Address);
    }

    [Fact]
    public void Huge_fields_and_many_recipients_are_bounded()
    {
        var sb = new StringBuilder("Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; ");
        sb.Append('x', 100_000).Append("\r\n");
        for (int i = 0; i < 5000; i++) sb.Append("\r\nFinal-Recipient: rfc822;u").Append(i).Append("@x\r\nAction: failed\r\n");
        sb.Append("--b--\r\n");
        var p = DsnParser.Parse(Encoding.ASCII.GetBytes(sb.ToString()))!;
        Assert.True(p.ReportingMta!.Length <= DsnParser.MaxFieldLength);
        Assert.True(p.Recipients.Count <= DsnParser.MaxRecipients);
    }

    private static readonly string[] Pieces =
    [
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n", "Content-Type: message/delivery-status\r\n",
        "Content-Type: message/global-delivery-status\r\nContent-Transfer-Encoding: base64\r\n", "Content-Type: text/rfc822-headers\r\n",
        "Content-Type: message/rfc822\r\n", "\r\n", "\n", "--b\r\n", "--b--\r\n", "Final-Recipient: rfc822;a@b\r\n", "Final-Recipient: utf-8;\\x{\r\n",
        "Action: failed\r\n", "Status: 5.1.1\r\n", "Diagnostic-Code: smtp; 550 no\r\n", " folded\r\n", "Message-ID: <a@b>\r\n", "\u00e9", ";", ":", "\0",
        "Arrival-Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n", "Original-Recipient: rfc822;+ZZ\r\n", "UmVwb3J0aW5nLU1UQTogZG5zOyB4DQo=\r\n",
    ];

    [Fact]
    public void Parser_never_throws_on_random_input()
    {
        Prop.ForAll((byte[] raw) => { DsnParser.Parse(raw); return true; }).QuickCheckThrowOnFailure();
        var gen = Gen.ListOf(Gen.Elements(Pieces)).Select(list => Encoding.UTF8.GetBytes(string.Concat(list)));
        Prop.ForAll(gen.ToArbitrary(), raw => { DsnParser.Parse(raw); return true; })
            .Check(Config.QuickThrowOnFailure.WithMaxTest(1000));
    }

    [Fact]
    public void Builder_output_always_parses_back()
    {
        var gen = Gen.Elements("a@b.example", "Jörg@x.example", "x+y@z.example", "\"q u\"@z.example")
            .SelectMany(addr => Gen.Elements(DsnAction.Failed, DsnAction.Delayed, DsnAction.Delivered, DsnAction.Relayed, DsnAction.Expanded),
                (addr, action) => (addr, action));
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            string status = t.action switch { DsnAction.Failed => "5.0.0", DsnAction.Delayed => "4.0.0", _ => "2.0.0" };
            var report = FailedReport() with { Recipients = [new DsnRecipient(DsnAddress.ForMailbox(t.addr), t.action, status)] };
            var p = DsnParser.Parse(DsnBuilder.Build(report))!;
            return p.Recipients.Count == 1 && p.Recipients[0].FinalRecipient!.Address == t.addr && p.Recipients[0].ActionValue == t.action && p.Recipients[0].Status == status;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(50));
    }
}
