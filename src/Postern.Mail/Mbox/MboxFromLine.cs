using System.Globalization;
using System.Text;

namespace Postern.Mail.Mbox;

/// <summary>
/// Parses and formats the "From " separator line that starts each message of an mbox file
/// (RFC 4155 §2: "From ", the envelope sender, a space and a timestamp in asctime form).
/// </summary>
/// <remarks>
/// A body line that happens to start with "From " (in a file whose writer did not quote it) is
/// told apart from a separator by requiring a recognisable timestamp, the test mail readers
/// have always used. Both the asctime shape ("Sat Jan  3 01:05:34 1996", optionally with a zone)
/// and the RFC 5322 shape ("Sat, 3 Jan 1996 01:05:34 +0000") are accepted.
/// </remarks>
public static class MboxFromLine
{
    private static readonly string[] MonthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    private static readonly string[] DayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    /// <summary>Parses a separator line (without its line ending).</summary>
    /// <param name="line">The line, starting with "From ".</param>
    /// <param name="requireDate">When true, the line is a separator only if it carries a recognisable date.</param>
    /// <param name="sender">The envelope sender, or null when empty.</param>
    /// <param name="date">The timestamp, or null when not recognisable.</param>
    /// <returns>True when the line is a separator.</returns>
    public static bool TryParse(ReadOnlySpan<byte> line, bool requireDate, out string? sender, out DateTimeOffset? date)
    {
        sender = null;
        date = null;
        if (!line.StartsWith("From "u8))
            return false;
        var rest = line[5..];
        // An empty sender shows as two spaces ("From  Mon Jan ...") in files some tools write.
        int senderEnd = rest.IndexOfAny((byte)' ', (byte)'\t');
        var senderBytes = senderEnd < 0 ? rest : rest[..senderEnd];
        var dateBytes = senderEnd < 0 ? [] : rest[(senderEnd + 1)..];
        if (senderBytes.Length > 0)
            sender = Encoding.UTF8.GetString(senderBytes);
        if (TryParseDate(Encoding.Latin1.GetString(dateBytes), out var parsed))
            date = parsed;
        else if (requireDate)
            return false;
        return true;
    }

    /// <summary>Formats a separator line, without line ending: "From sender Www Mmm dd hh:mm:ss yyyy" in UTC.</summary>
    /// <param name="sender">The envelope sender; "MAILER-DAEMON" is written when empty or unusable.</param>
    /// <param name="date">The timestamp, written in UTC.</param>
    public static string Format(string? sender, DateTimeOffset date)
    {
        if (string.IsNullOrEmpty(sender) || sender.AsSpan().IndexOfAny(" \t\r\n") >= 0)
            sender = "MAILER-DAEMON";
        var utc = date.UtcDateTime;
        // asctime layout: the day of month is padded with a space to two characters.
        return string.Create(CultureInfo.InvariantCulture,
            $"From {sender} {utc.ToString("ddd MMM", CultureInfo.InvariantCulture)} {utc.Day,2} {utc.ToString("HH:mm:ss yyyy", CultureInfo.InvariantCulture)}");
    }

    internal static bool TryParseDate(string text, out DateTimeOffset date)
    {
        date = default;
        var tokens = text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        int i = 0;
        if (i < tokens.Length && IsDayName(tokens[i]))
            i++;
        int month, day, year;
        string time;
        TimeSpan? zone = null;
        if (i < tokens.Length && MonthIndex(tokens[i]) is int m1)
        {
            // asctime: Mmm dd hh:mm[:ss] [zone] yyyy [zone]
            month = m1;
            if (i + 2 >= tokens.Length || !TryInt(tokens[i + 1], 1, 31, out day))
                return false;
            time = tokens[i + 2];
            i += 3;
            if (i < tokens.Length && TryZone(tokens[i], out var z1) && !IsYear(tokens[i]))
            {
                zone = z1;
                i++;
            }
            if (i >= tokens.Length || !TryYear(tokens[i], out year))
                return false;
            i++;
            if (zone is null && i < tokens.Length && TryZone(tokens[i], out var z2))
                zone = z2;
        }
        else
        {
            // RFC 5322 §3.3 shape: dd Mmm yyyy hh:mm[:ss] [zone]
            if (i + 3 >= tokens.Length || !TryInt(tokens[i], 1, 31, out day) || MonthIndex(tokens[i + 1]) is not int m2 || !TryYear(tokens[i + 2], out year))
                return false;
            month = m2;
            time = tokens[i + 3];
            i += 4;
            if (i < tokens.Length && TryZone(tokens[i], out var z3))
                zone = z3;
        }
        if (!TryTime(time, out int hour, out int minute, out int second))
            return false;
        if (day > DateTime.DaysInMonth(year, month))
            return false;
        date = new DateTimeOffset(year, month, day, hour, minute, second, zone ?? TimeSpan.Zero);
        return true;
    }

    private static bool IsDayName(string token)
    {
        var t = token.TrimEnd(',');
        return t.Length >= 3 && Array.IndexOf(DayNames, t[..3].ToLowerInvariant()) >= 0 && t.Length <= 9;
    }

    private static int? MonthIndex(string token)
    {
        if (token.Length < 3 || token.Length > 9)
            return null;
        int idx = Array.IndexOf(MonthNames, token[..3].ToLowerInvariant());
        return idx < 0 ? null : idx + 1;
    }

    private static bool IsYear(string token) => token.Length == 4 && token.All(char.IsAsciiDigit);

    private static bool TryYear(string token, out int year) => TryInt(token, 1970, 9999, out year) && token.Length == 4;

    private static bool TryInt(string token, int min, int max, out int value) =>
        int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;

    private static bool TryTime(string token, out int hour, out int minute, out int second)
    {
        hour = minute = second = 0;
        var parts = token.Split(':');
        if (parts.Length is < 2 or > 3)
            return false;
        return TryInt(parts[0], 0, 23, out hour) && parts[1].Length == 2 && TryInt(parts[1], 0, 59, out minute)
            && (parts.Length == 2 || (parts[2].Length == 2 && TryInt(parts[2], 0, 60, out second) && (second = Math.Min(second, 59)) >= 0));
    }

    private static bool TryZone(string token, out TimeSpan zone)
    {
        zone = TimeSpan.Zero;
        // RFC 5322 §3.3: ("+" / "-") 4DIGIT
        if (token.Length == 5 && (token[0] == '+' || token[0] == '-') && TryInt(token[1..3], 0, 23, out int h) && TryInt(token[3..], 0, 59, out int m))
        {
            zone = new TimeSpan(h, m, 0);
            if (token[0] == '-')
                zone = -zone;
            return true;
        }
        // Named zones carry no reliable offset except the universal ones; others are taken as UTC.
        return token.Length is >= 1 and <= 5 && token.All(char.IsAsciiLetterUpper);
    }
}
