using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Postern.Mail;

namespace Postern.Mail.Tests;

/// <summary>
/// Compares Postern's reading of every corpus message with Python's standard email package
/// (policy=default): part tree, content types, charsets, decoded file names, subject, from.
/// Differences that follow from an RFC are listed in Corpus/DISAGREEMENTS.md and below.
/// </summary>
public class CorpusComparisonTests
{
    private const string Python = "/usr/bin/python3";

    // file -> reason; each entry is explained in Corpus/DISAGREEMENTS.md.
    private static readonly Dictionary<string, string> KnownDifferences = new()
    {
        ["nasty/bare-cr.eml"] = "RFC 5322 §2.3: CR occurs only in CRLF; a bare CR is not a line break",
        ["nasty/delivery-status.eml"] = "RFC 3464 §2.1 / RFC 9051 §7.5.2: message/delivery-status holds field groups, not messages; a basic body",
        ["nasty/external-body.eml"] = "RFC 2046 §5.2.3: message/external-body holds phantom headers, not a message; a basic body",
        ["nasty/rfc822-base64.eml"] = "RFC 2046 §5.2.1: message/rfc822 allows only 7bit/8bit/binary; an encoded one is opaque (no raw offsets for its decoded parts)",
        ["nasty/deep-nesting.eml"] = "MessageLimits.MaxDepth (50): deeper parts stay opaque (issue: bounded MIME depth)",
        ["nasty/eight-bit-garbage.eml"] = "RFC 6532 defines UTF-8 only; invalid UTF-8 header bytes are read as windows-1252, Python substitutes U+FFFD",
        ["nasty/euc-jp-jisx0212.eml"] = ".NET code page 51932 has no JIS X 0212 row; those characters decode as U+30FB",
        ["nasty/nul-bytes.eml"] = "RFC 5322 §4.1 obsolete NUL: removed from header values because IMAP strings cannot carry NUL (RFC 9051 §4.3)",
        ["nasty/obsolete-syntax.eml"] = "RFC 5322 §4.5.x obs-optional: whitespace before the colon is allowed; Python keeps it in the name",
    };

    internal static string CorpusDir => Path.Combine(AppContext.BaseDirectory, "Corpus");

    internal static IEnumerable<string> CorpusFiles() =>
        Directory.EnumerateFiles(CorpusDir, "*.eml", SearchOption.AllDirectories).Order(StringComparer.Ordinal);

    [Fact]
    public void Corpus_has_at_least_200_messages() => Assert.True(CorpusFiles().Count() >= 200);

    [Fact]
    public async Task Corpus_agrees_with_python_email_package()
    {
        Assert.True(File.Exists(Python), $"{Python} is missing: install Debian's python3 (./test.sh installs the packages in scripts/test-packages.txt).");
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(CorpusDir, "python_reference.py"));
        psi.ArgumentList.Add(CorpusDir);
        using var proc = Process.Start(psi)!;
        var stdoutTask = proc.StandardOutput.ReadToEndAsync();
        var stderr = await proc.StandardError.ReadToEndAsync();
        await proc.WaitForExitAsync();
        Assert.True(proc.ExitCode == 0, "python_reference.py failed: " + stderr);
        using var doc = JsonDocument.Parse(await stdoutTask);

        var mismatches = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        int compared = 0;
        foreach (var file in CorpusFiles())
        {
            var rel = Path.GetRelativePath(CorpusDir, file).Replace('\\', '/');
            Assert.True(doc.RootElement.TryGetProperty(rel, out var expected), "python gave no result for " + rel);
            var diffs = Compare(File.ReadAllBytes(file), expected);
            compared++;
            if (diffs.Count > 0) mismatches[rel] = diffs;
        }
        Assert.True(compared >= 200);
        var unexpected = mismatches.Where(m => !KnownDifferences.ContainsKey(m.Key))
            .Select(m => m.Key + ":\n    " + string.Join("\n    ", m.Value)).ToList();
        Assert.True(unexpected.Count == 0, $"{unexpected.Count} files disagree with Python:\n" + string.Join("\n", unexpected));
        var stale = KnownDifferences.Keys.Where(k => !mismatches.ContainsKey(k)).ToList();
        Assert.True(stale.Count == 0, "known differences that now agree (remove them): " + string.Join(", ", stale));
    }

    private static List<string> Compare(byte[] raw, JsonElement expected)
    {
        var diffs = new List<string>();
        var s = MessageStructure.Parse(raw);
        var parts = s.Root.Walk().ToList();
        var py = expected.GetProperty("parts").EnumerateArray().ToList();
        if (parts.Count != py.Count) diffs.Add($"part count python={py.Count} postern={parts.Count}: python=[{string.Join(", ", py.Select(p => p[0].GetString()))}] postern=[{string.Join(", ", parts.Select(p => p.ContentType))}]");
        for (int i = 0; i < Math.Min(parts.Count, py.Count); i++)
        {
            var p = parts[i];
            var e = py[i];
            Check(diffs, $"part {i} type", e[0].GetString(), p.ContentType);
            Check(diffs, $"part {i} charset", e[1].ValueKind == JsonValueKind.Null ? null : e[1].GetString(), p.Charset);
            Check(diffs, $"part {i} filename", e[2].ValueKind == JsonValueKind.Null ? null : e[2].GetString(), p.FileName);
        }
        var headers = HeaderList.Parse(raw.AsSpan(0, (int)s.Root.BodyStart));
        var subj = expected.GetProperty("subject");
        Check(diffs, "subject", subj.ValueKind == JsonValueKind.Null ? null : subj.GetString(), headers.GetDecoded("Subject"));
        var from = expected.GetProperty("from");
        string? pyFrom = from.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.String => from.GetString(),
            _ => string.Join(" | ", from.EnumerateArray().Select(a => a[0].GetString() + " <" + a[1].GetString() + ">")),
        };
        var fromField = headers.Get("From");
        string? ourFrom = fromField is null ? null
            : string.Join(" | ", AddressParser.ParseMailboxes(fromField.Value).Select(a => (a.DisplayName ?? "") + " <" + a.Address + ">"));
        Check(diffs, "from", pyFrom, ourFrom);
        return diffs;
    }

    private static void Check(List<string> diffs, string what, string? python, string? postern)
    {
        if (!string.Equals(python, postern, StringComparison.Ordinal)) diffs.Add($"{what}: python={Show(python)} postern={Show(postern)}");
    }

    private static string Show(string? s)
    {
        if (s is null) return "null";
        if (s.Length > 80) s = s[..80] + "...";
        return "\"" + string.Concat(s.Select(c => c < ' ' ? $"\\x{(int)c:x2}" : c.ToString())) + "\"";
    }
}
