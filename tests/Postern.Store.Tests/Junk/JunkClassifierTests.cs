using Postern.Store.Junk;

namespace Postern.Store.Tests.Junk;

/// <summary>The arithmetic of the junk decision (Robinson's method), on counts given by hand.</summary>
public class JunkClassifierTests
{
    private static readonly JunkFilterOptions Options = new();

    [Fact]
    public void Chi_square_survival_matches_known_values()
    {
        // For 2 degrees of freedom P(X >= x) = e^(-x/2); for 4 it is e^(-x/2)(1 + x/2).
        Assert.Equal(Math.Exp(-1), JunkClassifier.ChiSquareSurvival(2, 2), 12);
        Assert.Equal(Math.Exp(-3) * 4, JunkClassifier.ChiSquareSurvival(6, 4), 12);
        Assert.Equal(1.0, JunkClassifier.ChiSquareSurvival(0, 10), 12);
        Assert.Equal(0.0, JunkClassifier.ChiSquareSurvival(5000, 300), 12); // far beyond: no overflow, no NaN
    }

    [Fact]
    public void A_token_seen_rarely_is_pulled_towards_one_half()
    {
        double once = JunkClassifier.TokenProbability(new JunkWordCounts(1, 0), 100, 100);
        double often = JunkClassifier.TokenProbability(new JunkWordCounts(50, 0), 100, 100);
        Assert.Equal(0.75, once, 12); // (0.5 + 1·1) / 2
        Assert.True(often > 0.98 && often < 1);
        // Junk and ham are weighed per message of their kind: 10 of 100 junk vs 10 of 1000 ham is junk-leaning.
        Assert.True(JunkClassifier.TokenProbability(new JunkWordCounts(10, 10), 100, 1000) > 0.85);
        Assert.Equal(0.5, JunkClassifier.TokenProbability(new JunkWordCounts(5, 5), 100, 100), 12);
    }

    [Fact]
    public void Nothing_is_classified_before_enough_of_both_kinds_is_trained()
    {
        var counts = new Dictionary<string, JunkWordCounts> { ["prize"] = new(19, 0) };
        var score = JunkClassifier.Classify(counts, 19, 500, Options);
        Assert.Null(score.Probability);
        Assert.False(score.IsJunk);
        Assert.NotNull(JunkClassifier.Classify(counts, 20, 20, Options).Probability);
    }

    [Fact]
    public void Junk_words_give_junk_ham_words_give_ham_and_no_evidence_gives_one_half()
    {
        var junk = new Dictionary<string, JunkWordCounts> { ["prize"] = new(40, 1), ["lottery"] = new(35, 0), ["claim"] = new(30, 2), ["the"] = new(50, 50) };
        var ham = new Dictionary<string, JunkWordCounts> { ["meeting"] = new(0, 40), ["agenda"] = new(1, 30), ["the"] = new(50, 50) };
        var s1 = JunkClassifier.Classify(junk, 50, 50, Options);
        var s2 = JunkClassifier.Classify(ham, 50, 50, Options);
        Assert.True(s1.Probability > 0.95 && s1.IsJunk, s1.Probability.ToString());
        Assert.True(s2.Probability < 0.05 && !s2.IsJunk, s2.Probability.ToString());
        Assert.DoesNotContain(s1.Evidence, e => e.Token == "the"); // 0.5: not telling
        Assert.Equal("lottery", s1.Evidence[0].Token); // most telling first
        Assert.Equal(0.5, JunkClassifier.Classify(new Dictionary<string, JunkWordCounts>(), 50, 50, Options).Probability);
        // Mixed evidence stays undecided, well below the threshold.
        var mixed = JunkClassifier.Classify(junk.Concat(ham.Where(h => h.Key != "the")).ToDictionary(), 50, 50, Options);
        Assert.InRange(mixed.Probability!.Value, 0.2, 0.8);
    }

    [Fact]
    public void At_most_the_configured_number_of_tokens_decide()
    {
        var counts = Enumerable.Range(0, 1000).ToDictionary(i => "w" + i, i => new JunkWordCounts(i % 40, 40 - i % 40));
        var score = JunkClassifier.Classify(counts, 40, 40, Options with { MaxSignificantTokens = 150 });
        Assert.Equal(150, score.Evidence.Count);
        Assert.All(score.Evidence, e => Assert.InRange(e.Probability, 0, 1));
        Assert.InRange(score.Probability!.Value, 0, 1);
    }
}
