using System.Diagnostics.Metrics;

namespace Postern.Web.Tests;

/// <summary>The Prometheus text format of <see cref="PrometheusExporter"/>, on meters made for each test.</summary>
public class PrometheusExporterTests
{
    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void Counters_histograms_and_gauges_are_rendered_with_help_type_and_sorted_labels()
    {
        string prefix = "PosternTest" + Guid.NewGuid().ToString("N");
        using var exporter = new PrometheusExporter(prefix);
        using var meter = new Meter(prefix + ".A");
        var counter = meter.CreateCounter<long>("t.requests", description: "Requests.\nSecond line.");
        var histogram = meter.CreateHistogram<double>("t.wait.seconds", unit: "s");
        var updown = meter.CreateUpDownCounter<long>("t.open");
        int observed = 7;
        meter.CreateObservableGauge("t.queue", () => observed);
        counter.Add(2, new("b", "2"), new("a", "x\"y\\z\n"));
        counter.Add(3, new("a", "x\"y\\z\n"), new("b", "2"));
        histogram.Record(0.003);
        histogram.Record(0.2);
        histogram.Record(100);
        updown.Add(3);
        updown.Add(-1);

        var lines = Lines(exporter.Render());
        Assert.Contains("# HELP t_requests_total Requests.\\nSecond line.", lines);
        Assert.Contains("# TYPE t_requests_total counter", lines);
        Assert.Contains("t_requests_total{a=\"x\\\"y\\\\z\\n\",b=\"2\"} 5", lines); // one series, labels sorted and escaped
        Assert.Contains("# TYPE t_wait_seconds histogram", lines);
        Assert.Contains("t_wait_seconds_bucket{le=\"0.001\"} 0", lines);
        Assert.Contains("t_wait_seconds_bucket{le=\"0.005\"} 1", lines);
        Assert.Contains("t_wait_seconds_bucket{le=\"0.25\"} 2", lines);
        Assert.Contains("t_wait_seconds_bucket{le=\"60\"} 2", lines);
        Assert.Contains("t_wait_seconds_bucket{le=\"+Inf\"} 3", lines);
        Assert.Contains("t_wait_seconds_count 3", lines);
        Assert.Contains(lines, l => l.StartsWith("t_wait_seconds_sum 100.20", StringComparison.Ordinal));
        Assert.Contains("# TYPE t_open gauge", lines);
        Assert.Contains("t_open 2", lines);
        Assert.Contains("t_queue 7", lines);
        observed = 9;
        Assert.Contains("t_queue 9", Lines(exporter.Render())); // observed again at each scrape
        Assert.Contains(lines, l => l.StartsWith("process_resident_memory_bytes ", StringComparison.Ordinal));
    }

    [Fact]
    public void Label_sets_per_metric_are_bounded_and_the_rest_is_counted_as_dropped()
    {
        string prefix = "PosternTest" + Guid.NewGuid().ToString("N");
        using var exporter = new PrometheusExporter(prefix);
        using var meter = new Meter(prefix + ".B");
        var counter = meter.CreateCounter<long>("t.many");
        for (int i = 0; i < PrometheusExporter.MaxSeriesPerInstrument + 50; i++) counter.Add(1, new KeyValuePair<string, object?>("n", i));
        var lines = Lines(exporter.Render());
        Assert.Equal(PrometheusExporter.MaxSeriesPerInstrument, lines.Count(l => l.StartsWith("t_many_total{", StringComparison.Ordinal)));
        Assert.Contains("postern_metrics_dropped_measurements_total 50", lines);
    }

    [Fact]
    public void Other_meters_are_not_exported_and_names_are_made_valid()
    {
        string prefix = "PosternTest" + Guid.NewGuid().ToString("N");
        using var exporter = new PrometheusExporter(prefix);
        using var other = new Meter("Other" + prefix);
        other.CreateCounter<long>("t.hidden").Add(1);
        Assert.DoesNotContain("t_hidden", exporter.Render(), StringComparison.Ordinal);
        Assert.Equal("a_b_c_d", PrometheusExporter.MetricName("a.b-c/d"));
        Assert.Equal("_9lives", PrometheusExporter.MetricName("9lives"));
    }
}
