namespace Postern.Smtp.Client;

/// <summary>
/// The per-recipient state of one attempt: which recipients have a final answer for this attempt
/// (delivered, refused, or deferred by a 4xx) and which are still to be tried on another
/// connection. Builds the <see cref="OutboundResult"/> recipients in request order.
/// </summary>
public sealed class RecipientLedger
{
    private readonly IReadOnlyList<OutboundRecipient> _recipients;
    private readonly OutboundRecipientResult?[] _results;

    /// <summary>Creates a ledger with every recipient pending.</summary>
    public RecipientLedger(IReadOnlyList<OutboundRecipient> recipients)
    {
        _recipients = recipients;
        _results = new OutboundRecipientResult?[recipients.Count];
    }

    /// <summary>Indexes of recipients without a result yet, in request order.</summary>
    public List<int> Pending()
    {
        var list = new List<int>();
        for (int i = 0; i < _results.Length; i++)
        {
            if (_results[i] is null) list.Add(i);
        }
        return list;
    }

    /// <summary>True when some recipient has no result yet.</summary>
    public bool HasPending => Array.Exists(_results, r => r is null);

    /// <summary>The recipient at an index.</summary>
    public OutboundRecipient this[int index] => _recipients[index];

    /// <summary>Records the result of a recipient from a reply.</summary>
    public void Set(int index, SmtpReply reply, string fallbackDetail = "0.0") =>
        _results[index] = new OutboundRecipientResult(_recipients[index].Address, reply.Code, reply.EnhancedOr(fallbackDetail), reply.Text, reply.IsPermanent);

    /// <summary>Records the reply after the message; <paramref name="dsnPassedOn"/>: the peer offers DSN, so the recipient's DSN request went with it (RFC 3461 §5.2.1).</summary>
    public void SetAfterMessage(int index, SmtpReply reply, bool dsnPassedOn) =>
        _results[index] = new OutboundRecipientResult(_recipients[index].Address, reply.Code, reply.EnhancedOr("0.0"), reply.Text, reply.IsPermanent)
        {
            DsnPassedOn = dsnPassedOn && reply.Code is >= 200 and < 300,
        };

    /// <summary>Records a result without a reply (a local decision).</summary>
    public void Set(int index, int code, string enhanced, string text, bool permanent) =>
        _results[index] = new OutboundRecipientResult(_recipients[index].Address, code, enhanced, text, permanent);

    /// <summary>Gives every pending recipient the same result.</summary>
    public void SetPending(int code, string enhanced, string text, bool permanent)
    {
        foreach (int i in Pending()) Set(i, code, enhanced, text, permanent);
    }

    /// <summary>The results in request order; pending recipients must have been settled first.</summary>
    public IReadOnlyList<OutboundRecipientResult> Results()
    {
        var list = new OutboundRecipientResult[_results.Length];
        for (int i = 0; i < list.Length; i++)
            list[i] = _results[i] ?? new OutboundRecipientResult(_recipients[i].Address, 0, "4.4.0", "not attempted", false);
        return list;
    }
}
