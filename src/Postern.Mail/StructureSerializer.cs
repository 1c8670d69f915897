using System.Buffers;
using System.Text;

namespace Postern.Mail;

// Format (version 1): magic "PMS", version byte, then varint size, preview, warnings, and
// the part tree depth-first. Integers are LEB128 varints; strings are varint(length+1)
// followed by UTF-8 (0 = null). Each part: offsets, lines, type, parameters, MIME fields,
// flags (has envelope, has embedded message), child count, children. A reader rejects
// unknown versions and anything truncated or out of bounds with FormatException.
internal static class StructureSerializer
{
    private const byte Version = 1;
    private const int MaxDepth = 200;
    private const int MaxCount = 1_000_000;

    public static byte[] Write(MessageStructure s)
    {
        var w = new ArrayBufferWriter<byte>(256);
        w.Write("PMS"u8);
        w.Write([Version]);
        WriteVar(w, (ulong)s.Size);
        WriteString(w, s.Preview);
        WriteVar(w, (ulong)s.Warnings.Count);
        foreach (var warn in s.Warnings)
        {
            WriteVar(w, (ulong)warn.Kind);
            WriteVar(w, (ulong)warn.Offset);
        }
        WritePart(w, s.Root);
        return w.WrittenSpan.ToArray();
    }

    public static MessageStructure Read(ReadOnlySpan<byte> data)
    {
        if (data.Length < 4 || !data.StartsWith("PMS"u8)) throw new FormatException("Not a serialized message structure.");
        if (data[3] != Version) throw new FormatException($"Unsupported message structure version {data[3]}.");
        var r = new Reader(data[4..]);
        long size = (long)r.Var();
        string? preview = r.String();
        int nw = r.Count();
        var warnings = new ParseWarning[nw];
        for (int i = 0; i < nw; i++) warnings[i] = new ParseWarning((ParseWarningKind)r.Var(), (long)r.Var());
        var root = ReadPart(ref r, 0);
        if (!r.AtEnd) throw new FormatException("Trailing bytes after message structure.");
        AssignSectionsFromTree(root);
        return new MessageStructure(root, size, warnings, preview);
    }

    private static void AssignSectionsFromTree(MessagePart root) => MessageStructure.AssignSections(root);

    private static void WritePart(ArrayBufferWriter<byte> w, MessagePart p)
    {
        WriteVar(w, (ulong)p.HeaderStart);
        WriteVar(w, (ulong)(p.BodyStart - p.HeaderStart));
        WriteVar(w, (ulong)(p.End - p.BodyStart));
        WriteVar(w, (ulong)p.BodyLines);
        WriteString(w, p.MediaType);
        WriteString(w, p.MediaSubtype);
        WriteParams(w, p.ContentTypeParameters);
        WriteString(w, p.ContentId);
        WriteString(w, p.ContentDescription);
        WriteString(w, p.ContentTransferEncoding);
        WriteString(w, p.ContentMd5);
        WriteString(w, p.Disposition);
        WriteParams(w, p.DispositionParameters);
        WriteVar(w, (ulong)p.ContentLanguage.Count);
        foreach (var l in p.ContentLanguage) WriteString(w, l);
        WriteString(w, p.ContentLocation);
        int flags = (p.Envelope is not null ? 1 : 0) | (p.EmbeddedMessage is not null ? 2 : 0);
        WriteVar(w, (ulong)flags);
        if (p.Envelope is { } e) WriteEnvelope(w, e);
        if (p.EmbeddedMessage is { } em) WritePart(w, em);
        WriteVar(w, (ulong)p.Children.Count);
        foreach (var c in p.Children) WritePart(w, c);
    }

    private static MessagePart ReadPart(ref Reader r, int depth)
    {
        if (depth > MaxDepth) throw new FormatException("Message structure nested too deeply.");
        var p = new MessagePart();
        p.HeaderStart = (long)r.Var();
        p.BodyStart = p.HeaderStart + (long)r.Var();
        p.End = p.BodyStart + (long)r.Var();
        p.BodyLines = (long)r.Var();
        p.MediaType = r.String() ?? "text";
        p.MediaSubtype = r.String() ?? "plain";
        p.ContentTypeParameters = ReadParams(ref r);
        p.ContentId = r.String();
        p.ContentDescription = r.String();
        p.ContentTransferEncoding = r.String();
        p.ContentMd5 = r.String();
        p.Disposition = r.String();
        p.DispositionParameters = ReadParams(ref r);
        int nl = r.Count();
        var langs = new string[nl];
        for (int i = 0; i < nl; i++) langs[i] = r.String() ?? "";
        p.ContentLanguage = langs;
        p.ContentLocation = r.String();
        int flags = (int)r.Var();
        if ((flags & 1) != 0) p.Envelope = ReadEnvelope(ref r);
        if ((flags & 2) != 0) p.EmbeddedMessage = ReadPart(ref r, depth + 1);
        int nc = r.Count();
        var children = new List<MessagePart>(Math.Min(nc, 1024));
        for (int i = 0; i < nc; i++) children.Add(ReadPart(ref r, depth + 1));
        p.Children = children;
        return p;
    }

    private static void WriteEnvelope(ArrayBufferWriter<byte> w, Envelope e)
    {
        WriteString(w, e.Date);
        WriteString(w, e.Subject);
        // Sender and Reply-To are stored only when they differ from From (usual case: same list).
        WriteAddresses(w, e.From);
        WriteAddressesOrSame(w, e.Sender, e.From);
        WriteAddressesOrSame(w, e.ReplyTo, e.From);
        WriteAddresses(w, e.To);
        WriteAddresses(w, e.Cc);
        WriteAddresses(w, e.Bcc);
        WriteString(w, e.InReplyTo);
        WriteString(w, e.MessageId);
        WriteString(w, e.References);
    }

    private static Envelope ReadEnvelope(ref Reader r)
    {
        string? date = r.String();
        string? subject = r.String();
        var from = ReadAddresses(ref r);
        var sender = ReadAddressesOrSame(ref r, from);
        var replyTo = ReadAddressesOrSame(ref r, from);
        var to = ReadAddresses(ref r);
        var cc = ReadAddresses(ref r);
        var bcc = ReadAddresses(ref r);
        string? inReplyTo = r.String();
        string? messageId = r.String();
        string? references = r.String();
        return new Envelope(date, subject, from, sender, replyTo, to, cc, bcc, inReplyTo, messageId) { References = references };
    }

    private static void WriteAddressesOrSame(ArrayBufferWriter<byte> w, IReadOnlyList<EnvelopeAddress> list, IReadOnlyList<EnvelopeAddress> from)
    {
        if (ReferenceEquals(list, from) || list.SequenceEqual(from)) { WriteVar(w, 0); return; }
        WriteVar(w, 1);
        WriteAddresses(w, list);
    }

    private static IReadOnlyList<EnvelopeAddress> ReadAddressesOrSame(ref Reader r, IReadOnlyList<EnvelopeAddress> from) =>
        r.Var() == 0 ? from : ReadAddresses(ref r);

    private static void WriteAddresses(ArrayBufferWriter<byte> w, IReadOnlyList<EnvelopeAddress> list)
    {
        WriteVar(w, (ulong)list.Count);
        foreach (var a in list)
        {
            WriteString(w, a.Name);
            WriteString(w, a.Adl);
            WriteString(w, a.Mailbox);
            WriteString(w, a.Host);
        }
    }

    private static EnvelopeAddress[] ReadAddresses(ref Reader r)
    {
        int n = r.Count();
        var list = new EnvelopeAddress[n];
        for (int i = 0; i < n; i++) list[i] = new EnvelopeAddress(r.String(), r.String(), r.String(), r.String());
        return list;
    }

    private static void WriteParams(ArrayBufferWriter<byte> w, IReadOnlyList<MimeParameter> ps)
    {
        WriteVar(w, (ulong)ps.Count);
        foreach (var p in ps)
        {
            WriteString(w, p.Name);
            WriteString(w, p.Value);
        }
    }

    private static MimeParameter[] ReadParams(ref Reader r)
    {
        int n = r.Count();
        var ps = new MimeParameter[n];
        for (int i = 0; i < n; i++) ps[i] = new MimeParameter(r.String() ?? "", r.String() ?? "");
        return ps;
    }

    private static void WriteVar(ArrayBufferWriter<byte> w, ulong v)
    {
        Span<byte> b = stackalloc byte[10];
        int n = 0;
        while (v >= 0x80)
        {
            b[n++] = (byte)(v | 0x80);
            v >>= 7;
        }
        b[n++] = (byte)v;
        w.Write(b[..n]);
    }

    private static void WriteString(ArrayBufferWriter<byte> w, string? s)
    {
        if (s is null) { WriteVar(w, 0); return; }
        int len = Encoding.UTF8.GetByteCount(s);
        WriteVar(w, (ulong)len + 1);
        Encoding.UTF8.GetBytes(s, w.GetSpan(len));
        w.Advance(len);
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _pos;

        public readonly bool AtEnd => _pos == _data.Length;

        public ulong Var()
        {
            ulong v = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_pos >= _data.Length) throw new FormatException("Truncated message structure.");
                byte b = _data[_pos++];
                v |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80) return v;
            }
            throw new FormatException("Invalid varint in message structure.");
        }

        public int Count()
        {
            ulong n = Var();
            if (n > MaxCount || n > (ulong)(_data.Length - _pos)) throw new FormatException("Count out of range in message structure.");
            return (int)n;
        }

        public string? String()
        {
            ulong n = Var();
            if (n == 0) return null;
            n--;
            if (n > (ulong)(_data.Length - _pos)) throw new FormatException("String out of range in message structure.");
            var s = Encoding.UTF8.GetString(_data.Slice(_pos, (int)n));
            _pos += (int)n;
            return s;
        }
    }
}
