namespace Postern.Dns.Wire;

/// <summary>What was wrong with a DNS message that could not be read.</summary>
public enum DnsFormatError
{
    /// <summary>The message ended in the middle of a field.</summary>
    Truncated,
    /// <summary>The message is larger than any DNS message may be.</summary>
    TooLarge,
    /// <summary>A compression pointer points forward, to itself, or loops.</summary>
    BadCompressionPointer,
    /// <summary>A label length uses the reserved 0x40/0x80 prefixes (RFC 6891 §5).</summary>
    BadLabelType,
    /// <summary>A name is longer than 255 octets (RFC 1035 §2.3.4).</summary>
    NameTooLong,
    /// <summary>More questions or records than the reader accepts.</summary>
    TooManyRecords,
    /// <summary>A record's data does not match its type's layout or its RDLENGTH.</summary>
    BadRecordData,
    /// <summary>More than one OPT record, or an OPT record in the wrong place (RFC 6891 §6.1.1).</summary>
    BadEdns,
}

/// <summary>A DNS message could not be read: it is malformed, truncated or exceeds a limit.</summary>
public sealed class DnsFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DnsFormatException(DnsFormatError error, string message) : base(message) => Error = error;

    /// <summary>Creates the exception.</summary>
    public DnsFormatException() : this(DnsFormatError.Truncated, "malformed DNS message") { }

    /// <summary>Creates the exception.</summary>
    public DnsFormatException(string message) : this(DnsFormatError.BadRecordData, message) { }

    /// <summary>Creates the exception.</summary>
    public DnsFormatException(string message, Exception innerException) : base(message, innerException) => Error = DnsFormatError.BadRecordData;

    /// <summary>The kind of problem.</summary>
    public DnsFormatError Error { get; }
}
