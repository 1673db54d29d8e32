using System.Buffers.Binary;

namespace Bazaar.Dashboard.Otlp;

/// <summary>A body that is not the protobuf message it claims to be; the receiver answers it with 400.</summary>
public sealed class MalformedOtlpException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Protobuf's wire format read in place over a span: tags, varints, fixed-width numbers and length-delimited
/// slices, without building message objects. Every read is bounds-checked; what does not fit the format throws
/// <see cref="MalformedOtlpException"/>, as Google.Protobuf's parser throws for the same input.
/// </summary>
internal ref struct WireReader(ReadOnlySpan<byte> data)
{
    public const int VarintType = 0, Fixed64Type = 1, LengthDelimitedType = 2, StartGroupType = 3, EndGroupType = 4, Fixed32Type = 5;
    public const int MaxGroupDepth = 100;

    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly bool End => _position >= _data.Length;

    /// <summary>The next field's number and wire type; false at the end of the message.</summary>
    public bool Next(out int field, out int wireType)
    {
        if (End)
        {
            field = wireType = 0;
            return false;
        }
        var tag = Varint();
        field = (int)(tag >> 3);
        wireType = (int)(tag & 7);
        if (field <= 0 || tag > uint.MaxValue) throw new MalformedOtlpException("Invalid field tag.");
        return true;
    }

    public ulong Varint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (_position >= _data.Length) throw new MalformedOtlpException("Truncated varint.");
            var b = _data[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new MalformedOtlpException("Varint longer than 10 bytes.");
    }

    public ulong Fixed64()
    {
        if (_data.Length - _position < 8) throw new MalformedOtlpException("Truncated fixed64.");
        var value = BinaryPrimitives.ReadUInt64LittleEndian(_data[_position..]);
        _position += 8;
        return value;
    }

    public ReadOnlySpan<byte> LengthDelimited()
    {
        var length = Varint();
        if (length > (ulong)(_data.Length - _position)) throw new MalformedOtlpException("Length beyond the end of the message.");
        var slice = _data.Slice(_position, (int)length);
        _position += (int)length;
        return slice;
    }

    /// <summary>Passes over a field this reader does not keep (or one whose wire type is not the expected one, as
    /// Google.Protobuf treats it: an unknown field).</summary>
    public void Skip(int field, int wireType) => Skip(field, wireType, depth: 0);

    // Groups nest by recursion, so their depth is bounded as Google.Protobuf bounds it (100): a body of nothing but
    // group starts would otherwise overflow the stack, which no catch survives.
    private void Skip(int field, int wireType, int depth)
    {
        switch (wireType)
        {
            case VarintType: Varint(); break;
            case Fixed64Type: Advance(8); break;
            case LengthDelimitedType: LengthDelimited(); break;
            case Fixed32Type: Advance(4); break;
            case StartGroupType:
                if (depth >= MaxGroupDepth) throw new MalformedOtlpException($"Groups nested deeper than {MaxGroupDepth}.");
                while (true)
                {
                    if (!Next(out var inner, out var innerType)) throw new MalformedOtlpException("Unterminated group.");
                    if (innerType == EndGroupType)
                    {
                        if (inner != field) throw new MalformedOtlpException("Mismatched end of group.");
                        return;
                    }
                    Skip(inner, innerType, depth + 1);
                }
            default: throw new MalformedOtlpException($"Invalid wire type {wireType}.");
        }
    }

    private void Advance(int bytes)
    {
        if (_data.Length - _position < bytes) throw new MalformedOtlpException("Truncated field.");
        _position += bytes;
    }
}
