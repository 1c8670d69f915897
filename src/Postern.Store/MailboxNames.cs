namespace Postern.Store;

/// <summary>Validation and normalization of mailbox names ("/" separated; INBOX case-insensitive).</summary>
public static class MailboxNames
{
    /// <summary>Hierarchy separator.</summary>
    public const char Separator = '/';

    /// <summary>Longest name accepted, in characters.</summary>
    public const int MaxNameLength = 1000;

    /// <summary>Deepest hierarchy accepted.</summary>
    public const int MaxDepth = 64;

    /// <summary>The name of the inbox.</summary>
    public const string Inbox = "INBOX";

    /// <summary>Returns the canonical name (INBOX and INBOX/... spelled upper-case, RFC 9051 §5.1) or throws <see cref="InvalidMailboxNameException"/>.</summary>
    public static string Normalize(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0) throw new InvalidMailboxNameException(name, "empty");
        if (name.Length > MaxNameLength) throw new InvalidMailboxNameException(name[..40] + "...", "too long");
        int depth = 1;
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsControl(c)) throw new InvalidMailboxNameException(name, "control character");
            if (c == Separator)
            {
                if (i == 0 || i == name.Length - 1 || name[i - 1] == Separator) throw new InvalidMailboxNameException(name, "empty hierarchy level");
                depth++;
            }
        }
        if (depth > MaxDepth) throw new InvalidMailboxNameException(name, "too deep");
        // RFC 9051 §5.1: INBOX is case-insensitive, children of it too.
        if (name.Length >= 5 && name.AsSpan(0, 5).Equals(Inbox, StringComparison.OrdinalIgnoreCase) && (name.Length == 5 || name[5] == Separator))
        {
            name = string.Concat(Inbox, name.AsSpan(5));
        }
        return name;
    }

    /// <summary>Parent names from the top, e.g. "a/b/c" gives "a", "a/b".</summary>
    public static IEnumerable<string> Parents(string name)
    {
        for (int i = name.IndexOf(Separator, StringComparison.Ordinal); i >= 0; i = name.IndexOf(Separator, i + 1))
        {
            yield return name[..i];
        }
    }

    /// <summary>Whether <paramref name="name"/> is <paramref name="ancestor"/> or below it.</summary>
    public static bool IsSelfOrChild(string name, string ancestor) =>
        name == ancestor || (name.Length > ancestor.Length && name[ancestor.Length] == Separator && name.StartsWith(ancestor, StringComparison.Ordinal));
}
