using Postern.Store;

namespace Postern.Imap.Server;

/// <summary>IMAP names of stored flags (for tests and tools).</summary>
internal static class ImapSessionFlags
{
    /// <summary>System flags as "\Seen"... followed by keywords, without \Recent.</summary>
    public static IEnumerable<string> Names(SystemFlags flags, string[] keywords) => ImapSession.FlagNames(flags, keywords, recent: false);
}
