using System.Diagnostics;

namespace Postern.Imap.Tests.Interop;

public class ImaplibTests
{
    [Fact]
    public async Task Python_imaplib_suite_passes_against_localserve()
    {
        using var server = await LocalServeProcess.StartAsync();
        string script = Path.Combine(AppContext.BaseDirectory, "Interop", "imaplib_suite.py");
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(server.ImapsPort.ToString());
        psi.ArgumentList.Add(server.ImapPort.ToString());
        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "python suite hung");
        string output = await stdout + await stderr;
        Assert.True(p.ExitCode == 0, output);
        Assert.Contains("ALL OK", output);
        // localserve stops cleanly on SIGTERM.
        Assert.Equal(0, server.Stop());
    }
}
