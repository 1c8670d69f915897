using System.Diagnostics;
using System.Globalization;
using Postern.Import;
using Spectre.Console;

namespace Postern.Cli;

/// <summary>
/// Shows an import's progress: a Spectre.Console progress bar on an interactive terminal,
/// otherwise a plain line every few seconds (for logs and scripts). Skipped entries are
/// printed as they happen, with their position.
/// </summary>
internal sealed class ImportProgressView : IImportObserver
{
    /// <summary>Seconds between plain progress lines.</summary>
    public const int PlainIntervalSeconds = 5;

    private readonly long _total;
    private readonly string _unit;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _position;
    private long _messages;
    private long _bytes;
    private long _skipped;
    private TimeSpan _lastLine;
    private ProgressTask? _task;

    public ImportProgressView(long total, string unit)
    {
        _total = Math.Max(total, 1);
        _unit = unit;
    }

    public long SkippedCount => Interlocked.Read(ref _skipped);

    public static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    public void InputPosition(long bytes)
    {
        Interlocked.Exchange(ref _position, bytes);
        if (_task is not null)
        {
            _task.Value = Math.Min(bytes, _total);
            return;
        }
        var now = _clock.Elapsed;
        if (now - _lastLine >= TimeSpan.FromSeconds(PlainIntervalSeconds))
        {
            _lastLine = now;
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"progress: {Interlocked.Read(ref _messages)} messages imported ({Mb(Interlocked.Read(ref _bytes))} MB), {100 * bytes / _total}% of input read"));
        }
    }

    public void Committed(long messages, long bytes)
    {
        Interlocked.Exchange(ref _messages, messages);
        Interlocked.Exchange(ref _bytes, bytes);
        _task?.Description = Description();
    }

    public void Skipped(string where, string problem)
    {
        Interlocked.Increment(ref _skipped);
        if (_task is not null)
            AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"[yellow]skipped[/] {where}: {problem}");
        else
            Console.Error.WriteLine($"skipped {where}: {problem}");
    }

    /// <summary>Runs the import, under a live progress bar when interactive.</summary>
    public async Task RunAsync(Func<Task> import)
    {
        if (!Interactive)
        {
            await import().ConfigureAwait(false);
            return;
        }
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                _task = ctx.AddTask(Description(), maxValue: _total);
                try
                {
                    await import().ConfigureAwait(false);
                    _task.Value = _total;
                }
                finally
                {
                    _task.Description = Description();
                    _task.StopTask();
                }
            }).ConfigureAwait(false);
        _task = null;
    }

    public string Summary(long messages, long bytes)
    {
        double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 0.001);
        var line = string.Create(CultureInfo.InvariantCulture, $"imported {messages} messages ({Mb(bytes)} MB) in {seconds:0.0} s: {messages / seconds:0} messages/s, {bytes / seconds / 1e6:0.0} MB/s");
        long skipped = SkippedCount;
        return skipped == 0 ? line : line + string.Create(CultureInfo.InvariantCulture, $"; {skipped} malformed {(skipped == 1 ? "entry" : "entries")} skipped");
    }

    private string Description() => $"{Interlocked.Read(ref _messages)} messages ({Mb(Interlocked.Read(ref _bytes))} MB){(_unit.Length > 0 ? " " + _unit : "")}";

    private static string Mb(long bytes) => (bytes / 1e6).ToString("0.0", CultureInfo.InvariantCulture);
}
