using Microsoft.Extensions.Logging;

namespace Postern.Smtp.Tests.Server;

/// <summary>Writes log lines to the file named by POSTERN_TEST_LOG (for debugging failed tests); silent otherwise.</summary>
public sealed class FileLogger : ILogger
{
    private static readonly string? Path = Environment.GetEnvironmentVariable("POSTERN_TEST_LOG");
    private static readonly Lock Gate = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => Path is not null;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (Path is null)
            return;
        lock (Gate)
            File.AppendAllText(Path, $"{logLevel} {formatter(state, exception)} {exception}\n");
    }
}
