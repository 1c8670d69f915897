using System.Diagnostics;

namespace Postern.Tests;

public class VersionCommandTests
{
    [Fact]
    public void Version_prints_name_and_version()
    {
        var result = PosternProcess.Run("version");
        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("postern ", result.Stdout, StringComparison.Ordinal);
    }
}

/// <summary>Runs the built postern executable as a child process, as a user would.</summary>
internal static class PosternProcess
{
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "postern.dll");

    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(DllPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("postern " + string.Join(' ', args)); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
