using System.Globalization;

namespace Postern.Mail;

/// <summary>Parses and formats RFC 5322 §3.3 date-times, accepting the obsolete forms of §4.3.</summary>
public static class MailDate
{
    private static readonly string[] Months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

    /// <summary>
    /// Parses a Date field value: optional day name, day, month name, 2-4 digit year, time
    /// with optional seconds, and a numeric or named zone. Returns null when unusable.
    /// </summary>
    public static DateTimeOffset? Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        var s = MimeFieldValue.StripComments(value);
        var tokens = s.Split([' ', '\t', ',', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);
        int? day = null, month = null, year = null;
        int hour = -1, minute = 0, second = 0;
        TimeSpan? offset = null;
        foreach (var raw in tokens)
        {
            var t = raw.Trim();
            if (t.Contains(':', StringComparison.Ordinal) && hour < 0)
            {
                var hms = t.Split(':');
                if (hms.Length is < 2 or > 3 || !Num(hms[0], out hour) || !Num(hms[1], out minute)) return null;
                if (hms.Length == 3 && !Num(hms[2], out second)) return null;
                continue;
            }
            if (t.Length >= 3 && char.IsAsciiLetter(t[0]))
            {
                int m = Array.IndexOf(Months, t[..3].ToLowerInvariant());
                if (m >= 0 && month is null && (t.Length == 3 || t.Length > 3 && !(hour >= 0))) { month = m + 1; continue; }
            }
            if ((t[0] is '+' or '-') && t.Length == 5 && Num(t[1..3], out int zh) && Num(t[3..], out int zm))
            {
                var off = new TimeSpan(zh, zm, 0);
                offset = t[0] == '-' ? -off : off;
                continue;
            }
            if (char.IsAsciiLetter(t[0]))
            {
                if (hour >= 0 && offset is null) offset = NamedZone(t);
                continue; // day names and unknown words
            }
            if (Num(t, out int n))
            {
                if (day is null && t.Length <= 2 && month is null) day = n;
                else if (year is null && (month is not null || day is not null)) year = n;
                else if (day is null) day = n;
            }
        }
        if (day is null || month is null || year is null || hour < 0) return null;
        int y = year.Value;
        // RFC 5322 §4.3: two-digit years below 50 are 20xx, others 19xx; three-digit years add 1900.
        if (y < 50 && year.Value.ToString(CultureInfo.InvariantCulture).Length <= 2) y += 2000;
        else if (y < 1000) y += 1900;
        if (hour > 23 || minute > 59 || second > 60) return null;
        if (second == 60) second = 59; // leap second
        try
        {
            var off = offset ?? TimeSpan.Zero;
            if (off.Duration() > TimeSpan.FromHours(14)) off = TimeSpan.Zero;
            return new DateTimeOffset(y, month.Value, day.Value, hour, minute, second, off);
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Formats as RFC 5322 date-time ("Sun, 22 Nov 2026 10:50:41 +0000").</summary>
    public static string Format(DateTimeOffset d)
    {
        var off = d.Offset;
        char sign = off < TimeSpan.Zero ? '-' : '+';
        off = off.Duration();
        return d.ToString("ddd, d MMM yyyy HH:mm:ss ", CultureInfo.InvariantCulture) + sign + off.Hours.ToString("00", CultureInfo.InvariantCulture) + off.Minutes.ToString("00", CultureInfo.InvariantCulture);
    }

    // RFC 5322 §4.3 obs-zone; military zones are treated as -0000 (unknown) as the RFC advises.
    private static TimeSpan? NamedZone(string z) => z.ToUpperInvariant() switch
    {
        "UT" or "GMT" or "Z" or "UTC" => TimeSpan.Zero,
        "EST" => TimeSpan.FromHours(-5),
        "EDT" => TimeSpan.FromHours(-4),
        "CST" => TimeSpan.FromHours(-6),
        "CDT" => TimeSpan.FromHours(-5),
        "MST" => TimeSpan.FromHours(-7),
        "MDT" => TimeSpan.FromHours(-6),
        "PST" => TimeSpan.FromHours(-8),
        "PDT" => TimeSpan.FromHours(-7),
        _ => TimeSpan.Zero,
    };

    private static bool Num(string s, out int n) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out n) && s.Length <= 4;
}
