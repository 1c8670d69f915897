using System.Runtime.InteropServices;
using System.Text;

namespace Postern.Security.Acme;

/// <summary>
/// fsync(2) of a folder, so that a rename(2) into it is durable (POSIX). .NET cannot open a folder
/// as a FileStream; on Windows the rename is journaled by NTFS and nothing is needed.
/// </summary>
internal static class DirectorySync
{
    private const int O_RDONLY = 0;
    private const int O_DIRECTORY_LINUX = 0x10000;
    private const int O_DIRECTORY_MACOS = 0x100000;

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Open(byte[] path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Fsync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Close(int fd);

    public static void Fsync(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        byte[] path = Encoding.UTF8.GetBytes(directory + "\0");
        int fd = Open(path, O_RDONLY | (OperatingSystem.IsMacOS() ? O_DIRECTORY_MACOS : O_DIRECTORY_LINUX));
        if (fd < 0) throw new IOException($"cannot open folder {directory} to sync it: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (Fsync(fd) != 0) throw new IOException($"cannot sync folder {directory}: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            _ = Close(fd);
        }
    }
}
