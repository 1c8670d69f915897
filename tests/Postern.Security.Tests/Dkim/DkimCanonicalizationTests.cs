using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Postern.Security.Dkim;

namespace Postern.Security.Tests.Dkim;

/// <summary>Canonicalisation per RFC 6376 §3.4, including the example of §3.4.6, and streaming equivalence.</summary>
public class DkimCanonicalizationTests
{
    private static string Header(DkimCanonicalization c, string field)
    {
        var w = new ArrayBufferWriter<byte>();
        DkimHeaderCanonicalizer.Append(c, Encoding.ASCII.GetBytes(field), withCrlf: true, w);
        return Encoding.ASCII.GetString(w.WrittenSpan);
    }

    private static string Hash(string s) => Convert.ToBase64String(SHA256.HashData(Encoding.ASCII.GetBytes(s)));

    private static string BodyHash(DkimCanonicalization c, string body) =>
        Convert.ToBase64String(DkimBodyHasher.Hash(c, HashAlgorithmName.SHA256, Encoding.ASCII.GetBytes(body)));

    [Fact]
    public void Rfc6376_example_headers()
    {
        Assert.Equal("a:X\r\n", Header(DkimCanonicalization.Relaxed, "A: X\r\n"));
        Assert.Equal("b:Y Z\r\n", Header(DkimCanonicalization.Relaxed, "B : Y\t\r\n\tZ  \r\n"));
        Assert.Equal("B : Y\t\r\n\tZ  \r\n", Header(DkimCanonicalization.Simple, "B : Y\t\r\n\tZ  \r\n"));
    }

    [Fact]
    public void Rfc6376_example_body()
    {
        const string body = " C \r\nD \t E\r\n\r\n\r\n";
        Assert.Equal(Hash(" C\r\nD E\r\n"), BodyHash(DkimCanonicalization.Relaxed, body));
        Assert.Equal(Hash(" C \r\nD \t E\r\n"), BodyHash(DkimCanonicalization.Simple, body));
    }

    [Fact]
    public void Empty_bodies()
    {
        // RFC 6376 §3.4.3: simple empty body is CRLF; §3.4.4 (erratum 1384): relaxed empty body is empty.
        Assert.Equal(Hash("\r\n"), BodyHash(DkimCanonicalization.Simple, ""));
        Assert.Equal(Hash("\r\n"), BodyHash(DkimCanonicalization.Simple, "\r\n\r\n"));
        Assert.Equal(Hash(""), BodyHash(DkimCanonicalization.Relaxed, ""));
        Assert.Equal(Hash(""), BodyHash(DkimCanonicalization.Relaxed, " \r\n\t\r\n"));
    }

    [Fact]
    public void Missing_final_line_ending_is_added()
    {
        Assert.Equal(Hash("abc\r\n"), BodyHash(DkimCanonicalization.Simple, "abc"));
        Assert.Equal(Hash("a b\r\n"), BodyHash(DkimCanonicalization.Relaxed, "a  b  "));
    }

    [Fact]
    public void Body_length_limit_cuts_the_canonical_body()
    {
        Assert.Equal(Convert.ToBase64String(SHA256.HashData("ab"u8)),
            Convert.ToBase64String(DkimBodyHasher.Hash(DkimCanonicalization.Simple, HashAlgorithmName.SHA256, "abc\r\n"u8, 2)));
    }

    [Fact]
    public void Very_long_lines_are_handled_in_bounded_pieces()
    {
        string line = new string('a', 100_000) + new string(' ', 70_000) + "b" + new string('\t', 70_000);
        foreach (DkimCanonicalization c in new[] { DkimCanonicalization.Simple, DkimCanonicalization.Relaxed })
        {
            string expected = c == DkimCanonicalization.Relaxed ? new string('a', 100_000) + " b\r\n" : line + "\r\n";
            Assert.Equal(Hash(expected), Chunked(c, line + "\r\n\r\n", 4096));
        }
    }

    private static string Chunked(DkimCanonicalization c, string body, int chunk)
    {
        byte[] b = Encoding.ASCII.GetBytes(body);
        using var h = new DkimBodyHasher(c, HashAlgorithmName.SHA256);
        for (int i = 0; i < b.Length; i += chunk) h.Append(b.AsSpan(i, Math.Min(chunk, b.Length - i)));
        return Convert.ToBase64String(h.Finish());
    }

    /// <summary>A naive reference canonicaliser, written directly from the RFC text.</summary>
    private static string Reference(DkimCanonicalization c, string body)
    {
        var lines = body.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
        if (lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        if (c == DkimCanonicalization.Relaxed)
            lines = [.. lines.Select(l => System.Text.RegularExpressions.Regex.Replace(l, "[ \t]+", " ").TrimEnd(' '))];
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        if (lines.Count == 0) return c == DkimCanonicalization.Simple ? "\r\n" : "";
        return string.Concat(lines.Select(l => l + "\r\n"));
    }

    [Fact]
    public void Streaming_matches_the_reference_for_any_input_and_chunking()
    {
        Gen<string> text = Gen.Elements("a", "b", " ", "  ", "\t", "\r\n", "\r\n", "\r\n\r\n", "x y", "\n")
            .ListOf().Select(l => string.Concat(l));
        Prop.ForAll(text.ToArbitrary(), Gen.Choose(1, 17).ToArbitrary(), (body, chunk) =>
        {
            // The reference treats bare CR/LF like the hasher: lines end at LF.
            foreach (DkimCanonicalization c in new[] { DkimCanonicalization.Simple, DkimCanonicalization.Relaxed })
                if (Chunked(c, body, chunk) != Hash(Reference(c, body))) return false;
            return true;
        }).QuickCheckThrowOnFailure();
    }
}
