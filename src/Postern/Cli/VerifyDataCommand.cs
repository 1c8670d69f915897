using System.CommandLine;
using Postern.Store.Sqlite;

namespace Postern.Cli;

/// <summary>`postern verifydata DIR [--fix]`: offline consistency check of a data folder.</summary>
internal static class VerifyDataCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "The data folder to check (no server should be running on it)." };
        var fix = new Option<bool>("--fix") { Description = "Apply the safe repairs: recompute counters and reference counts, remove unreferenced files and temporary leftovers. Missing or damaged message files are only reported." };
        var cmd = new Command("verifydata", "Check every database, every message file, counts, and UID and MODSEQ order. Exit code 1 when a problem remains (leftovers of an interrupted write are listed but do not fail the check).")
        {
            dir, fix,
        };
        cmd.SetAction((parse, ct) => CliCommon.GuardAsync(async () =>
        {
            var path = parse.GetValue(dir)!;
            if (!Directory.Exists(path))
                return CliCommon.Fail($"{path}: no such folder");
            var problems = await new StoreVerifier(path).VerifyAsync(parse.GetValue(fix), ct).ConfigureAwait(false);
            int failing = 0;
            foreach (var p in problems)
            {
                string kind = p.Fixed ? "fixed" : p.Explainable ? "leftover" : "problem";
                if (!p.Fixed && !p.Explainable)
                    failing++;
                Console.Out.WriteLine($"{kind}: {p.Location}: {p.Description}");
            }
            int leftovers = problems.Count(p => !p.Fixed && p.Explainable);
            if (problems.Count == 0)
                Console.Out.WriteLine($"{path}: ok");
            else
                Console.Out.WriteLine($"{path}: {failing} problems, {leftovers} leftovers of interrupted writes (removed by --fix), {problems.Count(p => p.Fixed)} fixed");
            return failing > 0 ? CliCommon.ExitError : CliCommon.ExitOk;
        }));
        return cmd;
    }
}
