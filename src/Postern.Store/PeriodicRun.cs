// The loop of the background workers that run a job at intervals (the report sender, the
// clean-up of received reports): a run at once, then again after each wait, until stopped. A run
// that fails is logged and the next one tries again; the clock is a TimeProvider, so tests move
// time by hand.
using Microsoft.Extensions.Logging;

namespace Postern.Store;

/// <summary>Runs a job now and then after each wait until cancelled.</summary>
public static class PeriodicRun
{
    /// <summary>
    /// Runs <paramref name="run"/>, waits <paramref name="nextWait"/> (asked after each run) on
    /// <paramref name="time"/>, and again, until <paramref name="stop"/> is cancelled. A failed run is
    /// logged as "<paramref name="what"/> failed error=..."; <paramref name="finished"/> is called after every run.
    /// </summary>
    public static async Task LoopAsync(Func<CancellationToken, Task> run, Func<TimeSpan> nextWait, TimeProvider time, ILogger logger, string what,
        CancellationToken stop, Action? finished = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(nextWait);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await run(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // the worker outlives a failed run; the next one tries again
            catch (Exception e)
#pragma warning restore CA1031
            {
                logger.LogError("{What} failed error={Error}", what, e.Message);
            }
            finished?.Invoke();
            try
            {
                await Task.Delay(nextWait(), time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
