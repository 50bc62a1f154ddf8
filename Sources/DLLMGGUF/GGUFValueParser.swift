/// Reads metadata values by the specification's `gguf_metadata_value_type`:
/// 0 UINT8, 1 INT8, 2 UINT16, 3 INT16, 4 UINT32, 5 INT32, 6 FLOAT32, 7 BOOL, 8 STRING,
/// 9 ARRAY (UInt32 element type, UInt64 count, elements), 10 UINT64, 11 INT64, 12 FLOAT64.
enum GGUFValueParser {
    /// The smallest number of bytes one element of value type `type` can occupy
    /// (nil for an unknown type). Used to reject array counts before allocating.
    static func minimumSize(of type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 10, 11, 12: return 8
        case 8: return 8        // the length prefix of an empty string
        case 9: return 12       // element type + count of an empty array
        default: return nil
        }
    }

    /// Reads a value-type tag and the value that follows it.
    static func value(of key: String, in reader: inout GGUFByteReader, depth: Int) throws -> GGUFValue {
        let typeOffset = reader.offset
        let type = try reader.u32("value type of '\(key)'")
        guard minimumSize(of: type) != nil else {
            throw GGUFError.unknownValueType(file: reader.file, key: key, type: type, offset: typeOffset)
        }
        return try payload(type: type, of: key, in: &reader, depth: depth)
    }

    /// Reads a value whose type tag is already known.
    static func payload(type: UInt32, of key: String, in reader: inout GGUFByteReader, depth: Int) throws -> GGUFValue {
        let what = "value of '\(key)'"
        switch type {
        case 0: return .uint8(try reader.u8(what))
        case 1: return .int8(Int8(bitPattern: try reader.u8(what)))
        case 2: return .uint16(try reader.scalar(UInt16.self, what))
        case 3: return .int16(Int16(bitPattern: try reader.scalar(UInt16.self, what)))
        case 4: return .uint32(try reader.u32(what))
        case 5: return .int32(Int32(bitPattern: try reader.u32(what)))
        case 6: return .float32(Float(bitPattern: try reader.u32(what)))
        case 7: return .bool(try reader.u8(what) != 0)
        case 8: return .string(try reader.string(what))
        case 10: return .uint64(try reader.u64(what))
        case 11: return .int64(Int64(bitPattern: try reader.u64(what)))
        case 12: return .float64(Double(bitPattern: try reader.u64(what)))
        case 9: return try array(of: key, in: &reader, depth: depth)
        default:
            throw GGUFError.unknownValueType(file: reader.file, key: key, type: type, offset: reader.offset)
        }
    }

    private static func array(of key: String, in reader: inout GGUFByteReader, depth: Int) throws -> GGUFValue {
        let typeOffset = reader.offset
        guard depth < GGUFFile.maximumArrayNesting else {
            throw GGUFError.arrayNestingTooDeep(file: reader.file, key: key, offset: typeOffset)
        }
        let elementType = try reader.u32("array element type of '\(key)'")
        guard let elementSize = minimumSize(of: elementType) else {
            throw GGUFError.unknownValueType(file: reader.file, key: key, type: elementType, offset: typeOffset)
        }
        let countOffset = reader.offset
        let count = try reader.u64("array length of '\(key)'")
        guard count <= UInt64(reader.remaining / elementSize) else {
            throw GGUFError.countTooLarge(file: reader.file, what: "array length of '\(key)'", count: count,
                                          offset: countOffset, available: reader.remaining)
        }
        var items: [GGUFValue] = []
        items.reserveCapacity(Int(count))
        for _ in 0 ..< Int(count) {
            items.append(try payload(type: elementType, of: key, in: &reader, depth: depth + 1))
        }
        return .array(items)
    }
}
