namespace Postern.Store;

/// <summary>
/// Durable file writing for the other parts of Postern that keep files in the data folder (the outgoing
/// queue): the same fsync rules the store's message files follow (DESIGN principle 4).
/// </summary>
public static class DurableFiles
{
    /// <summary>Fsyncs a directory so that entries created or renamed in it survive a crash (no-op on Windows).</summary>
    public static void FsyncDirectory(string path) => Sqlite.NativeMethods.FsyncDirectory(path);

    /// <summary>Creates <paramref name="path"/> (and missing parents) durably: each created folder's parent is fsynced.</summary>
    public static void EnsureDirectory(string path)
    {
        if (Directory.Exists(path)) return;
        string? parent = Path.GetDirectoryName(Path.GetFullPath(path));
        if (parent is not null) EnsureDirectory(parent);
        Directory.CreateDirectory(path);
        if (parent is not null) FsyncDirectory(parent);
    }

    /// <summary>Deletes a file, ignoring a missing file or an I/O error (leftovers are cleaned up later).</summary>
    public static void TryDelete(string path) => Sqlite.MessageFiles.TryDelete(path);
}
