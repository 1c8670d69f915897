using System.Runtime.InteropServices;

namespace Postern.Store.Sqlite;

/// <summary>
/// Directory fsync. .NET cannot open a directory as a file, but after rename(2) the new directory entry is only
/// durable once the directory itself is fsynced (POSIX). On Windows the rename is journaled by NTFS; nothing to do.
/// </summary>
internal static partial class NativeMethods
{
    private const int O_RDONLY = 0;
    private const int O_DIRECTORY_LINUX = 0x10000;
    private const int O_DIRECTORY_MACOS = 0x100000;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    public static void FsyncDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) return;
        int flags = O_RDONLY | (OperatingSystem.IsMacOS() ? O_DIRECTORY_MACOS : O_DIRECTORY_LINUX);
        int fd = Open(path, flags);
        if (fd < 0) throw new IOException($"open directory {path} for fsync failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (Fsync(fd) != 0) throw new IOException($"fsync directory {path} failed: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string existing, string created);

    private const int ENOENT = 2;

    /// <summary>
    /// Creates <paramref name="created"/> as a hard link to <paramref name="existing"/>. False when the
    /// platform or file system cannot (the caller copies instead); <paramref name="sourceMissing"/> tells
    /// a vanished source apart.
    /// </summary>
    public static bool TryHardLink(string existing, string created, out bool sourceMissing)
    {
        sourceMissing = false;
        if (OperatingSystem.IsWindows())
        {
            sourceMissing = !File.Exists(existing);
            return false;
        }
        if (Link(existing, created) == 0) return true;
        sourceMissing = Marshal.GetLastPInvokeError() == ENOENT && !File.Exists(existing);
        return false;
    }
}

/// <summary>
/// The few SQLite calls of the SELECT listing, made on the raw statement pointer. Listing 100,000 messages makes
/// about 400,000 column calls; through SQLitePCL each pays a provider lookup and a SafeHandle add-ref/release,
/// which cost as much as SQLite's own work. The caller keeps the <c>sqlite3_stmt</c> handle alive meanwhile.
/// </summary>
internal static partial class SqliteNative
{
    private const string Library = "e_sqlite3";

    [LibraryImport(Library, EntryPoint = "sqlite3_step")]
    public static partial int Step(IntPtr stmt);

    [LibraryImport(Library, EntryPoint = "sqlite3_column_int64")]
    [SuppressGCTransition]
    public static partial long ColumnInt64(IntPtr stmt, int column);

    [LibraryImport(Library, EntryPoint = "sqlite3_column_bytes")]
    [SuppressGCTransition]
    public static partial int ColumnBytes(IntPtr stmt, int column);

    [LibraryImport(Library, EntryPoint = "sqlite3_column_text")]
    [SuppressGCTransition]
    public static partial IntPtr ColumnText(IntPtr stmt, int column);
}
