using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Postern.Mail.Dsn;
using Postern.Tests.Shared;

namespace Postern.Mail.Tests.Dsn;

/// <summary>
/// Delivery status notifications about hostile originals (the Mail corpus with bytes changed: bare CR and LF,
/// 8-bit bytes, very long lines, broken MIME) are still sendable mail: CRLF line ends only, lines within
/// SMTP's 998 octets, 7-bit unless SMTPUTF8, a multipart/report our own parser reads back with the recipient.
/// </summary>
public class DsnPropertyTests
{
    private static readonly byte[][] Corpus = Mutations.Corpus();

    [Fact]
    public void Dsns_about_any_original_are_sendable_and_parse_back()
    {
        Prop.ForAll(Mutations.Of(Corpus), original =>
        {
            foreach (DsnReturn ret in new[] { DsnReturn.Full, DsnReturn.Headers })
            {
                foreach (bool utf8 in new[] { false, true })
                {
                    var report = new DsnReport
                    {
                        ReportingMta = "mail.example.org",
                        To = "alice@example.org",
                        Return = ret,
                        Utf8 = utf8,
                        OriginalMessage = original,
                        Recipients =
                        [
                            new DsnRecipient(DsnAddress.ForMailbox("bob@remote.example"), DsnAction.Failed, "5.1.1")
                            {
                                DiagnosticCode = "550 5.1.1 " + Encoding.UTF8.GetString(original.AsSpan(0, Math.Min(original.Length, 300))),
                            },
                        ],
                    };
                    byte[] dsn = DsnBuilder.Build(report);
                    string problem = WireProblem(dsn, sevenBit: !utf8);
                    if (problem.Length > 0)
                        throw new InvalidOperationException($"{problem} (RET={ret}, utf8={utf8}); original {Mutations.Show(original)}");
                    ParsedDsn parsed = DsnParser.Parse(dsn) ?? throw new InvalidOperationException($"our DSN does not parse back; original {Mutations.Show(original)}");
                    if (parsed.Recipients.Count != 1) throw new InvalidOperationException($"{parsed.Recipients.Count} recipients parsed back");
                }
            }
            return true;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(Mutations.Runs(500)));
    }

    private static string WireProblem(byte[] b, bool sevenBit)
    {
        int lineStart = 0;
        for (int i = 0; i < b.Length; i++)
        {
            if (b[i] == '\n' && (i == 0 || b[i - 1] != '\r')) return "bare LF at " + i;
            if (b[i] == '\r' && (i + 1 == b.Length || b[i + 1] != '\n')) return "bare CR at " + i;
            if (sevenBit && b[i] >= 0x80) return "8-bit octet at " + i;
            if (b[i] == 0) return "NUL at " + i;
            if (b[i] == '\n')
            {
                if (i - 1 - lineStart > 998) return $"line of {i - 1 - lineStart} octets at {lineStart}";
                lineStart = i + 1;
            }
        }
        return "";
    }
}
