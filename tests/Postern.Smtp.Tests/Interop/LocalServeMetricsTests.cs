using System.Globalization;
using Postern.Testing;

namespace Postern.Smtp.Tests.Interop;

/// <summary>
/// /metrics of `postern localserve --metrics-port`, after SMTP and IMAP traffic from Python's smtplib and imaplib,
/// read by Prometheus's own Python client parser (python3-prometheus-client): the counts a monitoring user looks at.
/// </summary>
public class LocalServeMetricsTests
{
    private static string PosternDll() => PosternServeProcess.PosternDll("Postern.Smtp.Tests");

    [Fact]
    public async Task Metrics_count_smtp_and_imap_traffic_in_the_prometheus_format()
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-localserve-metrics-" + Guid.NewGuid().ToString("N"));
        int imap = PostfixInstance.FreePort(), smtp = PostfixInstance.FreePort(), sub = PostfixInstance.FreePort(), metrics = PostfixInstance.FreePort();
        using var p = PosternServeProcess.Start(PosternDll(), "localserve", "--dir", dir, "--imap-port", imap.ToString(CultureInfo.InvariantCulture),
            "--imaps-port", PostfixInstance.FreePort().ToString(CultureInfo.InvariantCulture), "--smtp-port", smtp.ToString(CultureInfo.InvariantCulture),
            "--submission-port", sub.ToString(CultureInfo.InvariantCulture), "--submissions-port", PostfixInstance.FreePort().ToString(CultureInfo.InvariantCulture),
            "--metrics-port", metrics.ToString(CultureInfo.InvariantCulture));
        try
        {
            Assert.True(await p.TryWaitForLogAsync("Press Ctrl-C", 60), "localserve did not start:\n" + p.Log);
            Assert.Contains($"METRICS http://127.0.0.1:{metrics}/metrics", p.Log, StringComparison.Ordinal);
            string py = $$"""
                import imaplib, smtplib, urllib.request, urllib.error
                from prometheus_client.parser import text_string_to_metric_families
                msg = b"From: a@outside.example\r\nSubject: metrics\r\n\r\nhello\r\n"
                with smtplib.SMTP("127.0.0.1", {{smtp}}) as s:
                    s.sendmail("a@outside.example", ["x@localhost"], msg)
                    s.sendmail("a@outside.example", ["y@localhost"], msg)
                    code, _ = s.docmd("MAIL FROM:<a@outside.example>")
                    code, _ = s.docmd("RCPT TO:<user550@localhost>")   # refused at RCPT: not a message
                    s.docmd("RSET")
                with smtplib.SMTP("127.0.0.1", {{sub}}) as s:
                    try:
                        s.login("postern@localhost", "wrong")
                    except smtplib.SMTPAuthenticationError:
                        pass
                    s.login("postern@localhost", "postern")
                i = imaplib.IMAP4("127.0.0.1", {{imap}})
                i.login("postern@localhost", "postern")
                i.select("INBOX")
                i.fetch("1:*", "(FLAGS)")
                try:
                    i.select("Nonexistent")
                except imaplib.IMAP4.error:
                    pass
                i.logout()
                base = "http://127.0.0.1:{{metrics}}"
                try:
                    urllib.request.urlopen(base + "/.well-known/acme-challenge/x")
                    print("OTHER 200")
                except urllib.error.HTTPError as e:
                    print("OTHER", e.code)
                with urllib.request.urlopen(base + "/metrics") as r:
                    print("CONTENT-TYPE", r.headers["Content-Type"])
                    text = r.read().decode()
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                        print("SAMPLE", family.type, sample.name, "{" + labels + "}", sample.value)
                """;
            (int code, string o) = await PeerServers.RunAsync("/usr/bin/python3", ["-c", py], TimeSpan.FromMinutes(2));
            Assert.True(code == 0, o + "\n" + p.Log);
            var samples = o.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => l.StartsWith("SAMPLE ", StringComparison.Ordinal))
                .Select(l => l.Split(' '))
                .ToDictionary(f => f[2] + f[3], f => (Type: f[1], Value: double.Parse(f[4], CultureInfo.InvariantCulture)));
            double Value(string key) => samples.TryGetValue(key, out var v) ? v.Value : throw new Xunit.Sdk.XunitException($"no sample {key} in:\n{o}");

            Assert.Contains("OTHER 404", o, StringComparison.Ordinal);
            Assert.Contains("CONTENT-TYPE text/plain; version=0.0.4; charset=utf-8", o, StringComparison.Ordinal);
            Assert.Equal(2, Value("postern_smtp_messages_total{result=accepted,service=mx}"));
            Assert.Equal("counter", samples["postern_smtp_messages_total{result=accepted,service=mx}"].Type);
            Assert.Equal(1, Value("postern_smtp_connections_total{service=mx}"));
            Assert.Equal(1, Value("postern_smtp_connections_total{service=submission}"));
            Assert.True(Value("postern_smtp_auth_total{result=failure}") >= 1); // smtplib tries each mechanism it knows
            Assert.Equal(1, Value("postern_smtp_auth_total{result=success}"));
            Assert.Equal(2, Value("postern_smtp_message_seconds_count{service=mx}"));
            Assert.Equal(2, Value("postern_smtp_message_seconds_bucket{le=+Inf,service=mx}"));
            Assert.Equal("histogram", samples["postern_smtp_message_seconds_count{service=mx}"].Type);
            Assert.Equal(1, Value("postern_imap_connections_total{}"));
            Assert.Equal(0, Value("postern_imap_sessions{}")); // the session ended
            Assert.Equal(1, Value("postern_imap_auth_total{result=success}"));
            Assert.Equal(1, Value("postern_imap_commands_total{command=select,result=ok}"));
            Assert.Equal(1, Value("postern_imap_commands_total{command=select,result=no}"));
            Assert.Equal(1, Value("postern_imap_commands_total{command=fetch,result=ok}"));
            Assert.Equal(0, Value("postern_queue_deliveries{state=waiting}")); // localserve's queue delivers at once
            Assert.Equal("gauge", samples["postern_queue_deliveries{state=held}"].Type);
            Assert.True(Value("process_open_fds{}") > 0);
            Assert.True(Value("process_resident_memory_bytes{}") > 1_000_000);
            Assert.Equal(0, Value("postern_metrics_dropped_measurements_total{}"));
        }
        finally
        {
            p.Stop();
            try
            {
                Directory.Delete(dir, true);
            }
            catch (IOException)
            {
            }
        }
    }
}
