using System.Text.RegularExpressions;

namespace Postern.Imap.Tests.Server;

/// <summary>
/// Replays a transcript: "C: " lines are sent (with {var} substituted), "S: " lines must match the
/// server's next line exactly, except that &lt;var&gt; matches a number and captures it for later lines.
/// </summary>
public static class Transcript
{
    public static async Task RunAsync(TestClient client, string transcript, Dictionary<string, string> vars)
    {
        foreach (string raw in transcript.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0)
                continue;
            line = line.TrimStart();
            if (line.StartsWith("C: ", StringComparison.Ordinal))
            {
                string text = Regex.Replace(line[3..], @"\{([a-z][a-z0-9]*)\}", m => vars[m.Groups[1].Value]);
                text = text.Replace("\\r\\n", "\r\n", StringComparison.Ordinal);
                await client.WriteAsync(text + "\r\n");
            }
            else if (line.StartsWith("S: ", StringComparison.Ordinal))
            {
                string expected = line[3..];
                string pattern = "^" + Regex.Replace(Regex.Escape(expected).Replace("\\{", "{", StringComparison.Ordinal), @"<([a-z][a-z0-9]*)>", m => $"(?<{m.Groups[1].Value}>\\d+)") + "$";
                pattern = Regex.Replace(pattern, @"\{([a-z][a-z0-9]*)}", m => Regex.Escape(vars[m.Groups[1].Value]));
                string actual = await client.ReadLineAsync();
                Match match = Regex.Match(actual, pattern);
                Assert.True(match.Success, $"expected: {expected}\nactual:   {actual}");
                foreach (Group g in match.Groups)
                {
                    if (!int.TryParse(g.Name, out _))
                        vars[g.Name] = g.Value;
                }
            }
        }
    }
}
