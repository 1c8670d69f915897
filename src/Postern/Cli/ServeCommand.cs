// `postern serve`, `postern stop`, `postern config test|describe`.
using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Postern.Config;
using Postern.Security.Tls;
using Postern.Serve;

namespace Postern.Cli;

/// <summary>Commands that run or reach a configured server.</summary>
internal static class ServeCommand
{
    /// <summary>Exit code for a configuration that cannot be used.</summary>
    public const int ExitConfig = 2;

    public static Option<string> ConfigOption() => new("--config", "-c")
    {
        Description = "The configuration file.",
        DefaultValueFactory = _ => "postern.conf",
    };

    public static Command CreateServe()
    {
        var config = ConfigOption();
        var cmd = new Command("serve", "Run the server of a configuration file: every listener it names, until SIGTERM, Ctrl-C or `postern stop`.") { config };
        cmd.SetAction(async (parse, ct) => await ServeAsync(parse.GetValue(config)!, ct).ConfigureAwait(false));
        return cmd;
    }

    public static Command CreateStop()
    {
        var config = ConfigOption();
        var cmd = new Command("stop", "Ask the running server of a configuration to stop (through its control socket) and wait until it has.") { config };
        cmd.SetAction(async (parse, ct) =>
        {
            if (Load(parse.GetValue(config)!) is not { } loaded) return ExitConfig;
            string data = loaded.DataDirectory;
            var answer = await ControlSocket.TrySendAsync(data, "stop", TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            if (answer is null)
                return CliCommon.Fail($"no server is running on {data}");
            Console.Out.Write(answer);
            // The socket file disappears when the server has closed everything.
            var deadline = DateTime.UtcNow.AddSeconds(loaded.Config.ShutdownGraceSeconds + 30);
            while (File.Exists(Path.Combine(data, ControlSocket.FileName)) && DateTime.UtcNow < deadline)
                await Task.Delay(100, ct).ConfigureAwait(false);
            if (File.Exists(Path.Combine(data, ControlSocket.FileName)))
                return CliCommon.Fail("the server did not stop in time");
            Console.Out.WriteLine("stopped");
            return CliCommon.ExitOk;
        });
        return cmd;
    }

    public static Command CreateConfig()
    {
        var config = ConfigOption();
        var test = new Command("test", "Check the configuration file and the certificate files it names; print each problem with its line.") { config };
        test.SetAction(parse =>
        {
            if (Load(parse.GetValue(config)!) is not { } loaded) return ExitConfig;
            var problems = CheckFiles(loaded);
            foreach (var p in problems) Console.Error.WriteLine(p);
            if (problems.Count > 0) return ExitConfig;
            Console.Out.WriteLine($"{loaded.FilePath}: ok");
            return CliCommon.ExitOk;
        });
        var describe = new Command("describe", "Print the reference of the configuration file: every setting, commented, with an example value.");
        describe.SetAction(_ =>
        {
            Console.Out.Write(ConfigDescriber.Describe());
            return CliCommon.ExitOk;
        });
        var cmd = new Command("config", "Check and describe the configuration; manage domains, accounts, addresses, aliases, DKIM keys and DNS records.")
        {
            test, describe, AddressCommands.CreateAddress(), AddressCommands.CreateAlias(),
        };
        ConfigAdminCommands.AddTo(cmd);
        return cmd;
    }

    private static LoadedConfig? Load(string path)
    {
        try
        {
            return ConfigLoader.Load(path);
        }
        catch (ConfigException e)
        {
            foreach (var line in e.Errors) Console.Error.WriteLine(line);
            return null;
        }
    }

    private static List<string> CheckFiles(LoadedConfig loaded)
    {
        var problems = new List<string>();
        foreach (var (name, l) in loaded.Config.Listeners)
        {
            if (l.Tls.KeyCerts.Count == 0) continue;
            try
            {
                _ = new CertificateSelector([.. l.Tls.KeyCerts.Select(k => new CertificateFiles(loaded.Resolve(k.CertFile), loaded.Resolve(k.KeyFile)))]);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                problems.Add($"{loaded.FilePath}: listeners.{name}.tls: {e.Message}");
            }
        }
        if (loaded.Config.Acme.TrustedCaFile.Length > 0)
        {
            string ca = loaded.Resolve(loaded.Config.Acme.TrustedCaFile);
            try
            {
                var roots = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
                roots.ImportFromPemFile(ca);
                if (roots.Count == 0) problems.Add($"{loaded.FilePath}: acme.trusted-ca-file: {ca} holds no PEM certificate");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                problems.Add($"{loaded.FilePath}: acme.trusted-ca-file: {ca}: {e.Message}");
            }
        }
        if (!Directory.Exists(loaded.DataDirectory))
            problems.Add($"{loaded.FilePath}: data-dir: {loaded.DataDirectory} does not exist");
        return problems;
    }

    private static async Task<int> ServeAsync(string configPath, CancellationToken ct)
    {
        if (Load(configPath) is not { } loaded) return ExitConfig;
        LogLevel level = loaded.Config.LogLevel switch
        {
            LogLevelSetting.Trace => LogLevel.Trace,
            LogLevelSetting.Debug => LogLevel.Debug,
            LogLevelSetting.Warn => LogLevel.Warning,
            LogLevelSetting.Error => LogLevel.Error,
            _ => LogLevel.Information,
        };
        using ILoggerFactory logs = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        }).SetMinimumLevel(level));
        ILogger logger = logs.CreateLogger("postern");

        await using var server = new MailServer(loaded, logger);
        try
        {
            await server.StartAsync(ct).ConfigureAwait(false);
        }
        catch (StartException e)
        {
            Console.Error.WriteLine($"{loaded.FilePath}: {e.Message}");
            return ExitConfig;
        }
        logger.LogInformation("postern {Version} serving {Host} data={Data} listeners={Listeners}",
            PosternCli.Version, loaded.Config.Hostname, loaded.DataDirectory, string.Join("; ", server.Endpoints));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        try
        {
            await server.StopRequested.WaitAsync(stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        var grace = TimeSpan.FromSeconds(loaded.Config.ShutdownGraceSeconds);
        logger.LogInformation("stopping: no new connections, sessions get {Grace} s to finish", grace.TotalSeconds);
        await server.StopAsync(grace).ConfigureAwait(false);
        logger.LogInformation("stopped");
        return CliCommon.ExitOk;
    }
}
