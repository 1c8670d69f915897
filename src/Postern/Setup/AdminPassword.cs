// The administrator's password, for the admin web pages and API (a later release). Stored in the
// data folder as DATA/admin-password: the same derived secrets as account passwords
// (PasswordSecrets: PBKDF2 and SCRAM, never the password), one line, mode 0600.
using Postern.Security.Passwords;

namespace Postern.Setup;

/// <summary>Sets and checks the admin password of a data folder.</summary>
internal static class AdminPassword
{
    public const string FileName = "admin-password";

    /// <summary>Replaces the stored secrets atomically (write, fsync, rename).</summary>
    public static void Set(string dataDirectory, string password)
    {
        string path = Path.Combine(dataDirectory, FileName);
        string temp = path + ".tmp";
        File.Delete(temp);
        HostKeys.WritePrivate(temp, PasswordSecrets.Derive(password) + "\n");
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Whether <paramref name="password"/> is the admin password; false when none is set.</summary>
    public static bool Verify(string dataDirectory, string password)
    {
        string path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path)) return false;
        return PasswordSecrets.TryParse(File.ReadAllText(path).Trim(), out var secrets, out _) && secrets!.VerifyPassword(password);
    }
}
