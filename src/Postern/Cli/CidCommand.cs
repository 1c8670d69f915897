// `postern cid ENCRYPTED`: turns the encrypted connection id of a Received header back into
// the connection id written in the logs. The key lives in the data folder (smtp-cid.key),
// created by the first server start.
using System.CommandLine;
using System.Globalization;
using Postern.Smtp.Delivery;

namespace Postern.Cli;

/// <summary>The <c>cid</c> command and the connection-id key file.</summary>
internal static class CidCommand
{
    /// <summary>File name of the key in the data folder.</summary>
    public const string KeyFileName = "smtp-cid.key";

    public static Command Create()
    {
        var dir = CliCommon.DataDirectoryOption();
        var value = new Argument<string>("encrypted") { Description = "The id from a Received header (32 hex digits)." };
        var cmd = new Command("cid", "Decrypt the connection id of a Received header into the id used in the logs.") { dir, value };
        cmd.SetAction(parse =>
        {
            string keyPath = Path.Combine(parse.GetValue(dir)!, KeyFileName);
            if (!File.Exists(keyPath))
            {
                Console.Error.WriteLine($"postern: no connection id key at {keyPath} (use --dir with the server's data folder)");
                return CliCommon.ExitError;
            }
            using var cipher = new ConnectionIdCipher(File.ReadAllBytes(keyPath));
            long? id = cipher.Decrypt(parse.GetValue(value)!);
            if (id is null)
            {
                Console.Error.WriteLine("postern: not a connection id of this server (wrong key or mistyped)");
                return CliCommon.ExitError;
            }
            Console.Out.WriteLine(id.Value.ToString(CultureInfo.InvariantCulture));
            return CliCommon.ExitOk;
        });
        return cmd;
    }

    /// <summary>Reads the key of a data folder, creating it (owner-only) when missing.</summary>
    public static byte[] LoadOrCreateKey(string dataDirectory)
    {
        string path = Path.Combine(dataDirectory, KeyFileName);
        if (File.Exists(path))
        {
            byte[] key = File.ReadAllBytes(path);
            if (key.Length == 16)
                return key;
        }
        byte[] created = ConnectionIdCipher.NewKey();
        Directory.CreateDirectory(dataDirectory);
        string tmp = path + ".tmp";
        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var f = new FileStream(tmp, fileOptions))
        {
            f.Write(created);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
        return created;
    }
}
