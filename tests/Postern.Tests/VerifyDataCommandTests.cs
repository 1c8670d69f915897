namespace Postern.Tests;

public class VerifyDataCommandTests
{
    [Fact]
    public void Clean_data_passes_and_damage_is_detected()
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        Cli.AddAccount(dir, "alice");
        File.WriteAllText(tmp.Sub("in.mbox"), "From a@b Sat Jan  3 01:05:34 1996\nSubject: one\n\nbody\n\nFrom a@b Sat Jan  3 01:05:35 1996\nSubject: two\n\nbody\n");
        Assert.Equal(0, Cli.Run("import", "mbox", tmp.Sub("in.mbox"), "alice", "--dir", dir).ExitCode);

        var clean = Cli.Run("verifydata", dir);
        Assert.Equal(0, clean.ExitCode);
        Assert.Contains(": ok", clean.Stdout, StringComparison.Ordinal);

        var file = Directory.EnumerateFiles(Path.Combine(dir, "accounts", "alice", "msg"), "*", SearchOption.AllDirectories).First();
        File.WriteAllText(file, "short");
        var damaged = Cli.Run("verifydata", dir);
        Assert.Equal(1, damaged.ExitCode);
        Assert.Contains("problem:", damaged.Stdout, StringComparison.Ordinal);

        // Missing or damaged message files are never "fixed": the problem stays.
        Assert.Equal(1, Cli.Run("verifydata", dir, "--fix").ExitCode);
    }

    [Fact]
    public void Leftover_files_are_listed_and_removed_by_fix()
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        Cli.AddAccount(dir, "alice");
        var leftover = Path.Combine(dir, "accounts", "alice", "tmp", "leftover");
        File.WriteAllText(leftover, "partial message");
        var r = Cli.Run("verifydata", dir);
        Assert.Contains("leftover", r.Stdout, StringComparison.Ordinal);
        var fix = Cli.Run("verifydata", dir, "--fix");
        Assert.Equal(0, fix.ExitCode);
        Assert.Contains("fixed:", fix.Stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(leftover));
        Assert.Equal(0, Cli.Run("verifydata", dir).ExitCode);
    }

    [Fact]
    public void Missing_folder_is_an_error()
    {
        var r = Cli.Run("verifydata", "/nonexistent/postern-data");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no such folder", r.Stderr, StringComparison.Ordinal);
    }
}
