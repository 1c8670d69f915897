// Running and stopping the programs tests start (postfix, swaks, python3, `postern serve`...):
// one runner that collects a program's output with a time limit, and one way to stop a server
// by its PID (SIGTERM, as systemd's stop does, then SIGKILL if it does not exit in time).
//
// Linked into the test projects that start peers or servers:
// <Compile Include="../Shared/ChildProcess.cs" Link="Shared/ChildProcess.cs" />.
using System.Diagnostics;
using System.Globalization;

namespace Postern.Testing;

/// <summary>Runs programs for tests and stops them by PID.</summary>
public static class ChildProcess
{
    /// <summary>Exit code <see cref="RunAsync"/> returns when the program ran out of time (a real exit code is 0 to 255).</summary>
    public const int TimedOut = -1;

    /// <summary>
    /// Runs a program, returning its exit code and combined output. After <paramref name="timeout"/>
    /// (2 minutes by default, generous) it is killed and the result is <see cref="TimedOut"/> with the output so far.
    /// </summary>
    public static async Task<(int Code, string Output)> RunAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            return (TimedOut, $"{file} timed out: {await stdout}{await stderr}");
        }
        return (p.ExitCode, await stdout + await stderr);
    }

    /// <summary>Sends a signal (TERM, HUP...) to a process by its PID.</summary>
    public static void Signal(Process process, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, process.Id.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    /// <summary>
    /// Stops a process by PID: SIGTERM, then SIGKILL when it has not exited after <paramref name="graceMilliseconds"/>.
    /// Returns its exit code, or <see cref="TimedOut"/> when it had to be killed.
    /// </summary>
    public static int Stop(Process process, int graceMilliseconds = 15_000)
    {
        if (process.HasExited)
            return process.ExitCode;
        Signal(process, "TERM");
        if (!process.WaitForExit(graceMilliseconds))
        {
            process.Kill(entireProcessTree: true);
            return TimedOut;
        }
        return process.ExitCode;
    }
}
