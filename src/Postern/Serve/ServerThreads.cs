namespace Postern.Serve;

/// <summary>Thread-pool settings of a running server (`serve` and `localserve`).</summary>
internal static class ServerThreads
{
    /// <summary>Thread-pool threads the pool starts at once, without its slow ramp-up, when work is waiting.</summary>
    public const int MinimumPoolThreads = 64;

    /// <summary>
    /// Message files and SQLite commits are fsynced on thread-pool threads, which block meanwhile. The pool starts
    /// with one thread per core and adds more only slowly, so on a 2-core machine two fsyncs in flight held back every
    /// socket continuation and the CPU sat idle: 20 SMTP sessions delivered 15–20 % fewer messages per second
    /// (bench/README.md, SMTP; 32 and 64 measured alike). Idle threads cost only their stacks and exit after 20 s.
    /// </summary>
    public static void RaisePoolMinimum()
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        if (workers < MinimumPoolThreads)
            ThreadPool.SetMinThreads(MinimumPoolThreads, io);
    }
}
