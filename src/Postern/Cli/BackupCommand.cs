using System.CommandLine;
using Postern.Config;
using Postern.Store;
using Postern.Store.Sqlite;

namespace Postern.Cli;

/// <summary>`postern backup DEST`: a consistent copy of a data folder (and its configuration file), safe while the server runs.</summary>
internal static class BackupCommand
{
    public static Command Create()
    {
        var dest = new Argument<string>("DEST") { Description = "Folder to create with the copy; must not exist or be empty." };
        var dir = new Option<string?>("--dir", "-d") { Description = "Data folder to copy. Without it, the data-dir of --config." };
        var config = ServeCommand.ConfigOption();
        var cmd = new Command("backup", "Copy the configuration file, databases and message files consistently, while the server runs (message files are hard-linked where possible), then verify the copy.")
        {
            dest, dir, config,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            string target = Path.GetFullPath(parse.GetValue(dest)!);
            string? data = parse.GetValue(dir);
            string? configFile = null;
            if (data is null)
            {
                LoadedConfig loaded;
                try
                {
                    loaded = ConfigLoader.Load(parse.GetValue(config)!);
                }
                catch (ConfigException e)
                {
                    foreach (var line in e.Errors) Console.Error.WriteLine(line);
                    Console.Error.WriteLine("give the data folder with --dir, or a valid configuration with --config");
                    return ServeCommand.ExitConfig;
                }
                data = loaded.DataDirectory;
                configFile = loaded.FilePath;
            }
            if (!Directory.Exists(data))
                return CliCommon.Fail($"{data}: no such folder");
            if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
                return CliCommon.Fail($"{target} exists and is not empty");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            BackupResult result;
            try
            {
                result = await Task.Run(() => new StoreBackup(data, Path.Combine(target, "data")).Run(ct), ct).ConfigureAwait(false);
            }
            catch (StoreException e)
            {
                return CliCommon.Fail(e.Message);
            }
            if (configFile is not null)
                File.Copy(configFile, Path.Combine(target, Path.GetFileName(configFile)));
            var problems = await new StoreVerifier(Path.Combine(target, "data")).VerifyAsync(fix: false, ct).ConfigureAwait(false);
            foreach (var p in problems)
                Console.Out.WriteLine($"{(p.Explainable ? "leftover" : "problem")}: {p.Location}: {p.Description}");
            Console.Out.WriteLine(System.FormattableString.Invariant(
                $"{target}: {result.Databases} databases, {result.MessageFiles} message files ({result.Linked} hard links), {result.OtherFiles} other files, {result.Bytes / 1048576.0:F1} MB written in {clock.Elapsed.TotalSeconds:F1} s{(configFile is null ? "" : ", and " + Path.GetFileName(configFile))}"));
            if (problems.Any(p => !p.Explainable))
                return CliCommon.Fail("the copy does not verify; keep the previous backup");
            return CliCommon.ExitOk;
        }));
        return cmd;
    }
}
