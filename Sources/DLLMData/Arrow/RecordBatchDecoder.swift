/// Decodes one `RecordBatch` message body into per-column value arrays.
///
/// Buffer layouts (Arrow columnar format): every non-null-type array starts with a validity
/// bitmap (bit i set = row i valid, may be empty when the null count is 0); fixed-width types
/// add a values buffer; `string`/`large_string` add int32/int64 offsets and data; lists add
/// offsets and one child array; `fixed_size_list` and `struct` only have children.
struct RecordBatchDecoder {
    let body: UnsafeRawBufferPointer
    let file: String
    let nodes: [(length: Int, nullCount: Int)]
    let buffers: [(offset: Int, length: Int)]
    var nodeIndex = 0
    var bufferIndex = 0

    static func decode(
        header: FlatTable, body: UnsafeRawBufferPointer, fields: [ArrowField], file: String, messageOffset: Int
    ) throws -> (length: Int, columns: [[DataValue]]) {
        var nodes: [(Int, Int)] = []
        var buffers: [(Int, Int)] = []
        let length: Int64
        do {
            // RecordBatch: length(0), nodes(1), buffers(2), compression(3), variadicBufferCounts(4).
            length = try header.scalar(0, Int64.self, default: 0)
            if try header.table(3) != nil {
                throw ArrowError.unsupportedFeature(file: file, detail: "buffer compression (LZ4/ZSTD)")
            }
            let fb = header.buffer
            if let (start, count) = try header.structVector(1, structSize: 16) {
                nodes.reserveCapacity(count)
                for i in 0..<count {
                    let l = try fb.load(Int64.self, at: start + 16 * i, "field node")
                    let n = try fb.load(Int64.self, at: start + 16 * i + 8, "field node")
                    guard l >= 0, n >= 0, n <= l, l <= Int64(Int32.max) * 64 else {
                        throw FlatBufferError(detail: "field node \(i) has length \(l) and null count \(n)")
                    }
                    nodes.append((Int(l), Int(n)))
                }
            }
            if let (start, count) = try header.structVector(2, structSize: 16) {
                buffers.reserveCapacity(count)
                for i in 0..<count {
                    let o = try fb.load(Int64.self, at: start + 16 * i, "buffer")
                    let l = try fb.load(Int64.self, at: start + 16 * i + 8, "buffer")
                    guard o >= 0, l >= 0, o <= Int64(body.count), l <= Int64(body.count) - o else {
                        throw ArrowError.invalidMessage(
                            file: file, offset: messageOffset,
                            detail: "buffer \(i) (offset \(o), length \(l)) lies outside the \(body.count)-byte body")
                    }
                    buffers.append((Int(o), Int(l)))
                }
            }
        } catch let e as FlatBufferError {
            throw ArrowError.invalidMessage(file: file, offset: messageOffset, detail: e.detail)
        }
        guard length >= 0 else {
            throw ArrowError.invalidMessage(file: file, offset: messageOffset, detail: "negative record batch length \(length)")
        }
        var decoder = RecordBatchDecoder(body: body, file: file, nodes: nodes, buffers: buffers)
        var columns: [[DataValue]] = []
        for field in fields {
            guard decoder.nodeIndex < nodes.count, nodes[decoder.nodeIndex].0 == Int(length) else {
                throw ArrowError.invalidColumn(
                    file: file, column: field.name,
                    detail: "its field node does not match the record batch length \(length) (or is missing)")
            }
            let values = try decoder.array(field, path: field.name)
            guard values.count == Int(length) else {
                throw ArrowError.invalidColumn(
                    file: file, column: field.name, detail: "\(values.count) values in a record batch of \(length) rows")
            }
            columns.append(values)
        }
        return (Int(length), columns)
    }

    private mutating func nextNode(_ path: String) throws -> (length: Int, nullCount: Int) {
        guard nodeIndex < nodes.count else {
            throw ArrowError.invalidColumn(file: file, column: path, detail: "the record batch has too few field nodes")
        }
        defer { nodeIndex += 1 }
        return nodes[nodeIndex]
    }

    private mutating func nextBuffer(_ path: String) throws -> UnsafeRawBufferPointer {
        guard bufferIndex < buffers.count else {
            throw ArrowError.invalidColumn(file: file, column: path, detail: "the record batch has too few buffers")
        }
        defer { bufferIndex += 1 }
        let (offset, length) = buffers[bufferIndex]
        return UnsafeRawBufferPointer(rebasing: body[offset..<(offset + length)])
    }

    private func fail(_ path: String, _ detail: String) -> ArrowError {
        .invalidColumn(file: file, column: path, detail: detail)
    }

    /// Checks `buffer` holds at least `count` elements of `width` bytes (overflow-safe).
    private func require(_ buffer: UnsafeRawBufferPointer, _ count: Int, width: Int, _ what: String, _ path: String) throws {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow, buffer.count >= bytes else {
            throw fail(path, "the \(what) buffer has \(buffer.count) bytes but \(count) entries of \(width) bytes are declared")
        }
    }

    private func validity(_ buffer: UnsafeRawBufferPointer, length: Int, nullCount: Int, _ path: String) throws -> ((Int) -> Bool) {
        if nullCount == 0 { return { _ in true } }
        guard buffer.count >= (length + 7) / 8 else {
            throw fail(path, "\(nullCount) nulls declared but the validity bitmap has \(buffer.count) bytes for \(length) rows")
        }
        return { i in buffer[i >> 3] & (1 << UInt8(i & 7)) != 0 }
    }

    private func offsets(_ buffer: UnsafeRawBufferPointer, count: Int, wide: Bool, limit: Int, _ path: String) throws -> [Int] {
        if count == 0 { return [0] }
        try require(buffer, count + 1, width: wide ? 8 : 4, "offsets", path)
        var out = [Int]()
        out.reserveCapacity(count + 1)
        for i in 0...count {
            let v = wide
                ? Int(Int64(littleEndian: buffer.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                : Int(Int32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
            guard v >= 0, v <= limit, out.last.map({ v >= $0 }) ?? true else {
                throw fail(path, "offset \(i) is \(v): offsets must rise and stay within 0...\(limit)")
            }
            out.append(v)
        }
        return out
    }

    mutating func array(_ field: ArrowField, path: String) throws -> [DataValue] {
        let (length, nullCount) = try nextNode(path)
        if case .null = field.type {
            guard length <= ArrowStreamReader.maximumNullArrayLength else {
                throw fail(path, "a null column of \(length) rows")
            }
            return Array(repeating: .null, count: length)
        }
        let validityBuffer = try nextBuffer(path)
        let isValid = try validity(validityBuffer, length: length, nullCount: nullCount, path)
        var out: [DataValue] = []
        switch field.type {
        case .null:
            return []
        case .bool:
            let values = try nextBuffer(path)
            try require(values, (length + 7) / 8, width: 1, "values", path)
            out.reserveCapacity(length)
            for i in 0..<length {
                out.append(isValid(i) ? .bool(values[i >> 3] & (1 << UInt8(i & 7)) != 0) : .null)
            }
        case let .int(bits, signed):
            let values = try nextBuffer(path)
            let width = bits / 8
            try require(values, length, width: width, "values", path)
            out.reserveCapacity(length)
            for i in 0..<length {
                guard isValid(i) else { out.append(.null); continue }
                let at = i * width
                let v: Int64
                switch (bits, signed) {
                case (8, true): v = Int64(values.loadUnaligned(fromByteOffset: at, as: Int8.self))
                case (8, false): v = Int64(values.loadUnaligned(fromByteOffset: at, as: UInt8.self))
                case (16, true): v = Int64(Int16(littleEndian: values.loadUnaligned(fromByteOffset: at, as: Int16.self)))
                case (16, false): v = Int64(UInt16(littleEndian: values.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                case (32, true): v = Int64(Int32(littleEndian: values.loadUnaligned(fromByteOffset: at, as: Int32.self)))
                case (32, false): v = Int64(UInt32(littleEndian: values.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                case (64, true): v = Int64(littleEndian: values.loadUnaligned(fromByteOffset: at, as: Int64.self))
                default:
                    let u = UInt64(littleEndian: values.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                    guard let s = Int64(exactly: u) else { throw fail(path, "uint64 value \(u) at row \(i) exceeds Int64") }
                    v = s
                }
                out.append(.int(v))
            }
        case let .floatingPoint(precision):
            let values = try nextBuffer(path)
            let width = precision == 1 ? 4 : 8
            try require(values, length, width: width, "values", path)
            out.reserveCapacity(length)
            for i in 0..<length {
                guard isValid(i) else { out.append(.null); continue }
                if width == 4 {
                    let bits = UInt32(littleEndian: values.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                    out.append(.double(Double(Float(bitPattern: bits))))
                } else {
                    let bits = UInt64(littleEndian: values.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                    out.append(.double(Double(bitPattern: bits)))
                }
            }
        case .utf8, .largeUtf8:
            let offsetBuffer = try nextBuffer(path)
            let data = try nextBuffer(path)
            let bounds = try offsets(offsetBuffer, count: length, wide: field.type == .largeUtf8, limit: data.count, path)
            out.reserveCapacity(length)
            for i in 0..<length {
                guard isValid(i) else { out.append(.null); continue }
                let slice = UnsafeRawBufferPointer(rebasing: data[bounds[i]..<bounds[i + 1]])
                guard let s = String(validating: slice, as: UTF8.self) else {
                    throw fail(path, "row \(i) is not valid UTF-8")
                }
                out.append(.string(s))
            }
        case let .list(child), let .largeList(child):
            let offsetBuffer = try nextBuffer(path)
            let wide: Bool
            if case .largeList = field.type { wide = true } else { wide = false }
            // Validate offsets against the child's declared length before decoding it.
            guard nodeIndex < nodes.count else { throw fail(path, "the record batch has too few field nodes") }
            let childLength = nodes[nodeIndex].length
            let bounds = try offsets(offsetBuffer, count: length, wide: wide, limit: childLength, path)
            let values = try array(child, path: path + "." + child.name)
            out.reserveCapacity(length)
            for i in 0..<length {
                out.append(isValid(i) ? .list(Array(values[bounds[i]..<bounds[i + 1]])) : .null)
            }
        case let .fixedSizeList(child, size):
            guard size > 0 || length <= ArrowStreamReader.maximumNullArrayLength else {
                throw fail(path, "\(length) empty fixed-size lists")
            }
            guard nodeIndex < nodes.count else { throw fail(path, "the record batch has too few field nodes") }
            let (needed, overflow) = length.multipliedReportingOverflow(by: size)
            guard !overflow, nodes[nodeIndex].length >= needed else {
                throw fail(path, "\(length) lists of \(size) need \(needed) child values, the child has \(nodes[nodeIndex].length)")
            }
            let values = try array(child, path: path + "." + child.name)
            out.reserveCapacity(length)
            for i in 0..<length {
                out.append(isValid(i) ? .list(Array(values[(i * size)..<((i + 1) * size)])) : .null)
            }
        case let .structType(children):
            guard !children.isEmpty || length <= ArrowStreamReader.maximumNullArrayLength else {
                throw fail(path, "a struct without fields of \(length) rows")
            }
            var childValues: [[DataValue]] = []
            for child in children {
                let values = try array(child, path: path + "." + child.name)
                guard values.count >= length else {
                    throw fail(path, "child '\(child.name)' has \(values.count) values for \(length) rows")
                }
                childValues.append(values)
            }
            out.reserveCapacity(length)
            for i in 0..<length {
                guard isValid(i) else { out.append(.null); continue }
                var object: [String: DataValue] = [:]
                for (c, child) in children.enumerated() { object[child.name] = childValues[c][i] }
                out.append(.object(object))
            }
        case let .unsupported(name):
            throw ArrowError.unsupportedType(file: file, column: path, type: name)
        }
        return out
    }
}
