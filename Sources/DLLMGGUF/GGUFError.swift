/// Everything that can go wrong while reading a GGUF file.
///
/// Every case names the file (`file`), the byte `offset` in it where the problem was
/// found and, where one is involved, the metadata key or tensor. Byte offsets count
/// from the start of the file.
public enum GGUFError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened, inspected or mapped.
    case cannotRead(file: String, reason: String)
    /// The first four bytes are not `GGUF`.
    case badMagic(file: String, found: [UInt8])
    /// A version other than 2 or 3 (version 1 used 32-bit counts and is not read).
    case unsupportedVersion(file: String, version: UInt32, offset: Int)
    /// The file ends before `needed` bytes of `what` (e.g. "header", "key of entry 3") could be read.
    case truncated(file: String, what: String, offset: Int, needed: UInt64, available: Int)
    /// A count (tensor count, metadata entry count, array length) cannot possibly fit in the rest of the file.
    case countTooLarge(file: String, what: String, count: UInt64, offset: Int, available: Int)
    /// A string's declared length runs past the end of the file.
    case stringTooLong(file: String, what: String, length: UInt64, offset: Int, available: Int)
    /// A string that is not valid UTF-8.
    case invalidUTF8(file: String, what: String, offset: Int)
    /// A metadata value type outside the specification's 0…12.
    case unknownValueType(file: String, key: String, type: UInt32, offset: Int)
    /// Arrays nested deeper than ``GGUFFile/maximumArrayNesting``.
    case arrayNestingTooDeep(file: String, key: String, offset: Int)
    /// The same metadata key twice.
    case duplicateKey(file: String, key: String, offset: Int)
    /// `general.alignment` is not a positive power of two that is a `UINT32`.
    case invalidAlignment(file: String, key: String, value: String, offset: Int)
    /// A tensor with more than four dimensions (ggml's `GGML_MAX_DIMS`) or none.
    case invalidDimensionCount(file: String, tensor: String, count: UInt32, offset: Int)
    /// A dimension that is zero/negative as a signed 64-bit number, or whose product overflows.
    case invalidShape(file: String, tensor: String, dims: [UInt64], offset: Int)
    /// A ggml type id this reader does not know.
    case unknownTensorType(file: String, tensor: String, type: UInt32, offset: Int)
    /// The fastest dimension `ne[0]` is not a multiple of the type's block size.
    case rowNotWholeBlocks(file: String, tensor: String, type: GGMLType, ne0: UInt64, offset: Int)
    /// A tensor's data offset is not a multiple of the file's alignment.
    case misalignedTensor(file: String, tensor: String, dataOffset: UInt64, alignment: Int, offset: Int)
    /// A tensor's bytes run past the end of the file.
    case tensorOutOfBounds(file: String, tensor: String, start: UInt64, byteCount: UInt64, fileSize: Int, offset: Int)
    /// The same tensor name twice.
    case duplicateTensor(file: String, tensor: String, offset: Int)
    /// The tensor's type has no dequantiser here (the ggml type is known but not supported).
    case unsupportedTensorType(file: String, tensor: String, type: GGMLType)
    /// A tensor info that does not belong to this file was passed.
    case foreignTensor(file: String, tensor: String)

    public var description: String {
        switch self {
        case let .cannotRead(file, reason):
            return "Cannot read GGUF file '\(file)': \(reason)."
        case let .badMagic(file, found):
            let hex = found.map { String($0, radix: 16) }.joined(separator: " ")
            return "'\(file)' is not a GGUF file: bytes 0…3 are [\(hex)], not 'GGUF' (47 47 55 46) at offset 0."
        case let .unsupportedVersion(file, version, offset):
            return "'\(file)': GGUF version \(version) at offset \(offset) is not supported (versions 2 and 3 are). "
                + "Re-convert the model with a current llama.cpp."
        case let .truncated(file, what, offset, needed, available):
            return "'\(file)' is truncated: \(what) at offset \(offset) needs \(needed) bytes but only \(available) remain."
        case let .countTooLarge(file, what, count, offset, available):
            return "'\(file)': \(what) at offset \(offset) is \(count), more than the \(available) bytes left can hold."
        case let .stringTooLong(file, what, length, offset, available):
            return "'\(file)': \(what) at offset \(offset) declares a \(length)-byte string but only \(available) bytes remain."
        case let .invalidUTF8(file, what, offset):
            return "'\(file)': \(what) at offset \(offset) is not valid UTF-8."
        case let .unknownValueType(file, key, type, offset):
            return "'\(file)': metadata key '\(key)' has unknown value type \(type) at offset \(offset) (known: 0…12)."
        case let .arrayNestingTooDeep(file, key, offset):
            return "'\(file)': metadata key '\(key)' nests arrays too deeply at offset \(offset)."
        case let .duplicateKey(file, key, offset):
            return "'\(file)': metadata key '\(key)' appears twice (second time at offset \(offset))."
        case let .invalidAlignment(file, key, value, offset):
            return "'\(file)': '\(key)' at offset \(offset) is \(value); it must be a UINT32 power of two."
        case let .invalidDimensionCount(file, tensor, count, offset):
            return "'\(file)': tensor '\(tensor)' has \(count) dimensions at offset \(offset) (1…4 allowed)."
        case let .invalidShape(file, tensor, dims, offset):
            return "'\(file)': tensor '\(tensor)' has invalid dimensions \(dims) at offset \(offset) "
                + "(each must be positive and their product must fit in 63 bits)."
        case let .unknownTensorType(file, tensor, type, offset):
            return "'\(file)': tensor '\(tensor)' has unknown ggml type \(type) at offset \(offset)."
        case let .rowNotWholeBlocks(file, tensor, type, ne0, offset):
            return "'\(file)': tensor '\(tensor)' (at offset \(offset)) has ne[0] = \(ne0), not a multiple of "
                + "\(type.name)'s block size \(type.blockSize)."
        case let .misalignedTensor(file, tensor, dataOffset, alignment, offset):
            return "'\(file)': tensor '\(tensor)' has data offset \(dataOffset) (stored at offset \(offset)), "
                + "not a multiple of the alignment \(alignment)."
        case let .tensorOutOfBounds(file, tensor, start, byteCount, fileSize, offset):
            return "'\(file)': tensor '\(tensor)' (info at offset \(offset)) spans bytes \(start)…+\(byteCount), "
                + "past the end of the \(fileSize)-byte file."
        case let .duplicateTensor(file, tensor, offset):
            return "'\(file)': tensor '\(tensor)' appears twice (second time at offset \(offset))."
        case let .unsupportedTensorType(file, tensor, type):
            return "'\(file)': tensor '\(tensor)' is \(type.name), which cannot be dequantised here "
                + "(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)."
        case let .foreignTensor(file, tensor):
            return "'\(file)': tensor '\(tensor)' is not one of this file's tensors."
        }
    }
}
