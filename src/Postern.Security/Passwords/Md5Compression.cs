using System.Buffers.Binary;
using System.Numerics;

namespace Postern.Security.Passwords;

// MD5 (RFC 1321) with an exposed chaining state. .NET's MD5 cannot be resumed from an
// intermediate state, and CRAM-MD5 secrets are stored as the HMAC-MD5 inner and outer states
// after the key block (RFC 2104 §4 "precomputations"), so the compression function is ours.
internal static class Md5Compression
{
    public static readonly uint[] InitialState = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

    private static readonly int[] Shifts =
    [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
        5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
        6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];

    // RFC 1321 §3.4: T[i] = floor(2^32 * abs(sin(i + 1))).
    private static readonly uint[] Constants = BuildConstants();

    private static uint[] BuildConstants()
    {
        var t = new uint[64];
        for (int i = 0; i < 64; i++) t[i] = (uint)(long)Math.Floor(4294967296.0 * Math.Abs(Math.Sin(i + 1)));
        return t;
    }

    /// <summary>Processes one 64-byte block into <paramref name="state"/>.</summary>
    public static void Compress(Span<uint> state, ReadOnlySpan<byte> block)
    {
        Span<uint> m = stackalloc uint[16];
        for (int i = 0; i < 16; i++) m[i] = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(i * 4, 4));
        uint a = state[0], b = state[1], c = state[2], d = state[3];
        for (int i = 0; i < 64; i++)
        {
            uint f;
            int g;
            if (i < 16) { f = (b & c) | (~b & d); g = i; }
            else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
            else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
            else { f = c ^ (b | ~d); g = (7 * i) & 15; }
            uint tmp = d;
            d = c;
            c = b;
            b = b + BitOperations.RotateLeft(a + f + Constants[i] + m[g], Shifts[i]);
            a = tmp;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
    }

    /// <summary>
    /// Finishes an MD5 computation that started from <paramref name="chainState"/> after
    /// <paramref name="priorBytes"/> bytes (a multiple of 64) and continues with <paramref name="data"/>.
    /// </summary>
    public static byte[] HashFrom(ReadOnlySpan<uint> chainState, long priorBytes, ReadOnlySpan<byte> data)
    {
        Span<uint> state = stackalloc uint[4];
        chainState.CopyTo(state);
        int full = data.Length / 64 * 64;
        for (int off = 0; off < full; off += 64) Compress(state, data.Slice(off, 64));
        // RFC 1321 §3.1-3.2: pad with 0x80, zeros, then the 64-bit bit length.
        Span<byte> tail = stackalloc byte[128];
        tail.Clear();
        int rest = data.Length - full;
        data[full..].CopyTo(tail);
        tail[rest] = 0x80;
        int tailLen = rest + 1 + 8 <= 64 ? 64 : 128;
        ulong bits = (ulong)(priorBytes + data.Length) * 8;
        BinaryPrimitives.WriteUInt64LittleEndian(tail.Slice(tailLen - 8, 8), bits);
        for (int off = 0; off < tailLen; off += 64) Compress(state, tail.Slice(off, 64));
        var digest = new byte[16];
        for (int i = 0; i < 4; i++) BinaryPrimitives.WriteUInt32LittleEndian(digest.AsSpan(i * 4), state[i]);
        return digest;
    }

    /// <summary>Chain state after one block (used for the HMAC key block).</summary>
    public static uint[] StateAfterBlock(ReadOnlySpan<byte> block)
    {
        var state = (uint[])InitialState.Clone();
        Compress(state, block);
        return state;
    }
}
