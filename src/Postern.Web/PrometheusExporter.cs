// /metrics: every System.Diagnostics.Metrics instrument of a meter named "Postern..." in the
// Prometheus text format (version 0.0.4), plus the process's own figures (CPU, memory, open files).
//
// Names: the instrument's name with '.' as '_' (postern.smtp.connections → postern_smtp_connections),
// counters end in _total. Histograms get cumulative buckets, _sum and _count. Tags become labels;
// the code only ever tags with a small set of its own values (a service name, a result), never
// with what a peer sent, and each instrument keeps at most MaxSeriesPerInstrument label sets
// besides, so memory stays bounded whatever happens.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Postern.Web;

/// <summary>Collects Postern's metrics in memory and renders them for a Prometheus scrape.</summary>
public sealed class PrometheusExporter : IDisposable
{
    /// <summary>Label sets kept per instrument; measurements with more are dropped (and counted).</summary>
    public const int MaxSeriesPerInstrument = 200;

    /// <summary>Histogram bucket bounds for durations in seconds.</summary>
    public static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, InstrumentState> _instruments = new();
    private readonly Lock _collect = new();
    private long _dropped;

    /// <summary>Starts listening to every meter whose name starts with <paramref name="meterPrefix"/>.</summary>
    public PrometheusExporter(string meterPrefix = "Postern")
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!instrument.Meter.Name.StartsWith(meterPrefix, StringComparison.Ordinal)) return;
            var state = _instruments.GetOrAdd(instrument, i => new InstrumentState(i, this));
            listener.EnableMeasurementEvents(instrument, state);
        };
        _listener.MeasurementsCompleted = (instrument, _) => _instruments.TryRemove(instrument, out InstrumentState? _);
        _listener.SetMeasurementEventCallback<long>((_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>((_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>((_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>The current values in the Prometheus text exposition format.</summary>
    public string Render()
    {
        var sb = new StringBuilder();
        lock (_collect)
        {
            foreach (var s in _instruments.Values) s.BeginObservation();
            _listener.RecordObservableInstruments();
            foreach (var s in _instruments.Values.OrderBy(s => s.Name, StringComparer.Ordinal)) s.Render(sb);
        }
        RenderProcess(sb);
        Family(sb, "postern_metrics_dropped_measurements_total", "counter", "Measurements not recorded because their instrument had too many label sets.");
        Sample(sb, "postern_metrics_dropped_measurements_total", "", Interlocked.Read(ref _dropped));
        return sb.ToString();
    }

    private static void RenderProcess(StringBuilder sb)
    {
        using var p = Process.GetCurrentProcess();
        Family(sb, "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
        Sample(sb, "process_cpu_seconds_total", "", p.TotalProcessorTime.TotalSeconds);
        Family(sb, "process_resident_memory_bytes", "gauge", "Resident memory, in bytes.");
        Sample(sb, "process_resident_memory_bytes", "", p.WorkingSet64);
        Family(sb, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.");
        Sample(sb, "process_start_time_seconds", "", new DateTimeOffset(p.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        if (OperatingSystem.IsLinux() && Directory.Exists("/proc/self/fd"))
        {
            Family(sb, "process_open_fds", "gauge", "Open file descriptors (sockets included).");
            Sample(sb, "process_open_fds", "", Directory.EnumerateFileSystemEntries("/proc/self/fd").Count());
        }
        Family(sb, "dotnet_gc_heap_bytes", "gauge", "Bytes in the managed heap after the last collection.");
        Sample(sb, "dotnet_gc_heap_bytes", "", GC.GetTotalMemory(false));
        Family(sb, "dotnet_threadpool_threads", "gauge", "Thread-pool threads.");
        Sample(sb, "dotnet_threadpool_threads", "", ThreadPool.ThreadCount);
    }

    private static void Family(StringBuilder sb, string name, string type, string help) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help)).Append('\n')
          .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder sb, string name, string labels, double value) =>
        sb.Append(name).Append(labels).Append(' ').Append(FormatValue(value)).Append('\n');

    private static string FormatValue(double v) =>
        double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);

    private static string EscapeHelp(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeLabel(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>A metric name from an instrument name: letters, digits and '_' only (Prometheus data model).</summary>
    internal static string MetricName(string instrumentName)
    {
        var sb = new StringBuilder(instrumentName.Length);
        foreach (char c in instrumentName) sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        if (sb.Length == 0 || char.IsAsciiDigit(sb[0])) sb.Insert(0, '_');
        return sb.ToString();
    }

    private static string LabelName(string key)
    {
        string n = MetricName(key);
        return n.StartsWith("__", StringComparison.Ordinal) ? "x" + n : n;
    }

    /// <inheritdoc/>
    public void Dispose() => _listener.Dispose();

    private enum Kind { Counter, Gauge, Histogram }

    private sealed class Series
    {
        public double Value;
        public long[]? Buckets; // histogram: counts per bound, then +Inf
        public double Sum;
        public long Count;
    }

    private sealed class InstrumentState
    {
        private readonly PrometheusExporter _owner;
        private readonly Kind _kind;
        private readonly bool _observable;
        private readonly string _help;
        private readonly Dictionary<string, Series> _series = new(StringComparer.Ordinal);

        public InstrumentState(Instrument instrument, PrometheusExporter owner)
        {
            _owner = owner;
            string type = instrument.GetType().Name;
            _observable = type.StartsWith("Observable", StringComparison.Ordinal);
            _kind = type.StartsWith("Histogram", StringComparison.Ordinal) ? Kind.Histogram
                : type.StartsWith("Counter", StringComparison.Ordinal) || type.StartsWith("ObservableCounter", StringComparison.Ordinal) ? Kind.Counter
                : Kind.Gauge; // UpDownCounter, Gauge, ObservableGauge, ObservableUpDownCounter
            string name = MetricName(instrument.Name);
            if (_kind == Kind.Counter && !name.EndsWith("_total", StringComparison.Ordinal)) name += "_total";
            Name = name;
            _help = instrument.Description ?? instrument.Name;
        }

        public string Name { get; }

        /// <summary>Observable instruments report their whole state at each scrape: forget the previous one.</summary>
        public void BeginObservation()
        {
            if (!_observable) return;
            lock (_series) _series.Clear();
        }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string labels = Labels(tags);
            lock (_series)
            {
                if (!_series.TryGetValue(labels, out var s))
                {
                    if (_series.Count >= MaxSeriesPerInstrument)
                    {
                        Interlocked.Increment(ref _owner._dropped);
                        return;
                    }
                    s = new Series();
                    if (_kind == Kind.Histogram) s.Buckets = new long[SecondsBuckets.Length + 1];
                    _series[labels] = s;
                }
                switch (_kind)
                {
                    case Kind.Histogram:
                        int i = 0;
                        while (i < SecondsBuckets.Length && value > SecondsBuckets[i]) i++;
                        s.Buckets![i]++;
                        s.Sum += value;
                        s.Count++;
                        break;
                    case Kind.Counter when !_observable:
                        s.Value += value;
                        break;
                    case Kind.Gauge when !_observable:
                        s.Value += value; // an UpDownCounter adds; a synchronous Gauge is not used by Postern
                        break;
                    default:
                        s.Value = value; // observable: the reported value is the whole value
                        break;
                }
            }
        }

        private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length == 0) return "";
            var pairs = new List<(string, string)>(tags.Length);
            foreach (var t in tags) pairs.Add((LabelName(t.Key), Convert.ToString(t.Value, CultureInfo.InvariantCulture) ?? ""));
            pairs.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
            var sb = new StringBuilder("{");
            for (int i = 0; i < pairs.Count; i++)
            {
                if (i > 0) sb.Append(',');
                sb.Append(pairs[i].Item1).Append("=\"").Append(EscapeLabel(pairs[i].Item2)).Append('"');
            }
            return sb.Append('}').ToString();
        }

        public void Render(StringBuilder sb)
        {
            lock (_series)
            {
                Family(sb, Name, _kind switch { Kind.Counter => "counter", Kind.Histogram => "histogram", _ => "gauge" }, _help);
                foreach (var (labels, s) in _series.OrderBy(x => x.Key, StringComparer.Ordinal))
                {
                    if (_kind != Kind.Histogram)
                    {
                        Sample(sb, Name, labels, s.Value);
                        continue;
                    }
                    long cumulative = 0;
                    for (int i = 0; i <= SecondsBuckets.Length; i++)
                    {
                        cumulative += s.Buckets![i];
                        string le = i < SecondsBuckets.Length ? SecondsBuckets[i].ToString("R", CultureInfo.InvariantCulture) : "+Inf";
                        string withLe = labels.Length == 0 ? "{le=\"" + le + "\"}" : labels[..^1] + ",le=\"" + le + "\"}";
                        Sample(sb, Name + "_bucket", withLe, cumulative);
                    }
                    Sample(sb, Name + "_sum", labels, s.Sum);
                    Sample(sb, Name + "_count", labels, s.Count);
                }
            }
        }
    }
}
