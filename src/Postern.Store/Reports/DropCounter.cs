// Report material is dropped rather than delay mail (BatchingReportWriter, the incoming report
// receiver); each drop is counted, and a warning is logged for the first and then at most once a
// minute, with the running count, so a flood of drops cannot flood the log.
namespace Postern.Store.Reports;

/// <summary>Counts dropped report items and says when a warning about them is due.</summary>
public sealed class DropCounter
{
    private const long LogIntervalMs = 60_000;
    private long _dropped;
    private long _lastLog = -LogIntervalMs; // so that the first drop is logged (TickCount64 starts near 0 at boot)

    /// <summary>Items dropped so far.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Counts one drop; true (with the count) when a warning is due: the first drop, then at most once a minute.</summary>
    public bool Count(out long dropped)
    {
        dropped = Interlocked.Increment(ref _dropped);
        long now = Environment.TickCount64;
        long last = Interlocked.Read(ref _lastLog);
        return now - last >= LogIntervalMs && Interlocked.CompareExchange(ref _lastLog, now, last) == last;
    }

    /// <summary>Counts <paramref name="n"/> drops without a warning (the caller logs them itself).</summary>
    public void Add(long n) => Interlocked.Add(ref _dropped, n);
}
