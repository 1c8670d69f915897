using System.IO.Compression;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Postern.Mail.Dsn;
using Postern.Mail.Reports;
using Postern.Tests.Shared;

namespace Postern.Mail.Tests.Reports;

/// <summary>
/// FsCheck properties of the parsers of reports other servers send us (DMARC aggregate XML, TLS
/// reports in JSON, plain or gzip, delivery status notifications), on mutated valid reports: each
/// gives a report or an error with a reason (null for a DSN that is not one), never an exception.
/// </summary>
public class ReportParserPropertyTests
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(Mutations.Runs(2000));

    private static bool NoException(byte[] input, Func<bool> parse)
    {
        try
        {
            return parse();
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"input {Mutations.Show(input)}: {e.GetType().Name}: {e.Message}", e);
        }
    }

    [Fact]
    public void Dmarc_aggregate_reports_parse_or_say_why()
    {
        Prop.ForAll(Mutations.Of(DmarcAggregateReportTests.Report), input => NoException(input, () =>
            DmarcAggregateReport.Parse(input, out string? error) is not null || !string.IsNullOrEmpty(error))).Check(Runs);
    }

    [Fact]
    public void Tls_reports_parse_or_say_why_plain_and_gzipped()
    {
        Prop.ForAll(Mutations.Of(TlsReportTests.Example), input => NoException(input, () =>
            (TlsReport.ParseMaybeGzip(input, out string? error) is not null || !string.IsNullOrEmpty(error))
            && (TlsReport.ParseMaybeGzip(Gzip(input), out string? gzError) is not null || !string.IsNullOrEmpty(gzError)))).Check(Runs);
    }

    [Fact]
    public void Corrupted_gzip_gives_an_error()
    {
        byte[] gz = Gzip(Encoding.UTF8.GetBytes(TlsReportTests.Example));
        Prop.ForAll(Mutations.Of([gz]), input => NoException(input, () =>
            TlsReport.ParseMaybeGzip(input, out string? error) is not null || !string.IsNullOrEmpty(error))).Check(Runs);
    }

    [Fact]
    public void Delivery_status_notifications_parse_or_are_not_one()
    {
        byte[] bounce = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Dsn", "Fixtures", "postfix-bounce.eml"));
        Prop.ForAll(Mutations.Of([bounce]), input => NoException(input, () =>
        {
            _ = DsnParser.Parse(input);
            return true;
        })).Check(Config.QuickThrowOnFailure.WithMaxTest(Mutations.Runs(500)));
    }

    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest))
            gz.Write(data);
        return output.ToArray();
    }
}
