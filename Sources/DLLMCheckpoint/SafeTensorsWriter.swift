import DLLMJSON
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds a safetensors file byte for byte as the Python package does.
///
/// Layout (matches `safetensors.torch.save_file` exactly): tensors ordered by dtype
/// (I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL) and then by name (UTF-8 byte order) —
/// for single-dtype files simply by name — with the data laid out in that order; compact JSON
/// with `__metadata__` first; header padded with spaces to a multiple of 8 bytes.
/// Differences: metadata keys are sorted (the Python package emits them in hash order, so its
/// output is only deterministic for at most one key), and empty metadata is omitted (as
/// Python does for `metadata=None`).
public struct SafeTensorsWriter: Sendable {
    /// Name used for the file in errors raised before a destination is known.
    static let origin = "<SafeTensorsWriter>"

    private struct Entry: Sendable {
        let name: String
        let dtype: SafeTensorsDType
        let shape: [Int]
        let bytes: Data
    }

    /// The `__metadata__` string map written into the header (omitted when empty).
    public var metadata: [String: String]
    private var entries: [Entry] = []
    private var names: Set<String> = []

    /// Creates an empty writer.
    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Names of the tensors added so far, in insertion order.
    public var tensorNames: [String] { entries.map(\.name) }

    /// Checks name and shape and returns the tensor's element and byte counts.
    private func validate(_ name: String, dtype: SafeTensorsDType, shape: [Int]) throws -> (elements: Int, bytes: Int) {
        try Self.validate(name, dtype: dtype, shape: shape, taken: names)
    }

    /// The same for a tensor joining the names `taken`.
    static func validate(_ name: String, dtype: SafeTensorsDType, shape: [Int], taken: Set<String>) throws -> (elements: Int, bytes: Int) {
        guard name != "__metadata__" else { throw SafeTensorsError.invalidTensorName(file: Self.origin, tensor: name) }
        guard !taken.contains(name) else { throw SafeTensorsError.duplicateTensor(file: Self.origin, tensor: name) }
        if shape.contains(where: { $0 < 0 }) {
            throw SafeTensorsError.negativeDimension(file: Self.origin, tensor: name, shape: shape)
        }
        guard let sizes = checkedSizes(shape: shape, dtype: dtype) else {
            throw SafeTensorsError.shapeOverflow(file: Self.origin, tensor: name, shape: shape)
        }
        return sizes
    }

    private mutating func append(_ entry: Entry) {
        entries.append(entry)
        names.insert(entry.name)
    }

    /// Adds a tensor from its raw little-endian bytes; `bytes.count` must equal
    /// the shape's element count × `dtype.byteSize`.
    public mutating func add(_ name: String, dtype: SafeTensorsDType, shape: [Int], bytes: Data) throws {
        let expected = try validate(name, dtype: dtype, shape: shape).bytes
        guard bytes.count == expected else {
            throw SafeTensorsError.sizeMismatch(file: Self.origin, tensor: name, expectedBytes: expected, actualBytes: bytes.count)
        }
        append(Entry(name: name, dtype: dtype, shape: shape, bytes: bytes))
    }

    /// Adds floating-point values stored as `dtype` (F64, F32, F16 or BF16), rounding to
    /// nearest even. `values.count` must equal the shape's element count.
    ///
    /// `Float` and `Double` sources take specialised loops and round exactly once; other
    /// types go through `Double`.
    public mutating func add<S: BinaryFloatingPoint>(
        _ name: String, shape: [Int], values: UnsafeBufferPointer<S>, as dtype: SafeTensorsDType
    ) throws {
        guard dtype.isFloatingPoint else {
            throw SafeTensorsError.unsupportedConversion(file: Self.origin, tensor: name, dtype: dtype, target: "\(S.self)")
        }
        let (count, byteCount) = try validate(name, dtype: dtype, shape: shape)
        guard values.count == count else {
            throw SafeTensorsError.countMismatch(file: Self.origin, tensor: name, expected: count, actual: values.count)
        }
        var bytes = Data(count: byteCount)
        if count > 0 {
            bytes.withUnsafeMutableBytes { Self.encode(values, as: dtype, into: $0.baseAddress!) }
        }
        append(Entry(name: name, dtype: dtype, shape: shape, bytes: bytes))
    }

    static func encode<S: BinaryFloatingPoint>(_ values: UnsafeBufferPointer<S>, as dtype: SafeTensorsDType, into out: UnsafeMutableRawPointer) {
        let count = values.count
        let source = values.baseAddress!
        if S.self == Float.self {
            source.withMemoryRebound(to: Float.self, capacity: count) { encodeFloats($0, count: count, as: dtype, into: out) }
        } else if S.self == Double.self {
            source.withMemoryRebound(to: Double.self, capacity: count) { encodeDoubles($0, count: count, as: dtype, into: out) }
        } else if dtype == .F32 {
            for i in 0..<count { out.storeBytes(of: Float(source[i]), toByteOffset: i &* 4, as: Float.self) }
        } else {
            // Rare types (Float16, Float80): through Double, one element at a time.
            for i in 0..<count {
                let value = Double(source[i])
                withUnsafePointer(to: value) { encodeDoubles($0, count: 1, as: dtype, into: out + i &* dtype.byteSize) }
            }
        }
    }

    private static func encodeFloats(_ source: UnsafePointer<Float>, count: Int, as dtype: SafeTensorsDType, into out: UnsafeMutableRawPointer) {
        switch dtype {
        case .F32: memcpy(out, source, count &* 4)
        case .F16: HalfPrecision.convertFloatToF16(source, out, count: count)
        case .BF16: HalfPrecision.convertFloatToBF16(source, out, count: count)
        default: for i in 0..<count { out.storeBytes(of: Double(source[i]), toByteOffset: i &* 8, as: Double.self) }
        }
    }

    private static func encodeDoubles(_ source: UnsafePointer<Double>, count: Int, as dtype: SafeTensorsDType, into out: UnsafeMutableRawPointer) {
        switch dtype {
        case .F64: memcpy(out, source, count &* 8)
        case .F32: for i in 0..<count { out.storeBytes(of: Float(source[i]), toByteOffset: i &* 4, as: Float.self) }
        case .F16: for i in 0..<count { out.storeBytes(of: HalfPrecision.f16(from: source[i]), toByteOffset: i &* 2, as: UInt16.self) }
        default: for i in 0..<count { out.storeBytes(of: HalfPrecision.bf16(from: source[i]), toByteOffset: i &* 2, as: UInt16.self) }
        }
    }

    /// Entries in file order and the header (8-byte length prefix, JSON, space padding).
    private func layout() -> (header: [UInt8], order: [Entry]) {
        let described = entries.map { (name: $0.name, dtype: $0.dtype, shape: $0.shape, byteCount: $0.bytes.count) }
        let (header, order) = Self.layout(described, metadata: metadata)
        return (header, order.map { entries[$0] })
    }

    /// The file order of `tensors` (by dtype as `safetensors` ranks them, then by UTF-8
    /// name) and the header describing them in that order: 8-byte little-endian length,
    /// compact JSON with `__metadata__` first (keys sorted), padded with spaces to a
    /// multiple of 8. Shared by this writer and ``SafeTensorsStreamWriter``, so both
    /// produce the same bytes for the same tensors.
    static func layout(
        _ tensors: [(name: String, dtype: SafeTensorsDType, shape: [Int], byteCount: Int)], metadata: [String: String]
    ) -> (header: [UInt8], order: [Int]) {
        let order = tensors.indices.sorted { i, j in
            let a = tensors[i], b = tensors[j]
            return a.dtype.layoutRank != b.dtype.layoutRank
                ? a.dtype.layoutRank > b.dtype.layoutRank
                : a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
        var json: [UInt8] = [UInt8(ascii: "{")]
        if !metadata.isEmpty {
            json.append(contentsOf: "\"__metadata__\":{".utf8)
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (i, key) in keys.enumerated() {
                if i > 0 { json.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(key, to: &json)
                json.append(UInt8(ascii: ":"))
                JSONWriter.appendString(metadata[key]!, to: &json)
            }
            json.append(UInt8(ascii: "}"))
        }
        var offset = 0
        for (i, index) in order.enumerated() {
            let entry = tensors[index]
            if i > 0 || !metadata.isEmpty { json.append(UInt8(ascii: ",")) }
            JSONWriter.appendString(entry.name, to: &json)
            let shape = entry.shape.map(String.init).joined(separator: ",")
            json.append(contentsOf: ":{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],".utf8)
            json.append(contentsOf: "\"data_offsets\":[\(offset),\(offset + entry.byteCount)]}".utf8)
            offset += entry.byteCount
        }
        json.append(UInt8(ascii: "}"))
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        var header = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        header.append(contentsOf: json)
        return (header, order)
    }

    /// The complete file contents. Deterministic: equal writers give equal bytes.
    public func serialized() -> Data {
        let (header, order) = layout()
        var data = Data(capacity: header.count + order.reduce(0) { $0 + $1.bytes.count })
        data.append(contentsOf: header)
        for entry in order { data.append(entry.bytes) }
        return data
    }

    /// Writes ``serialized()`` to `url` atomically (temporary file `name.tmp-<pid>`, fsync,
    /// rename over the target, fsync of the directory), streaming tensor data without building
    /// the whole file in memory.
    public func write(to url: URL) throws {
        let (header, order) = layout()
        try AtomicFile.write(to: url) { sink in
            try header.withUnsafeBytes { try sink.write($0) }
            for entry in order { try sink.write(entry.bytes) }
        }
    }
}
