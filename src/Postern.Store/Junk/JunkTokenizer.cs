// The words a junk decision is made from. A message is reduced to a set of tokens: words of
// its text parts (HTML without tags), words of a few header fields prefixed with the field's
// name ("subject:winner", "from:example.com"), the host names of links ("url:example.com"),
// and the kinds of its parts ("part:application/zip", "file:.exe", "charset:koi8-r").
// Each token counts once per message (a word repeated a thousand times is one piece of
// evidence). Only the first MaxBytes of the message are read and at most MaxTokens distinct
// tokens are kept, so the cost of a message is bounded whatever its size.
//
// The same bytes always give the same tokens: training a message and untraining it later must
// touch exactly the same words. Headers Postern adds on delivery are not part of the bytes.
using System.Text;
using Postern.Mail;

namespace Postern.Store.Junk;

/// <summary>Limits of the tokenizer.</summary>
public sealed record JunkTokenizerLimits
{
    /// <summary>Bytes of a message read (the rest is not looked at).</summary>
    public int MaxBytes { get; init; } = 256 * 1024;

    /// <summary>Distinct tokens kept per message.</summary>
    public int MaxTokens { get; init; } = 2000;
}

/// <summary>Turns a message into the set of tokens the junk classifier weighs.</summary>
public static class JunkTokenizer
{
    /// <summary>Shortest word kept.</summary>
    public const int MinWordLength = 3;

    /// <summary>Longest word kept; longer runs (encoded data, hashes) are skipped.</summary>
    public const int MaxWordLength = 24;

    private static readonly string[] AddressFields = ["from", "reply-to", "sender", "to", "cc"];
    private static readonly string[] WordFields = ["subject", "x-mailer", "user-agent", "list-id"];

    /// <summary>The tokens of a message (its bytes as received, at least the first <see cref="JunkTokenizerLimits.MaxBytes"/> of them).</summary>
    public static HashSet<string> Tokenize(ReadOnlySpan<byte> message, JunkTokenizerLimits? limits = null)
    {
        limits ??= new JunkTokenizerLimits();
        if (message.Length > limits.MaxBytes) message = message[..limits.MaxBytes];
        var tokens = new TokenSet(limits.MaxTokens);
        var structure = MessageStructure.Parse(message);
        var headers = structure.Root.ParseHeaders(message);

        foreach (string name in AddressFields)
        {
            foreach (var field in headers.GetAll(name))
            {
                foreach (var a in AddressParser.ParseMailboxes(field.Value))
                {
                    if (a.Domain.Length > 0) tokens.Add(name + ":" + a.Domain.ToLowerInvariant());
                    if (a.DisplayName is { Length: > 0 } dn) AddWords(tokens, name + ":", dn);
                }
            }
        }
        foreach (string name in WordFields)
        {
            foreach (var field in headers.GetAll(name)) AddWords(tokens, name + ":", field.DecodedValue);
        }

        foreach (var part in structure.Root.Walk())
        {
            if (part.IsMultipart) continue;
            tokens.Add("part:" + part.ContentType.ToLowerInvariant());
            if (part.Charset is { } cs) tokens.Add("charset:" + cs);
            if (part.FileName is { Length: > 0 } file)
            {
                string ext = Path.GetExtension(file).ToLowerInvariant();
                if (ext.Length is > 1 and <= 10) tokens.Add("file:" + ext);
            }
            if (!part.IsText || part.Disposition == "attachment" || part.MediaSubtype is not ("plain" or "html")) continue;
            string text;
            try
            {
                text = MessageText.DecodeText(part, message);
            }
            catch (Exception e) when (e is DecoderFallbackException or ArgumentException or FormatException)
            {
                continue;
            }
            AddUrls(tokens, part.MediaSubtype == "html" ? RawText(part, message) : text);
            AddWords(tokens, "", text);
        }
        return tokens.Set;
    }

    private static string RawText(MessagePart part, ReadOnlySpan<byte> message)
    {
        long end = Math.Min(part.End, message.Length);
        long start = Math.Min(part.BodyStart, end);
        var bytes = TransferDecoding.Decode(message[(int)start..(int)end], part.ContentTransferEncoding);
        return Charsets.Decode(bytes, part.Charset);
    }

    /// <summary>Host names of http(s) links: where a message wants the reader to go says much about it.</summary>
    private static void AddUrls(TokenSet tokens, string text)
    {
        int i = 0;
        while (!tokens.Full && (i = text.IndexOf("://", i, StringComparison.Ordinal)) >= 0)
        {
            int schemeStart = i;
            while (schemeStart > 0 && char.IsAsciiLetter(text[schemeStart - 1])) schemeStart--;
            string scheme = text[schemeStart..i].ToLowerInvariant();
            i += 3;
            if (scheme is not ("http" or "https")) continue;
            int end = i;
            while (end < text.Length && end - i < 253 && (char.IsAsciiLetterOrDigit(text[end]) || text[end] is '.' or '-')) end++;
            string host = text[i..end].Trim('.').ToLowerInvariant();
            if (host.Length == 0) continue;
            tokens.Add("url:" + host);
            // The last two labels too, so that links to other hosts of the same site count together.
            int dot = host.LastIndexOf('.');
            if (dot > 0 && host.LastIndexOf('.', dot - 1) is var prev && prev > 0) tokens.Add("url:" + host[(prev + 1)..]);
        }
    }

    /// <summary>Words: runs of letters and digits (with inner ' and -, and currency signs), lower-cased.</summary>
    private static void AddWords(TokenSet tokens, string prefix, string text)
    {
        // Most words repeat: they are lower-cased into a buffer and looked up as spans, so only new ones allocate.
        var seen = tokens.Set.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> buffer = stackalloc char[prefix.Length + MaxWordLength];
        prefix.CopyTo(buffer);
        int i = 0;
        while (i < text.Length && !tokens.Full)
        {
            while (i < text.Length && !IsWordChar(text[i])) i++;
            int start = i;
            while (i < text.Length && (IsWordChar(text[i]) || (text[i] is '\'' or '-' && i + 1 < text.Length && IsWordChar(text[i + 1])))) i++;
            int length = i - start;
            if (length < MinWordLength || length > MaxWordLength) continue;
            var word = text.AsSpan(start, length);
            if (IsLongNumber(word)) continue;
            word.ToLowerInvariant(buffer[prefix.Length..]);
            var token = buffer[..(prefix.Length + length)];
            if (!seen.Contains(token)) tokens.Add(new string(token));
        }
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c is '$' or '€' or '£' or '¥';

    // Dates, phone numbers and ids differ in every message and would only fill the word list.
    private static bool IsLongNumber(ReadOnlySpan<char> word)
    {
        if (word.Length <= 4) return false;
        foreach (char c in word) if (!char.IsAsciiDigit(c)) return false;
        return true;
    }

    private sealed class TokenSet(int max)
    {
        public HashSet<string> Set { get; } = new(StringComparer.Ordinal);

        public bool Full => Set.Count >= max;

        public void Add(string token)
        {
            if (!Full) Set.Add(token);
        }
    }
}
