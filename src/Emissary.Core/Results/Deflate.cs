namespace Emissary.Results;

/// <summary>
/// Raw DEFLATE (RFC 1951), written for the in-pod binary from the RFC: System.IO.Compression's
/// DeflateStream links the native zlib-ng into it (+166,624 bytes, which broke the 3 MiB budget),
/// and a termination message needs only a few KiB compressed once. <see cref="Compress"/> writes
/// one final block with dynamic Huffman codes over greedy LZ77 matches (any inflater reads it:
/// zlib, Go's compress/flate, .NET); <see cref="Inflate"/> reads every block type, within a bound
/// on what it produces, and refuses anything malformed rather than guessing.
/// </summary>
internal static class Deflate
{
    private const int WindowSize = 32 * 1024;
    private const int MinMatch = 3;
    private const int MaxMatch = 258;
    private const int MaxChain = 256; // candidates tried per position: enough for a few KiB of JSON
    private const int HashBits = 15;
    private const int EndOfBlock = 256;
    private const int LiteralLengthCodes = 286;
    private const int DistanceCodes = 30;
    private const int MaxCodeBits = 15;
    private const int MaxCodeLengthCodeBits = 7;

    // RFC 1951 3.2.5: the base value and extra bits of each length code (257..285) and distance code (0..29).
    private static ReadOnlySpan<ushort> LengthBase => [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];

    private static ReadOnlySpan<byte> LengthExtra => [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];

    private static ReadOnlySpan<ushort> DistanceBase => [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];

    private static ReadOnlySpan<byte> DistanceExtra => [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

    // RFC 1951 3.2.7: the order in which the code length code lengths are sent.
    private static ReadOnlySpan<byte> CodeLengthOrder => [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

    /// <summary><paramref name="data"/> as one final dynamic-Huffman DEFLATE block.</summary>
    public static byte[] Compress(ReadOnlySpan<byte> data)
    {
        // 1. LZ77: (literal) or (length, distance) symbols, greedy, over a hash chain of 3-byte prefixes.
        var symbols = new List<(int Code, int Length, int Distance)>(data.Length);
        int[] head = new int[1 << HashBits];
        Array.Fill(head, -1);
        int[] previous = new int[Math.Max(data.Length, 1)];
        int i = 0;
        while (i < data.Length)
        {
            int bestLength = 0, bestDistance = 0;
            if (i + MinMatch <= data.Length)
            {
                int hash = Hash(data, i);
                int limit = Math.Min(MaxMatch, data.Length - i);
                int tries = MaxChain;
                for (int candidate = head[hash]; candidate >= 0 && i - candidate <= WindowSize && tries-- > 0; candidate = previous[candidate])
                {
                    int length = 0;
                    while (length < limit && data[candidate + length] == data[i + length])
                    {
                        length++;
                    }
                    if (length > bestLength)
                    {
                        bestLength = length;
                        bestDistance = i - candidate;
                        if (length == limit)
                        {
                            break;
                        }
                    }
                }
            }
            int advance = bestLength >= MinMatch ? bestLength : 1;
            symbols.Add(bestLength >= MinMatch ? (LengthCode(bestLength), bestLength, bestDistance) : (data[i], 0, 0));
            for (int end = i + advance; i < end; i++)
            {
                if (i + MinMatch <= data.Length)
                {
                    int hash = Hash(data, i);
                    previous[i] = head[hash];
                    head[hash] = i;
                }
            }
        }

        // 2. Huffman codes fitted to what the block holds.
        int[] literalFrequencies = new int[LiteralLengthCodes];
        int[] distanceFrequencies = new int[DistanceCodes];
        foreach ((int code, int length, int distance) in symbols)
        {
            literalFrequencies[code]++;
            if (length > 0)
            {
                distanceFrequencies[DistanceCode(distance)]++;
            }
        }
        literalFrequencies[EndOfBlock]++;
        byte[] literalLengths = CodeLengths(literalFrequencies, MaxCodeBits);
        byte[] distanceLengths = CodeLengths(distanceFrequencies, MaxCodeBits);
        int literalCount = Trimmed(literalLengths, 257);
        int distanceCount = Trimmed(distanceLengths, 1);

        // The code lengths themselves, sent with a third code (no run-length symbols 16-18: simpler, a few bytes more).
        int[] codeLengthFrequencies = new int[19];
        foreach (byte length in literalLengths.AsSpan(0, literalCount))
        {
            codeLengthFrequencies[length]++;
        }
        foreach (byte length in distanceLengths.AsSpan(0, distanceCount))
        {
            codeLengthFrequencies[length]++;
        }
        byte[] codeLengthLengths = CodeLengths(codeLengthFrequencies, MaxCodeLengthCodeBits);
        int codeLengthCount = 19;
        while (codeLengthCount > 4 && codeLengthLengths[CodeLengthOrder[codeLengthCount - 1]] == 0)
        {
            codeLengthCount--;
        }

        // 3. The block.
        var output = new BitWriter(data.Length / 2 + 64);
        output.Write(1, 1); // BFINAL
        output.Write(2, 2); // BTYPE: dynamic Huffman
        output.Write(literalCount - 257, 5);
        output.Write(distanceCount - 1, 5);
        output.Write(codeLengthCount - 4, 4);
        for (int k = 0; k < codeLengthCount; k++)
        {
            output.Write(codeLengthLengths[CodeLengthOrder[k]], 3);
        }
        ushort[] codeLengthCodes = CanonicalCodes(codeLengthLengths);
        foreach (byte length in literalLengths.AsSpan(0, literalCount))
        {
            output.WriteCode(codeLengthCodes[length], codeLengthLengths[length]);
        }
        foreach (byte length in distanceLengths.AsSpan(0, distanceCount))
        {
            output.WriteCode(codeLengthCodes[length], codeLengthLengths[length]);
        }
        ushort[] literalCodes = CanonicalCodes(literalLengths);
        ushort[] distanceCodes = CanonicalCodes(distanceLengths);
        foreach ((int code, int length, int distance) in symbols)
        {
            output.WriteCode(literalCodes[code], literalLengths[code]);
            if (length > 0)
            {
                output.Write(length - LengthBase[code - 257], LengthExtra[code - 257]);
                int d = DistanceCode(distance);
                output.WriteCode(distanceCodes[d], distanceLengths[d]);
                output.Write(distance - DistanceBase[d], DistanceExtra[d]);
            }
        }
        output.WriteCode(literalCodes[EndOfBlock], literalLengths[EndOfBlock]);
        return output.ToArray();
    }

    private static int Hash(ReadOnlySpan<byte> data, int at) =>
        (int)(((uint)data[at] << 16 | (uint)data[at + 1] << 8 | data[at + 2]) * 2654435761u >> (32 - HashBits));

    private static int LengthCode(int length)
    {
        int code = 0;
        while (code + 1 < LengthBase.Length && LengthBase[code + 1] <= length)
        {
            code++;
        }
        return 257 + code;
    }

    private static int DistanceCode(int distance)
    {
        int code = 0;
        while (code + 1 < DistanceBase.Length && DistanceBase[code + 1] <= distance)
        {
            code++;
        }
        return code;
    }

    /// <summary>How many lengths to send: up to the last non-zero one, at least <paramref name="minimum"/>.</summary>
    private static int Trimmed(byte[] lengths, int minimum)
    {
        int count = lengths.Length;
        while (count > minimum && lengths[count - 1] == 0)
        {
            count--;
        }
        return count;
    }

    /// <summary>
    /// Huffman code lengths for <paramref name="frequencies"/>, none longer than
    /// <paramref name="maxBits"/> (frequencies are halved until the tree is shallow enough). Every
    /// code has at least two symbols, so that it is complete: a code of one symbol is one that
    /// some inflaters refuse.
    /// </summary>
    private static byte[] CodeLengths(int[] frequencies, int maxBits)
    {
        long[] weights = new long[frequencies.Length];
        int used = 0;
        for (int s = 0; s < frequencies.Length; s++)
        {
            weights[s] = frequencies[s];
            used += frequencies[s] > 0 ? 1 : 0;
        }
        for (int s = 0; used < 2; s++)
        {
            if (weights[s] == 0)
            {
                weights[s] = 1;
                used++;
            }
        }
        while (true)
        {
            byte[] lengths = HuffmanLengths(weights);
            if (!lengths.AsSpan().ContainsAnyInRange((byte)(maxBits + 1), byte.MaxValue))
            {
                return lengths;
            }
            for (int s = 0; s < weights.Length; s++)
            {
                weights[s] = weights[s] == 0 ? 0 : (weights[s] + 1) / 2;
            }
        }
    }

    private static byte[] HuffmanLengths(long[] weights)
    {
        int n = weights.Length;
        int[] parent = new int[2 * n];
        var queue = new PriorityQueue<int, (long Weight, int Order)>();
        int order = 0;
        for (int s = 0; s < n; s++)
        {
            if (weights[s] > 0)
            {
                queue.Enqueue(s, (weights[s], order++));
            }
        }
        int next = n;
        while (queue.Count > 1)
        {
            queue.TryDequeue(out int a, out var wa);
            queue.TryDequeue(out int b, out var wb);
            parent[a] = next;
            parent[b] = next;
            queue.Enqueue(next, (wa.Weight + wb.Weight, order++));
            next++;
        }
        int root = next - 1;
        byte[] lengths = new byte[n];
        for (int s = 0; s < n; s++)
        {
            if (weights[s] > 0)
            {
                int depth = 0;
                for (int node = s; node != root; node = parent[node])
                {
                    depth++;
                }
                lengths[s] = (byte)Math.Min(depth, 255);
            }
        }
        return lengths;
    }

    /// <summary>RFC 1951 3.2.2: the canonical code of each symbol from the code lengths.</summary>
    private static ushort[] CanonicalCodes(byte[] lengths)
    {
        int[] count = new int[MaxCodeBits + 1];
        foreach (byte length in lengths)
        {
            count[length]++;
        }
        count[0] = 0;
        int[] nextCode = new int[MaxCodeBits + 2];
        int code = 0;
        for (int bits = 1; bits <= MaxCodeBits; bits++)
        {
            code = (code + count[bits - 1]) << 1;
            nextCode[bits] = code;
        }
        ushort[] codes = new ushort[lengths.Length];
        for (int s = 0; s < lengths.Length; s++)
        {
            if (lengths[s] != 0)
            {
                codes[s] = (ushort)nextCode[lengths[s]]++;
            }
        }
        return codes;
    }

    /// <summary>
    /// What <paramref name="raw"/> inflates to, or null when it is not a complete, valid DEFLATE
    /// stream or would produce more than <paramref name="maxOutput"/> bytes (decoding stops there:
    /// at most that many bytes are ever held).
    /// </summary>
    public static byte[]? Inflate(ReadOnlySpan<byte> raw, int maxOutput)
    {
        var input = new BitReader(raw);
        byte[] output = new byte[Math.Min(maxOutput, Math.Max(1024, raw.Length * 8))];
        int produced = 0;
        bool last;
        do
        {
            if (!input.TryRead(1, out int final) || !input.TryRead(2, out int type))
            {
                return null;
            }
            last = final == 1;
            bool ok = type switch
            {
                0 => Stored(ref input, ref output, ref produced, maxOutput),
                1 => Huffman(ref input, ref output, ref produced, maxOutput, FixedLiteral, FixedDistance),
                2 => Dynamic(ref input, ref output, ref produced, maxOutput),
                _ => false,
            };
            if (!ok)
            {
                return null;
            }
        }
        while (!last);
        return output[..produced];
    }

    private static bool Stored(ref BitReader input, ref byte[] output, ref int produced, int maxOutput)
    {
        input.AlignToByte();
        if (!input.TryRead(16, out int length) || !input.TryRead(16, out int complement) || (length ^ 0xFFFF) != complement)
        {
            return false;
        }
        for (int k = 0; k < length; k++)
        {
            if (!input.TryRead(8, out int b) || !Put(ref output, ref produced, maxOutput, (byte)b))
            {
                return false;
            }
        }
        return true;
    }

    private static readonly HuffmanTable FixedLiteral = new(FixedLiteralLengths());
    private static readonly HuffmanTable FixedDistance = new(FixedDistanceLengths());

    private static byte[] FixedDistanceLengths()
    {
        byte[] lengths = new byte[30];
        lengths.AsSpan().Fill(5);
        return lengths;
    }

    private static byte[] FixedLiteralLengths()
    {
        byte[] lengths = new byte[288];
        for (int s = 0; s < 288; s++)
        {
            lengths[s] = s < 144 ? (byte)8 : s < 256 ? (byte)9 : s < 280 ? (byte)7 : (byte)8;
        }
        return lengths;
    }

    private static bool Dynamic(ref BitReader input, ref byte[] output, ref int produced, int maxOutput)
    {
        if (!input.TryRead(5, out int hlit) || !input.TryRead(5, out int hdist) || !input.TryRead(4, out int hclen))
        {
            return false;
        }
        int literalCount = hlit + 257, distanceCount = hdist + 1, codeLengthCount = hclen + 4;
        if (literalCount > LiteralLengthCodes || distanceCount > DistanceCodes)
        {
            return false;
        }
        byte[] codeLengthLengths = new byte[19];
        for (int k = 0; k < codeLengthCount; k++)
        {
            if (!input.TryRead(3, out int length))
            {
                return false;
            }
            codeLengthLengths[CodeLengthOrder[k]] = (byte)length;
        }
        var codeLengthTable = new HuffmanTable(codeLengthLengths);
        if (!codeLengthTable.Valid)
        {
            return false;
        }
        byte[] lengths = new byte[literalCount + distanceCount];
        for (int k = 0; k < lengths.Length;)
        {
            int symbol = codeLengthTable.Decode(ref input);
            int repeat, value;
            switch (symbol)
            {
                case < 0:
                    return false;
                case < 16:
                    lengths[k++] = (byte)symbol;
                    continue;
                case 16 when k > 0 && input.TryRead(2, out int r16):
                    (value, repeat) = (lengths[k - 1], 3 + r16);
                    break;
                case 17 when input.TryRead(3, out int r17):
                    (value, repeat) = (0, 3 + r17);
                    break;
                case 18 when input.TryRead(7, out int r18):
                    (value, repeat) = (0, 11 + r18);
                    break;
                default:
                    return false;
            }
            if (k + repeat > lengths.Length)
            {
                return false;
            }
            lengths.AsSpan(k, repeat).Fill((byte)value);
            k += repeat;
        }
        if (lengths[EndOfBlock] == 0)
        {
            return false; // a block that cannot end
        }
        var literal = new HuffmanTable(lengths[..literalCount]);
        var distance = new HuffmanTable(lengths[literalCount..]);
        return literal.Valid && distance.Valid && Huffman(ref input, ref output, ref produced, maxOutput, literal, distance);
    }

    private static bool Huffman(ref BitReader input, ref byte[] output, ref int produced, int maxOutput, HuffmanTable literal, HuffmanTable distance)
    {
        while (true)
        {
            int symbol = literal.Decode(ref input);
            if (symbol < 0)
            {
                return false;
            }
            if (symbol < 256)
            {
                if (!Put(ref output, ref produced, maxOutput, (byte)symbol))
                {
                    return false;
                }
                continue;
            }
            if (symbol == EndOfBlock)
            {
                return true;
            }
            int lengthCode = symbol - 257;
            if (lengthCode >= LengthBase.Length || !input.TryRead(LengthExtra[lengthCode], out int lengthExtra))
            {
                return false;
            }
            int length = LengthBase[lengthCode] + lengthExtra;
            int distanceCode = distance.Decode(ref input);
            if (distanceCode < 0 || distanceCode >= DistanceBase.Length || !input.TryRead(DistanceExtra[distanceCode], out int distanceExtra))
            {
                return false;
            }
            int back = DistanceBase[distanceCode] + distanceExtra;
            if (back > produced)
            {
                return false; // before the start of the stream
            }
            for (int k = 0; k < length; k++)
            {
                if (!Put(ref output, ref produced, maxOutput, output[produced - back]))
                {
                    return false;
                }
            }
        }
    }

    /// <summary>Appends one byte, growing the buffer up to <paramref name="maxOutput"/>; false past it.</summary>
    private static bool Put(ref byte[] output, ref int produced, int maxOutput, byte value)
    {
        if (produced == output.Length)
        {
            if (produced >= maxOutput)
            {
                return false;
            }
            Array.Resize(ref output, (int)Math.Min(maxOutput, 2L * output.Length));
        }
        output[produced++] = value;
        return true;
    }

    /// <summary>A canonical Huffman code for decoding: how many codes of each length, and the symbols in code order.</summary>
    private sealed class HuffmanTable
    {
        private readonly int[] _count = new int[MaxCodeBits + 1];
        private readonly int[] _symbols;

        public HuffmanTable(byte[] lengths)
        {
            _symbols = new int[lengths.Length];
            foreach (byte length in lengths)
            {
                _count[length]++;
            }
            _count[0] = 0;
            // Over-subscribed (more codes than the lengths allow) is invalid; incomplete is allowed
            // (a code that is never sent simply fails to decode).
            int left = 1;
            for (int bits = 1; bits <= MaxCodeBits; bits++)
            {
                left = (left << 1) - _count[bits];
                Valid &= left >= 0;
            }
            int[] offset = new int[MaxCodeBits + 2];
            for (int bits = 1; bits <= MaxCodeBits; bits++)
            {
                offset[bits + 1] = offset[bits] + _count[bits];
            }
            for (int s = 0; s < lengths.Length; s++)
            {
                if (lengths[s] != 0)
                {
                    _symbols[offset[lengths[s]]++] = s;
                }
            }
        }

        public bool Valid { get; } = true;

        /// <summary>The next symbol, or -1 when the input ends or holds no code of this table.</summary>
        public int Decode(ref BitReader input)
        {
            int code = 0, first = 0, index = 0;
            for (int bits = 1; bits <= MaxCodeBits; bits++)
            {
                if (!input.TryRead(1, out int bit))
                {
                    return -1;
                }
                code |= bit;
                int count = _count[bits];
                if (code - first < count)
                {
                    return _symbols[index + code - first];
                }
                index += count;
                first = (first + count) << 1;
                code <<= 1;
            }
            return -1;
        }
    }

    private ref struct BitReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _bit;

        public bool TryRead(int count, out int value)
        {
            value = 0;
            if ((long)_bit + count > (long)_data.Length * 8)
            {
                return false;
            }
            for (int k = 0; k < count; k++, _bit++)
            {
                value |= (_data[_bit >> 3] >> (_bit & 7) & 1) << k;
            }
            return true;
        }

        public void AlignToByte() => _bit = (_bit + 7) & ~7;
    }

    private sealed class BitWriter(int capacity)
    {
        private readonly MemoryStream _bytes = new(capacity);
        private uint _buffer;
        private int _bits;

        /// <summary>The low <paramref name="count"/> bits of <paramref name="value"/>, least significant first.</summary>
        public void Write(int value, int count)
        {
            for (int k = 0; k < count; k++)
            {
                _buffer |= (uint)((value >> k) & 1) << _bits;
                if (++_bits == 8)
                {
                    _bytes.WriteByte((byte)_buffer);
                    _buffer = 0;
                    _bits = 0;
                }
            }
        }

        /// <summary>A Huffman code: its most significant bit first (RFC 1951 3.1.1).</summary>
        public void WriteCode(int code, int length)
        {
            for (int k = length - 1; k >= 0; k--)
            {
                Write((code >> k) & 1, 1);
            }
        }

        public byte[] ToArray()
        {
            if (_bits > 0)
            {
                _bytes.WriteByte((byte)_buffer);
                _bits = 0;
                _buffer = 0;
            }
            return _bytes.ToArray();
        }
    }
}
