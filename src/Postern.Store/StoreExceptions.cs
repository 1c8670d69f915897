namespace Postern.Store;

/// <summary>Base of the errors the store reports for a request that cannot be done (not for I/O failures).</summary>
public class StoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StoreException(string message) : base(message) { }
    /// <summary>Creates the exception with an inner cause.</summary>
    public StoreException(string message, Exception inner) : base(message, inner) { }
    /// <summary>Creates the exception.</summary>
    public StoreException() { }
}

/// <summary>The named account does not exist.</summary>
public sealed class AccountNotFoundException(string name) : StoreException($"account {name} not found")
{
    /// <summary>The account name.</summary>
    public string Name { get; } = name;
}

/// <summary>An account with that name already exists.</summary>
public sealed class AccountExistsException(string name) : StoreException($"account {name} already exists")
{
    /// <summary>The account name.</summary>
    public string Name { get; } = name;
}

/// <summary>The address is already mapped to an account.</summary>
public sealed class AddressExistsException(string address) : StoreException($"address {address} already exists")
{
    /// <summary>The address.</summary>
    public string Address { get; } = address;
}

/// <summary>The mailbox does not exist (IMAP [NONEXISTENT], RFC 5530).</summary>
public sealed class MailboxNotFoundException(string name) : StoreException($"mailbox {name} does not exist")
{
    /// <summary>The mailbox name or id.</summary>
    public string Name { get; } = name;
}

/// <summary>The mailbox already exists (IMAP [ALREADYEXISTS]).</summary>
public sealed class MailboxExistsException(string name) : StoreException($"mailbox {name} already exists")
{
    /// <summary>The mailbox name.</summary>
    public string Name { get; } = name;
}

/// <summary>The mailbox is a \Noselect placeholder and holds no messages.</summary>
public sealed class MailboxNotSelectableException(string name) : StoreException($"mailbox {name} is not selectable")
{
    /// <summary>The mailbox name.</summary>
    public string Name { get; } = name;
}

/// <summary>The operation is not allowed on this mailbox (deleting INBOX, renaming into a child of itself...). IMAP [CANNOT].</summary>
public sealed class MailboxOperationException(string message) : StoreException(message);

/// <summary>The mailbox name is not acceptable (empty, control characters, empty hierarchy level, too long).</summary>
public sealed class InvalidMailboxNameException(string name, string reason) : StoreException($"invalid mailbox name {name}: {reason}")
{
    /// <summary>The rejected name.</summary>
    public string Name { get; } = name;
}

/// <summary>The change would take the account over its storage limit (IMAP [OVERQUOTA], RFC 9208).</summary>
public sealed class OverQuotaException(long limit, long used, long adding) : StoreException($"over quota: limit {limit} bytes, used {used}, adding {adding}")
{
    /// <summary>The limit in bytes.</summary>
    public long Limit { get; } = limit;
    /// <summary>Bytes used before the change.</summary>
    public long Used { get; } = used;
    /// <summary>Bytes the change would add.</summary>
    public long Adding { get; } = adding;
}

/// <summary>A message with that UID does not exist in the mailbox (expunged meanwhile).</summary>
public sealed class MessageNotFoundException(long mailboxId, uint uid) : StoreException($"message uid {uid} not found in mailbox {mailboxId}")
{
    /// <summary>The UID.</summary>
    public uint Uid { get; } = uid;
}

/// <summary>The domain still has addresses or aliases.</summary>
public sealed class DomainInUseException(string domain, int addresses, int aliases)
    : StoreException($"domain {domain} still has {addresses} address(es) and {aliases} alias(es)")
{
    /// <summary>The domain.</summary>
    public string Domain { get; } = domain;

    /// <summary>How many addresses are in the domain.</summary>
    public int Addresses { get; } = addresses;

    /// <summary>How many aliases are in the domain.</summary>
    public int Aliases { get; } = aliases;
}

/// <summary>The alias does not exist.</summary>
public sealed class AliasNotFoundException(string address) : StoreException($"alias {address} not found")
{
    /// <summary>The alias address.</summary>
    public string Address { get; } = address;
}
