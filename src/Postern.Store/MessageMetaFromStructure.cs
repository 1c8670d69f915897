using Postern.Mail;

namespace Postern.Store;

public sealed partial record MessageMeta
{
    /// <summary>
    /// The header data the store keeps for threading, SORT and previews, from what the parser found.
    /// Every path that stores a message (IMAP APPEND, SMTP delivery, import) uses this one.
    /// </summary>
    public static MessageMeta FromStructure(MessageStructure structure)
    {
        ArgumentNullException.ThrowIfNull(structure);
        Envelope env = structure.Envelope;
        var from = FirstMailbox(env.From);
        var to = FirstMailbox(env.To);
        var cc = FirstMailbox(env.Cc);
        return new MessageMeta
        {
            MessageId = env.MessageId,
            InReplyTo = env.InReplyTo,
            References = env.References,
            BaseSubject = env.BaseSubject,
            Subject = env.DecodedSubject,
            Date = env.ParsedDate,
            FromAddress = from?.Address,
            FromName = from?.Name,
            ToAddress = to?.Address,
            ToName = to?.Name,
            CcAddress = cc?.Address,
            CcName = cc?.Name,
            Preview = structure.Preview,
        };
    }

    private static (string Address, string? Name)? FirstMailbox(IReadOnlyList<EnvelopeAddress> list)
    {
        foreach (var a in list)
        {
            // Group markers carry no address (RFC 9051 §7.5.2).
            if (a.Host is null || a.Mailbox is null)
                continue;
            return ($"{a.Mailbox}@{a.Host}", a.Name is null ? null : EncodedWords.DecodeUnstructured(a.Name));
        }
        return null;
    }
}
