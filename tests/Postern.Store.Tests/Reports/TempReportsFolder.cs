using Microsoft.Data.Sqlite;

namespace Postern.Store.Tests.Reports;

/// <summary>A temporary data folder for a reports database, deleted (once SQLite's pooled connections let go of it) on dispose.</summary>
public sealed class TempReportsFolder : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "postern-reports-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Dir, true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
