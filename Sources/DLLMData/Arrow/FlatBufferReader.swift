/// A malformed flatbuffer (offset out of range, bad vtable, …).
struct FlatBufferError: Error {
    var detail: String
}

/// Bounds-checked reading of a flatbuffer, enough for Arrow's `Message.fbs`/`Schema.fbs`.
///
/// Layout facts used (FlatBuffers binary format): the buffer starts with a `uoffset_t` (u32) to
/// the root table; a table starts with an `soffset_t` (i32) such that `table - soffset` is its
/// vtable; a vtable is `u16 vtableSize, u16 tableSize, u16 fieldOffset[...]` with 0 meaning
/// "absent"; offset fields (tables, strings, vectors) hold a u32 relative to the field's own
/// position; vectors and strings start with a u32 element count. All little-endian.
struct FlatBuffer {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func check(_ position: Int, _ size: Int, _ what: String) throws {
        guard position >= 0, size >= 0, position <= bytes.count, bytes.count - position >= size else {
            throw FlatBufferError(detail: "\(what) at \(position) (+\(size) bytes) lies outside the \(bytes.count)-byte metadata")
        }
    }

    func load<T: FixedWidthInteger>(_ type: T.Type, at position: Int, _ what: String) throws -> T {
        try check(position, MemoryLayout<T>.size, what)
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size { value |= T(truncatingIfNeeded: bytes[position + i]) << (8 * i) }
        return value
    }

    func rootTable() throws -> FlatTable {
        let offset = try load(UInt32.self, at: 0, "root offset")
        return try FlatTable(buffer: self, position: Int(offset))
    }
}

/// One table of a ``FlatBuffer``.
struct FlatTable {
    let buffer: FlatBuffer
    let position: Int
    private let vtable: Int
    private let vtableSize: Int
    private let tableSize: Int

    init(buffer: FlatBuffer, position: Int) throws {
        self.buffer = buffer
        self.position = position
        let soffset = try buffer.load(Int32.self, at: position, "table")
        let vt = position - Int(soffset)
        let vtSize = Int(try buffer.load(UInt16.self, at: vt, "vtable"))
        guard vtSize >= 4, vtSize % 2 == 0 else { throw FlatBufferError(detail: "vtable size \(vtSize) is invalid") }
        try buffer.check(vt, vtSize, "vtable")
        let tSize = Int(try buffer.load(UInt16.self, at: vt + 2, "table size"))
        guard tSize >= 4 else { throw FlatBufferError(detail: "table size \(tSize) is invalid") }
        try buffer.check(position, tSize, "table")
        vtable = vt
        vtableSize = vtSize
        tableSize = tSize
    }

    /// Absolute position of field `index`, or nil when absent.
    func fieldPosition(_ index: Int, size: Int) throws -> Int? {
        let entry = 4 + 2 * index
        guard entry + 2 <= vtableSize else { return nil }
        let offset = Int(try buffer.load(UInt16.self, at: vtable + entry, "vtable entry"))
        if offset == 0 { return nil }
        guard offset + size <= tableSize else {
            throw FlatBufferError(detail: "field \(index) at +\(offset) overruns its \(tableSize)-byte table")
        }
        return position + offset
    }

    func scalar<T: FixedWidthInteger>(_ index: Int, _ type: T.Type, default value: T) throws -> T {
        guard let p = try fieldPosition(index, size: MemoryLayout<T>.size) else { return value }
        return try buffer.load(T.self, at: p, "field \(index)")
    }

    func bool(_ index: Int, default value: Bool) throws -> Bool {
        try scalar(index, UInt8.self, default: value ? 1 : 0) != 0
    }

    private func target(_ index: Int) throws -> Int? {
        guard let p = try fieldPosition(index, size: 4) else { return nil }
        let rel = try buffer.load(UInt32.self, at: p, "offset field \(index)")
        let t = p + Int(rel)
        try buffer.check(t, 4, "target of field \(index)")
        return t
    }

    func table(_ index: Int) throws -> FlatTable? {
        guard let t = try target(index) else { return nil }
        return try FlatTable(buffer: buffer, position: t)
    }

    func string(_ index: Int) throws -> String? {
        guard let t = try target(index) else { return nil }
        let count = Int(try buffer.load(UInt32.self, at: t, "string length"))
        try buffer.check(t + 4, count, "string")
        let slice = buffer.bytes[(t + 4)..<(t + 4 + count)]
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw FlatBufferError(detail: "string field \(index) is not UTF-8")
        }
        return s
    }

    /// The tables of a vector-of-tables field (empty when absent).
    func tables(_ index: Int) throws -> [FlatTable] {
        guard let t = try target(index) else { return [] }
        let count = Int(try buffer.load(UInt32.self, at: t, "vector length"))
        try buffer.check(t + 4, count * 4, "vector of tables")
        var out: [FlatTable] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let p = t + 4 + 4 * i
            let rel = try buffer.load(UInt32.self, at: p, "vector element")
            out.append(try FlatTable(buffer: buffer, position: p + Int(rel)))
        }
        return out
    }

    /// Start and count of a vector of fixed-size structs (nil when absent).
    func structVector(_ index: Int, structSize: Int) throws -> (start: Int, count: Int)? {
        guard let t = try target(index) else { return nil }
        let count = Int(try buffer.load(UInt32.self, at: t, "vector length"))
        let (bytes, overflow) = count.multipliedReportingOverflow(by: structSize)
        guard !overflow else { throw FlatBufferError(detail: "vector of \(count) structs overflows") }
        try buffer.check(t + 4, bytes, "vector of structs")
        return (t + 4, count)
    }
}
