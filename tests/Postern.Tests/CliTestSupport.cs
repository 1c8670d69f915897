using System.Diagnostics;
using Postern.Store;
using Postern.Store.Sqlite;

namespace Postern.Tests;

/// <summary>A fresh temporary folder, removed afterwards.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "postern-cli-test-" + Guid.NewGuid().ToString("N"));

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>One message as the store holds it, for comparisons.</summary>
internal sealed record StoredMessage(byte[] Bytes, SystemFlags Flags, string[] Keywords, DateTimeOffset InternalDate)
{
    public string Text => System.Text.Encoding.Latin1.GetString(Bytes);

    public string FlagText => Flags + " " + string.Join(' ', Keywords.Order(StringComparer.OrdinalIgnoreCase));
}

internal static class Cli
{
    /// <summary>Runs postern with the given arguments and standard input.</summary>
    public static (int ExitCode, string Stdout, string Stderr) RunWithInput(string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        psi.ArgumentList.Add(PosternProcess.DllPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(300_000)) { p.Kill(true); throw new TimeoutException("postern " + string.Join(' ', args)); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) => RunWithInput(null, args);

    public static void AddAccount(string dir, string name)
    {
        var r = Run("account", "add", name, "--dir", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
    }

    /// <summary>Every selectable mailbox of an account with its messages in UID order.</summary>
    public static async Task<Dictionary<string, List<StoredMessage>>> ReadAccountAsync(string dir, string account)
    {
        await using var store = SqliteMailStore.Open(dir);
        await using var acc = await store.OpenAccountAsync(account);
        var result = new Dictionary<string, List<StoredMessage>>(StringComparer.Ordinal);
        foreach (var mb in await acc.ListMailboxesAsync())
        {
            if (!mb.Selectable) continue;
            var list = new List<StoredMessage>();
            foreach (var rec in await acc.ListMessagesAsync(mb.Id))
            {
                await using var s = await acc.OpenContentAsync(mb.Id, rec.Uid);
                var ms = new MemoryStream();
                await s.CopyToAsync(ms);
                list.Add(new StoredMessage(ms.ToArray(), rec.Flags, rec.Keywords, rec.InternalDate));
            }
            result[mb.Name] = list;
        }
        return result;
    }
}
