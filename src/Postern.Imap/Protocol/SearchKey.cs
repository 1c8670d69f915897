namespace Postern.Imap.Protocol;

/// <summary>Kinds of search keys (RFC 9051 §6.4.4 and extensions).</summary>
public enum SearchKeyKind
{
    /// <summary>ALL</summary>
    All,
    /// <summary>A parenthesised list or implicit AND of keys.</summary>
    And,
    /// <summary>OR a b</summary>
    Or,
    /// <summary>NOT a</summary>
    Not,
    /// <summary>A sequence set (message numbers) or $.</summary>
    SequenceNumbers,
    /// <summary>UID set (or $).</summary>
    Uids,
    /// <summary>A system flag or keyword that must be set (Text holds the flag).</summary>
    FlagSet,
    /// <summary>A system flag or keyword that must be unset.</summary>
    FlagUnset,
    /// <summary>NEW (rev1): \Recent and not \Seen.</summary>
    New,
    /// <summary>OLD (rev1): not \Recent.</summary>
    Old,
    /// <summary>Header field contains (Field, Text); FROM/TO/CC/BCC/SUBJECT map here.</summary>
    Header,
    /// <summary>BODY text.</summary>
    Body,
    /// <summary>TEXT (header and body).</summary>
    Text,
    /// <summary>Internal date BEFORE.</summary>
    Before,
    /// <summary>Internal date ON.</summary>
    On,
    /// <summary>Internal date SINCE.</summary>
    Since,
    /// <summary>SENTBEFORE</summary>
    SentBefore,
    /// <summary>SENTON</summary>
    SentOn,
    /// <summary>SENTSINCE</summary>
    SentSince,
    /// <summary>SAVEDBEFORE (RFC 8514)</summary>
    SavedBefore,
    /// <summary>SAVEDON (RFC 8514)</summary>
    SavedOn,
    /// <summary>SAVEDSINCE (RFC 8514)</summary>
    SavedSince,
    /// <summary>SAVEDATESUPPORTED (RFC 8514)</summary>
    SaveDateSupported,
    /// <summary>LARGER n</summary>
    Larger,
    /// <summary>SMALLER n</summary>
    Smaller,
    /// <summary>MODSEQ n (RFC 7162)</summary>
    ModSeq,
    /// <summary>OLDER seconds (RFC 5032)</summary>
    Older,
    /// <summary>YOUNGER seconds (RFC 5032)</summary>
    Younger,
}

/// <summary>A node of a parsed search program.</summary>
public sealed record SearchKey(SearchKeyKind Kind)
{
    /// <summary>Sub-keys of AND/OR/NOT.</summary>
    public IReadOnlyList<SearchKey> Children { get; init; } = [];

    /// <summary>Set for SequenceNumbers/Uids.</summary>
    public SequenceSet? Set { get; init; }

    /// <summary>Header field name for Header.</summary>
    public string? Field { get; init; }

    /// <summary>String argument (search text or flag).</summary>
    public string? Text { get; init; }

    /// <summary>Date argument (date only, no time of day).</summary>
    public DateOnly Date { get; init; }

    /// <summary>Numeric argument (size, modseq, seconds).</summary>
    public ulong Number { get; init; }

    /// <summary>True when the key, or a sub-key, refers to $.</summary>
    public bool UsesSavedResult => Set?.IsSavedResult == true || Children.Any(c => c.UsesSavedResult);

    /// <summary>True when the key, or a sub-key, is MODSEQ (RFC 7162 §3.1.5: response gets (MODSEQ n)).</summary>
    public bool UsesModSeq => Kind == SearchKeyKind.ModSeq || Children.Any(c => c.UsesModSeq);
}

/// <summary>RETURN options of ESEARCH (RFC 4731) and SEARCHRES (RFC 5182).</summary>
/// <param name="Min">MIN</param>
/// <param name="Max">MAX</param>
/// <param name="All">ALL</param>
/// <param name="Count">COUNT</param>
/// <param name="Save">SAVE</param>
public sealed record SearchReturnOptions(bool Min, bool Max, bool All, bool Count, bool Save)
{
    /// <summary>RFC 4731 §3.1: RETURN () means RETURN (ALL).</summary>
    public bool ReturnsAll => All || (!Min && !Max && !Count && !Save);
}
