using System.Runtime.InteropServices;

namespace Postern.Import;

/// <summary>syncfs(2): flushes every file of one file system in one call (Linux).</summary>
internal static partial class NativeSync
{
    [DllImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SyncFs(IntPtr fd);

    /// <summary>Flushes the file system holding <paramref name="file"/>; false when the call is unavailable or failed (then fsync each file).</summary>
    public static bool SyncFileSystem(FileStream file)
    {
        bool added = false;
        try
        {
            file.SafeFileHandle.DangerousAddRef(ref added);
            return SyncFs(file.SafeFileHandle.DangerousGetHandle()) == 0;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        finally
        {
            if (added)
                file.SafeFileHandle.DangerousRelease();
        }
    }
}
