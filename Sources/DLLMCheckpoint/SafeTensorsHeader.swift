import DLLMJSON

/// The parsed and validated header of a safetensors file.
///
/// Validation follows the Python package: the 8-byte little-endian length, a JSON object of
/// tensor entries plus optional `__metadata__`, and tensors that tile the data blob exactly
/// (no overlaps, no holes). All sizes are checked against the buffer size before anything
/// proportional to them is allocated.
struct SafeTensorsHeader {
    /// Largest accepted header, as in the Python package (`MAX_HEADER_SIZE`).
    static let maximumHeaderLength = 100_000_000

    /// How headers and shard indexes are read: the `safetensors` Rust crate's serde rules
    /// (no byte order mark, duplicate keys and lone surrogates refused), with nesting
    /// bounded far below what a hostile header would need to exhaust the stack.
    static let headerJSONOptions = JSONParser.Options(duplicateKeys: .reject, loneSurrogates: .reject,
                                                      maximumDepth: 64, allowsByteOrderMark: false)

    /// Length N of the JSON header; the data blob starts at `8 + N`.
    let headerLength: Int
    let metadata: [String: String]
    /// Tensors in file order (by offset; zero-size ties keep header order).
    let tensors: [SafeTensorInfo]

    /// Parses the header of the complete file contents `bytes`; `origin` names the file in errors.
    static func parse(_ bytes: UnsafeRawBufferPointer, origin: String) throws -> SafeTensorsHeader {
        guard bytes.count >= 8 else { throw SafeTensorsError.fileTooSmall(file: origin, size: bytes.count) }
        let declared = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(maximumHeaderLength) else {
            throw SafeTensorsError.headerTooLarge(file: origin, headerLength: declared, limit: maximumHeaderLength)
        }
        let length = Int(declared)
        guard length <= bytes.count - 8 else {
            throw SafeTensorsError.headerExceedsFile(file: origin, headerLength: declared, fileSize: bytes.count)
        }
        let json = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + length)])
        guard isValidUTF8(json) else { throw SafeTensorsError.headerNotUTF8(file: origin) }

        let root: JSONValue
        do {
            root = try JSONParser.parse(json, options: headerJSONOptions)
        } catch let error as JSONError {
            if case let .duplicateKey(key, depth) = error.kind, depth == 1 {
                throw SafeTensorsError.duplicateTensor(file: origin, tensor: key)
            }
            throw SafeTensorsError.headerNotJSON(file: origin, detail: error.detail)
        }
        guard case let .object(members) = root else { throw SafeTensorsError.headerNotObject(file: origin) }

        let dataStart = 8 + length
        let blobSize = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var tensors: [SafeTensorInfo] = []
        tensors.reserveCapacity(members.count)
        for (name, value) in members {
            if name == "__metadata__" {
                metadata = try parseMetadata(value, origin: origin)
            } else {
                tensors.append(try parseEntry(name: name, value, origin: origin, dataStart: dataStart, blobSize: blobSize))
            }
        }

        // File order; the sort is stable, so zero-size tensors sharing an offset keep header order.
        let ordered = tensors.enumerated().sorted {
            ($0.element.byteRange.lowerBound, $0.element.byteRange.upperBound, $0.offset)
                < ($1.element.byteRange.lowerBound, $1.element.byteRange.upperBound, $1.offset)
        }.map(\.element)
        var covered = dataStart
        var previous = ""
        for tensor in ordered {
            if tensor.byteRange.lowerBound < covered {
                throw SafeTensorsError.overlappingTensors(file: origin, tensor: tensor.name, other: previous)
            }
            if tensor.byteRange.lowerBound > covered {
                throw SafeTensorsError.holeInData(
                    file: origin, offset: covered - dataStart, length: tensor.byteRange.lowerBound - covered)
            }
            if !tensor.byteRange.isEmpty || previous.isEmpty { previous = tensor.name }
            covered = tensor.byteRange.upperBound
        }
        if covered < bytes.count {
            throw SafeTensorsError.holeInData(file: origin, offset: covered - dataStart, length: bytes.count - covered)
        }
        return SafeTensorsHeader(headerLength: length, metadata: metadata, tensors: ordered)
    }

    private static func parseMetadata(_ value: JSONValue, origin: String) throws -> [String: String] {
        guard case let .object(members) = value else {
            throw SafeTensorsError.invalidMetadata(
                file: origin, key: "__metadata__", detail: "it is a \(value.typeName), expected an object")
        }
        var metadata: [String: String] = [:]
        for (key, entry) in members {
            guard case let .string(text) = entry else {
                throw SafeTensorsError.invalidMetadata(
                    file: origin, key: key, detail: "the value is a \(entry.typeName), expected a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseEntry(
        name: String, _ value: JSONValue, origin: String, dataStart: Int, blobSize: Int
    ) throws -> SafeTensorInfo {
        func invalid(_ detail: String) -> SafeTensorsError {
            .invalidTensorEntry(file: origin, tensor: name, detail: detail)
        }
        func integers(_ key: String) throws -> [Int] {
            guard let field = value[key] else { throw invalid("missing \"\(key)\"") }
            guard case let .array(elements) = field else {
                throw invalid("\"\(key)\" is a \(field.typeName), expected an array of integers")
            }
            return try elements.enumerated().map { index, element in
                guard let integer = element.intValue else {
                    throw invalid("\"\(key)\"[\(index)] is a \(element.typeName), expected an integer that fits in 64 bits")
                }
                return integer
            }
        }

        guard case .object = value else { throw invalid("the entry is a \(value.typeName), expected an object") }
        guard let dtypeField = value["dtype"] else { throw invalid("missing \"dtype\"") }
        guard case let .string(dtypeName) = dtypeField else {
            throw invalid("\"dtype\" is a \(dtypeField.typeName), expected a string")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw SafeTensorsError.unknownDType(file: origin, tensor: name, dtype: dtypeName)
        }
        let shape = try integers("shape")
        let offsets = try integers("data_offsets")
        guard offsets.count == 2 else {
            throw invalid("\"data_offsets\" has \(offsets.count) elements, expected 2: [begin, end]")
        }
        if shape.contains(where: { $0 < 0 }) {
            throw SafeTensorsError.negativeDimension(file: origin, tensor: name, shape: shape)
        }
        guard let (_, byteCount) = checkedSizes(shape: shape, dtype: dtype) else {
            throw SafeTensorsError.shapeOverflow(file: origin, tensor: name, shape: shape)
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, end >= begin, end <= blobSize else {
            throw SafeTensorsError.invalidOffsets(file: origin, tensor: name, begin: begin, end: end, blobSize: blobSize)
        }
        guard end - begin == byteCount else {
            throw SafeTensorsError.sizeMismatch(file: origin, tensor: name, expectedBytes: byteCount, actualBytes: end - begin)
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: (dataStart + begin)..<(dataStart + end))
    }

    /// Strict UTF-8 validation (rejects overlong forms, surrogates and truncated sequences).
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Fast path for ASCII, which every header written by the Python package nearly is.
        var index = 0
        while index < bytes.count, bytes[index] < 0x80 { index += 1 }
        if index == bytes.count { return true }
        var iterator = UnsafeRawBufferPointer(rebasing: bytes[index...]).makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
