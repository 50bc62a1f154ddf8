/// A tiny forward-layout flatbuffer writer and Arrow stream builder, to craft malformed Arrow
/// streams that pyarrow would never write.
indirect enum FlatNode {
    case table([FlatField?])
    case string(String)
    case tables([FlatNode])
    case structs(bytes: [UInt8], count: Int)
}

enum FlatField {
    case u8(UInt8)
    case i16(Int16)
    case i32(Int32)
    case i64(Int64)
    case offset(FlatNode)
}

struct FlatWriter {
    var bytes: [UInt8] = []

    mutating func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    mutating func patch(_ at: Int, _ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { for i in 0..<4 { bytes[at + i] = $0[i] } }
    }

    /// Emits `node`, returning the position an offset should point at.
    mutating func emit(_ node: FlatNode) -> Int {
        switch node {
        case let .string(s):
            let p = bytes.count
            put(UInt32(s.utf8.count))
            bytes.append(contentsOf: s.utf8)
            bytes.append(0)
            return p
        case let .structs(raw, count):
            let p = bytes.count
            put(UInt32(count))
            bytes.append(contentsOf: raw)
            return p
        case let .tables(items):
            let p = bytes.count
            put(UInt32(items.count))
            let slots = (0..<items.count).map { p + 4 + 4 * $0 }
            for _ in items { put(UInt32(0)) }
            for (slot, item) in zip(slots, items) {
                let target = emit(item)
                patch(slot, UInt32(target - slot))
            }
            return p
        case let .table(fields):
            func size(_ f: FlatField) -> Int {
                switch f {
                case .u8: return 1
                case .i16: return 2
                case .i32, .offset: return 4
                case .i64: return 8
                }
            }
            let vtable = bytes.count
            put(UInt16(4 + 2 * fields.count))
            var tableSize = 4
            var fieldOffsets: [UInt16] = []
            for f in fields {
                if let f { fieldOffsets.append(UInt16(tableSize)); tableSize += size(f) } else { fieldOffsets.append(0) }
            }
            put(UInt16(tableSize))
            for o in fieldOffsets { put(o) }
            let table = bytes.count
            put(Int32(table - vtable))
            var pending: [(Int, FlatNode)] = []
            for f in fields {
                guard let f else { continue }
                switch f {
                case let .u8(v): put(v)
                case let .i16(v): put(v)
                case let .i32(v): put(v)
                case let .i64(v): put(v)
                case let .offset(child): pending.append((bytes.count, child)); put(UInt32(0))
                }
            }
            for (slot, child) in pending {
                let target = emit(child)
                patch(slot, UInt32(target - slot))
            }
            return table
        }
    }

    static func buffer(root: FlatNode) -> [UInt8] {
        var w = FlatWriter()
        w.put(UInt32(0))
        let p = w.emit(root)
        w.patch(0, UInt32(p))
        return w.bytes
    }
}

enum ArrowTestStream {
    static func message(headerType: UInt8, header: FlatNode, bodyLength: Int64) -> [UInt8] {
        var meta = FlatWriter.buffer(root: .table([.i16(4), .u8(headerType), .offset(header), .i64(bodyLength)]))
        while meta.count % 8 != 0 { meta.append(0) }
        var out: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]
        withUnsafeBytes(of: Int32(meta.count).littleEndian) { out.append(contentsOf: $0) }
        return out + meta
    }

    /// A stream with one int64 column; `claimedValuesLength` overrides the values buffer length.
    static func int64Column(name: String, values: [Int64], claimedValuesLength: Int?) -> [UInt8] {
        let intType = FlatNode.table([.i32(64), .u8(1)])
        let field = FlatNode.table([.offset(.string(name)), .u8(1), .u8(2), .offset(intType), nil, .offset(.tables([]))])
        let schema = FlatNode.table([.i16(0), .offset(.tables([field]))])
        var body: [UInt8] = []
        for v in values { withUnsafeBytes(of: v.littleEndian) { body.append(contentsOf: $0) } }
        func le(_ v: Int64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        let nodes = le(Int64(values.count)) + le(0)
        let buffers = le(0) + le(0) + le(0) + le(Int64(claimedValuesLength ?? body.count))
        let batch = FlatNode.table([
            .i64(Int64(values.count)), .offset(.structs(bytes: nodes, count: 1)), .offset(.structs(bytes: buffers, count: 2)),
        ])
        var out = message(headerType: 1, header: schema, bodyLength: 0)
        out += message(headerType: 3, header: batch, bodyLength: Int64(body.count))
        out += body
        out += [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
        return out
    }
}
