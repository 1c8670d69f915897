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

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags, int mode);

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

    private const int O_WRONLY = 1;
    private const int O_CLOEXEC_LINUX = 0x80000;
    private const int EINTR = 4;

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static unsafe partial nint PWrite(int fd, byte* buffer, nint count, long offset);

    /// <summary>
    /// Linux: writes <paramref name="bytes"/> into the existing, empty file <paramref name="path"/> and fsyncs it,
    /// in four system calls (open, pwrite, fsync, close). A <see cref="FileStream"/> adds flock twice, ftruncate
    /// and lseek for each file; on a busy MX that was a few percent of the CPU per delivered message. The file
    /// must exist and be empty (a pre-created message file, see <see cref="PrecreatedFiles"/>).
    /// </summary>
    public static unsafe void WriteExistingEmptyFileDurably(string path, ReadOnlySpan<byte> bytes)
    {
        int fd = Open(path, O_WRONLY | O_CLOEXEC_LINUX);
        if (fd < 0) throw new IOException($"open {path} failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            fixed (byte* start = bytes)
            {
                long written = 0;
                while (written < bytes.Length)
                {
                    nint n = PWrite(fd, start + written, (nint)(bytes.Length - written), written);
                    if (n < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == EINTR) continue;
                        throw new IOException($"write {path} failed: errno {errno}");
                    }
                    written += n;
                }
            }
            if (Fsync(fd) != 0) throw new IOException($"fsync {path} failed: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private const int O_CREAT_LINUX = 0x40;
    private const int O_TRUNC_LINUX = 0x200;

    /// <summary>Linux: creates <paramref name="path"/> empty (truncating a leftover) in two system calls; the caller fsyncs the folder.</summary>
    public static void CreateEmptyFile(string path)
    {
        int fd = Open(path, O_WRONLY | O_CREAT_LINUX | O_TRUNC_LINUX | O_CLOEXEC_LINUX, Convert.ToInt32("666", 8));
        if (fd < 0) throw new IOException($"create {path} failed: errno {Marshal.GetLastPInvokeError()}");
        _ = Close(fd);
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
