using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace Postern.Tests.Shared;

/// <summary>
/// FsCheck generators of hostile inputs made from valid ones. Each input is a valid seed with a few
/// changes (a byte replaced or inserted, a run deleted or repeated, the end cut off, or the start of
/// one seed joined to the end of another), the way a fuzzer's mutations reach the corners of a
/// parser that purely random bytes never get past.
/// </summary>
public static class Mutations
{
    // Bytes protocol grammars treat specially, chosen more often than others.
    private static readonly byte[] Special =
    [
        .. "\r\n \t()[]{}<>\"\\:;,.=+-*%~@!0123456789"u8,
        0x00, 0x7f, 0x80, 0xc3, 0xe2, 0xff,
    ];

    /// <summary>
    /// How many cases a property tries: <paramref name="normal"/>, or the environment variable
    /// POSTERN_FUZZ_RUNS for a longer search (e.g. <c>POSTERN_FUZZ_RUNS=200000 ./test.sh Smtp</c>).
    /// </summary>
    public static int Runs(int normal) =>
        int.TryParse(Environment.GetEnvironmentVariable("POSTERN_FUZZ_RUNS"), out int runs) && runs > 0 ? runs : normal;

    /// <summary>Longest input produced.</summary>
    public const int MaxLength = 64 * 1024;

    /// <summary>Mutated copies of <paramref name="seeds"/> (an unchanged seed now and then).</summary>
    public static Arbitrary<byte[]> Of(IReadOnlyList<byte[]> seeds)
    {
        if (seeds.Count == 0) throw new ArgumentException("at least one seed is needed", nameof(seeds));
        return (from seed in Gen.Choose(0, seeds.Count - 1)
                from other in Gen.Choose(0, seeds.Count - 1)
                from random in Gen.Choose(0, int.MaxValue)
                select Mutate(seeds[seed], seeds[other], new Random(random))).ToArbitrary();
    }

    /// <summary>
    /// The Mail corpus (tests/Postern.Mail.Tests/Corpus: 256 real-world shaped and hostile messages), copied next to
    /// the test assembly by the projects that use it, in a fixed order.
    /// </summary>
    public static byte[][] Corpus() =>
        [.. Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "Corpus"), "*.eml", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(File.ReadAllBytes)];

    /// <summary>Mutated copies of text seeds, as UTF-8 bytes.</summary>
    public static Arbitrary<byte[]> Of(params string[] seeds) => Of([.. seeds.Select(s => Encoding.UTF8.GetBytes(s))]);

    /// <summary><paramref name="count"/> mutated copies of <paramref name="seeds"/>, the same for the same <paramref name="seed"/>.</summary>
    public static IEnumerable<byte[]> Sample(IReadOnlyList<byte[]> seeds, int count, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < count; i++)
            yield return Mutate(seeds[random.Next(seeds.Count)], seeds[random.Next(seeds.Count)], random);
    }

    /// <summary>A byte array as C# string literal text, to reproduce a failing input.</summary>
    public static string Show(byte[] input)
    {
        var sb = new StringBuilder("\"");
        foreach (byte b in input)
            sb.Append(b is >= 0x20 and < 0x7f and not (byte)'"' and not (byte)'\\' ? ((char)b).ToString() : $"\\x{b:x2}");
        return sb.Append('"').ToString();
    }

    private static byte[] Mutate(byte[] seed, byte[] other, Random random)
    {
        var data = new List<byte>(seed);
        int steps = random.Next(0, 5); // 0: the seed as it is
        for (int i = 0; i < steps; i++)
        {
            int pos = random.Next(0, data.Count + 1);
            switch (random.Next(0, 7))
            {
                case 0 when data.Count > 0:
                    data[Math.Min(pos, data.Count - 1)] = Pick(random);
                    break;
                case 1:
                    data.Insert(pos, Pick(random));
                    break;
                case 2 when pos < data.Count:
                    data.RemoveRange(pos, Math.Min(random.Next(1, 9), data.Count - pos));
                    break;
                case 3 when pos < data.Count:
                {
                    byte[] run = [.. data.Skip(pos).Take(random.Next(1, 17))];
                    int times = random.Next(1, random.Next(0, 4) == 0 ? 200 : 4);
                    for (int t = 0; t < times && data.Count + run.Length <= MaxLength; t++)
                        data.InsertRange(pos, run);
                    break;
                }
                case 4:
                    data.RemoveRange(pos, data.Count - pos);
                    break;
                case 5:
                    data.RemoveRange(pos, data.Count - pos);
                    data.AddRange(other.Skip(random.Next(0, other.Length + 1)));
                    break;
                default:
                    data.InsertRange(pos, other.Skip(random.Next(0, other.Length + 1)).Take(random.Next(1, 64)));
                    break;
            }
        }
        return [.. data.Take(MaxLength)];
    }

    private static byte Pick(Random random) => random.Next(0, 2) == 0 ? Special[random.Next(Special.Length)] : (byte)random.Next(0, 256);
}

/// <summary>A one-shot conversation with a server for fuzz tests.</summary>
public static class FuzzConnection
{
    /// <summary>
    /// Connects to 127.0.0.1:<paramref name="port"/>, writes <paramref name="input"/> in one go, closes the
    /// sending half and returns everything the server sent until it closed the connection. Throws when the
    /// server keeps the connection open 30 s after the client closed its half (a hang).
    /// </summary>
    public static async Task<byte[]> SendAndCloseAsync(int port, byte[] input)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port);
        System.Net.Sockets.NetworkStream stream = tcp.GetStream();
        var received = new MemoryStream();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Task reading = stream.CopyToAsync(received, deadline.Token);
        try
        {
            await stream.WriteAsync(input, deadline.Token);
            tcp.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        }
        catch (IOException)
        {
            // The server closed first (e.g. a TLS handshake on garbage): what it sent still counts.
        }
        try
        {
            await reading;
        }
        catch (OperationCanceledException)
        {
            throw new InvalidOperationException($"the server kept the connection open 30 s after the client closed; input {Mutations.Show(input)}");
        }
        catch (IOException)
        {
            // Reset by the server after refusing input: what came before still counts.
        }
        return received.ToArray();
    }
}
