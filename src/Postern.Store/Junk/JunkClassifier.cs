// How the junk decision is made (Gary Robinson's method, as in SpamBayes and bogofilter).
//
// Training counts, per account, in how many junk and how many non-junk ("ham") messages each
// token appeared. For a new message, each of its tokens w gets
//     p(w) = (junk(w)/junkMessages) / (junk(w)/junkMessages + ham(w)/hamMessages)
// the chance that a message containing w is junk, with the two kinds weighted equally however
// many of each were trained. A token seen a few times says little, so p is pulled towards 0.5:
//     f(w) = (s·x + n·p(w)) / (s + n),   n = junk(w) + ham(w), s = 1, x = 0.5
// Tokens never seen, or with f within 0.1 of 0.5, are ignored; of the rest the 150 furthest
// from 0.5 are combined with Fisher's method: if the tokens were independent and the message
// neither junk nor ham, -2·Σln f and -2·Σln(1-f) would follow a chi-square distribution with
// 2N degrees of freedom. How unlikely each sum is gives a junk indication S and a ham
// indication H, and the result (1 + S - H) / 2 is near 1 for junk, near 0 for ham, and near
// 0.5 when the evidence is weak or contradicts itself.
//
// An account is not classified until it has trained enough of both kinds: a filter that has
// seen three junk messages would call too much junk.

namespace Postern.Store.Junk;

/// <summary>Settings of the junk classifier.</summary>
public sealed record JunkFilterOptions
{
    /// <summary>Probability at or above which a message is junk.</summary>
    public double Threshold { get; init; } = 0.95;

    /// <summary>Junk messages an account must have trained before its mail is classified.</summary>
    public int MinJunkMessages { get; init; } = 20;

    /// <summary>Non-junk messages an account must have trained before its mail is classified.</summary>
    public int MinHamMessages { get; init; } = 20;

    /// <summary>Most tokens combined into one decision (the most telling ones).</summary>
    public int MaxSignificantTokens { get; init; } = 150;

    /// <summary>Tokens whose probability is closer than this to 0.5 are ignored.</summary>
    public double MinDeviation { get; init; } = 0.1;

    /// <summary>Tokenizer limits.</summary>
    public JunkTokenizerLimits Tokenizer { get; init; } = new();
}

/// <summary>How often a token was seen in trained junk and non-junk messages.</summary>
public readonly record struct JunkWordCounts(long Junk, long Ham);

/// <summary>A token that weighed in a decision, with its probability of junk.</summary>
public readonly record struct JunkEvidence(string Token, double Probability);

/// <summary>The classifier's answer for one message.</summary>
/// <param name="Probability">Probability that the message is junk, 0 to 1; null when the account has not trained enough.</param>
/// <param name="IsJunk">Whether <paramref name="Probability"/> reaches the threshold.</param>
/// <param name="Evidence">The tokens used, most telling first.</param>
public sealed record JunkScore(double? Probability, bool IsJunk, IReadOnlyList<JunkEvidence> Evidence);

/// <summary>The arithmetic of the junk decision: token counts in, probability out. No I/O.</summary>
public static class JunkClassifier
{
    private const double Strength = 1.0; // s: how much weight the prior x gets, in messages
    private const double Prior = 0.5;    // x: a new token's assumed probability

    /// <summary>Whether an account has trained enough messages of both kinds to be classified.</summary>
    public static bool HasEnoughTraining(long junkMessages, long hamMessages, JunkFilterOptions options) =>
        junkMessages >= options.MinJunkMessages && hamMessages >= options.MinHamMessages;

    /// <summary>Combines the counts of a message's tokens into a junk probability.</summary>
    public static JunkScore Classify(IReadOnlyDictionary<string, JunkWordCounts> counts, long junkMessages, long hamMessages, JunkFilterOptions options)
    {
        if (!HasEnoughTraining(junkMessages, hamMessages, options)) return new JunkScore(null, false, []);
        var evidence = new List<JunkEvidence>();
        foreach (var (token, c) in counts)
        {
            if (c.Junk <= 0 && c.Ham <= 0) continue;
            double f = TokenProbability(c, junkMessages, hamMessages);
            if (Math.Abs(f - 0.5) >= options.MinDeviation) evidence.Add(new JunkEvidence(token, f));
        }
        // Most telling first; ties by token so the same counts always give the same answer.
        evidence.Sort((a, b) =>
        {
            int d = Math.Abs(b.Probability - 0.5).CompareTo(Math.Abs(a.Probability - 0.5));
            return d != 0 ? d : string.CompareOrdinal(a.Token, b.Token);
        });
        if (evidence.Count > options.MaxSignificantTokens) evidence.RemoveRange(options.MaxSignificantTokens, evidence.Count - options.MaxSignificantTokens);
        double p = Combine(evidence);
        return new JunkScore(p, p >= options.Threshold, evidence);
    }

    /// <summary>f(w): a token's probability of junk, pulled towards 0.5 when it was seen rarely.</summary>
    public static double TokenProbability(JunkWordCounts c, long junkMessages, long hamMessages)
    {
        double junkRatio = junkMessages > 0 ? Math.Min(1.0, (double)Math.Max(0, c.Junk) / junkMessages) : 0;
        double hamRatio = hamMessages > 0 ? Math.Min(1.0, (double)Math.Max(0, c.Ham) / hamMessages) : 0;
        double p = junkRatio + hamRatio > 0 ? junkRatio / (junkRatio + hamRatio) : Prior;
        double n = Math.Max(0, c.Junk) + Math.Max(0, c.Ham);
        return (Strength * Prior + n * p) / (Strength + n);
    }

    /// <summary>Fisher's combination of token probabilities (Robinson): near 1 junk, near 0 ham, 0.5 no evidence.</summary>
    public static double Combine(IReadOnlyList<JunkEvidence> evidence)
    {
        if (evidence.Count == 0) return 0.5;
        double lnJunk = 0, lnHam = 0;
        foreach (var e in evidence)
        {
            // f never reaches 0 or 1 (the prior keeps it inside), but guard the logarithms anyway.
            double f = Math.Clamp(e.Probability, 1e-9, 1 - 1e-9);
            lnHam += Math.Log(f);
            lnJunk += Math.Log(1 - f);
        }
        int degrees = 2 * evidence.Count;
        double junk = 1 - ChiSquareSurvival(-2 * lnJunk, degrees);
        double ham = 1 - ChiSquareSurvival(-2 * lnHam, degrees);
        return (1 + junk - ham) / 2;
    }

    /// <summary>P(X ≥ chi) for a chi-square variable with an even number of degrees of freedom.</summary>
    public static double ChiSquareSurvival(double chi, int degrees)
    {
        double m = chi / 2;
        double term = Math.Exp(-m);
        double sum = term;
        for (int i = 1; i < degrees / 2; i++)
        {
            term *= m / i;
            sum += term;
        }
        return Math.Min(sum, 1.0);
    }
}
