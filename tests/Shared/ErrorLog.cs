using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Postern.Tests.Shared;

/// <summary>A logger that keeps what a server logs as an error (an unexpected exception in a session or command).</summary>
public sealed class ErrorLog : ILogger
{
    /// <summary>The error lines, with their exceptions.</summary>
    public ConcurrentQueue<string> Errors { get; } = new();

    /// <inheritdoc/>
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    /// <inheritdoc/>
    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

    /// <inheritdoc/>
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel >= LogLevel.Error)
            Errors.Enqueue(formatter(state, exception) + " " + exception);
    }
}

/// <summary>Fuzz-test settings of the servers under test.</summary>
public static class FuzzServers
{
    /// <summary>An auth failure limiter that never delays or blocks: thousands of mutated logins fail on purpose.</summary>
    public static Postern.Security.Auth.AuthFailureLimiter NoAuthDelays() => new(new Postern.Security.Auth.AuthFailureLimiterOptions
    {
        FreeFailures = int.MaxValue,
        BaseDelay = TimeSpan.Zero,
        MaxDelay = TimeSpan.Zero,
        BlockAfterAddressFailures = int.MaxValue,
        BlockAfterNetworkFailures = int.MaxValue,
        BlockAfterAccountFailures = int.MaxValue,
    });
}
