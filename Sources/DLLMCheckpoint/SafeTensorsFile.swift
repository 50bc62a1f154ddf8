import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One `.safetensors` file, validated on open and read lazily.
///
/// Files are memory-mapped when the platform allows it, so opening a multi-gigabyte
/// checkpoint costs little memory; tensors are converted straight from the mapping.
/// (As with any mapping, truncating the file on disk while it is open is undefined;
/// ``SafeTensorsWriter/write(to:)`` replaces files by renaming, which is safe.)
public struct SafeTensorsFile: Sendable {
    /// The name used in error messages: the path, or the `origin` given to ``init(data:origin:)``.
    public let origin: String
    /// The `__metadata__` string map (empty if absent).
    public let metadata: [String: String]
    /// Length of the JSON header; tensor data starts at byte `8 + headerLength`.
    public let headerLength: Int
    /// All tensors in file order (sorted by offset).
    public let tensors: [SafeTensorInfo]

    private let storage: Data
    private let positions: [String: Int]

    /// Opens and validates the file at `url`, memory-mapping it when possible.
    public init(contentsOf url: URL) throws {
        _ = try Self.regularFileSize(url)
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            // Mapping can fail (e.g. for an empty file); fall back to an ordinary read.
            do {
                data = try Data(contentsOf: url)
            } catch {
                throw SafeTensorsError.cannotRead(file: url.path, reason: Self.reason(error))
            }
        }
        try self.init(data: data, origin: url.path)
    }

    /// Validates in-memory file contents; `origin` names the data in error messages.
    public init(data: Data, origin: String) throws {
        let header = try data.withUnsafeBytes { try SafeTensorsHeader.parse($0, origin: origin) }
        self.origin = origin
        self.metadata = header.metadata
        self.headerLength = header.headerLength
        self.tensors = header.tensors
        self.storage = data
        var positions: [String: Int] = [:]
        positions.reserveCapacity(header.tensors.count)
        for (position, tensor) in header.tensors.enumerated() { positions[tensor.name] = position }
        self.positions = positions
    }

    /// Tensor names in file order (sorted by offset).
    public var tensorNames: [String] { tensors.map(\.name) }

    /// The tensor's description, or `nil` if the file has no tensor of that name.
    public func info(_ name: String) -> SafeTensorInfo? {
        positions[name].map { tensors[$0] }
    }

    private func existing(_ name: String) throws -> SafeTensorInfo {
        guard let info = info(name) else { throw SafeTensorsError.tensorNotFound(file: origin, tensor: name) }
        return info
    }

    /// A copy of the tensor's raw little-endian bytes.
    public func rawBytes(_ name: String) throws -> Data {
        let info = try existing(name)
        guard !info.byteRange.isEmpty else { return Data() }
        return storage.withUnsafeBytes { Data(bytes: $0.baseAddress! + info.byteRange.lowerBound, count: info.byteCount) }
    }

    /// Converts the tensor into `destination`, which must hold exactly `elementCount` elements.
    ///
    /// Every dtype converts: F16/BF16 widen exactly, F32/F64 round to nearest when narrowing,
    /// integers convert as by `S(value)`, BOOL gives 0 or 1.
    public func read<S: BinaryFloatingPoint>(_ name: String, into destination: UnsafeMutableBufferPointer<S>) throws {
        let info = try existing(name)
        guard destination.count == info.elementCount else {
            throw SafeTensorsError.countMismatch(file: origin, tensor: name, expected: info.elementCount, actual: destination.count)
        }
        guard !info.byteRange.isEmpty else { return }
        storage.withUnsafeBytes { raw in
            TensorConversion.convert(raw.baseAddress! + info.byteRange.lowerBound, dtype: info.dtype, into: destination)
        }
    }

    /// Converts the flattened tensor's `elements` into `destination` (which holds
    /// `elements.count`), touching only those bytes of the mapping: a rank resuming
    /// from a sharded checkpoint reads its own slice of a shard this way.
    public func read<S: BinaryFloatingPoint>(_ name: String, elements: Range<Int>, into destination: UnsafeMutableBufferPointer<S>) throws {
        let info = try existing(name)
        guard elements.lowerBound >= 0, elements.upperBound <= info.elementCount else {
            throw SafeTensorsError.countMismatch(file: origin, tensor: name, expected: info.elementCount, actual: elements.upperBound)
        }
        guard destination.count == elements.count else {
            throw SafeTensorsError.countMismatch(file: origin, tensor: name, expected: elements.count, actual: destination.count)
        }
        guard !elements.isEmpty else { return }
        storage.withUnsafeBytes { raw in
            let start = raw.baseAddress! + info.byteRange.lowerBound + elements.lowerBound * info.dtype.byteSize
            TensorConversion.convert(start, dtype: info.dtype, into: destination)
        }
    }

    /// The tensor's elements as `Float` (flattened, row-major).
    public func floats(_ name: String) throws -> [Float] {
        let count = try existing(name).elementCount
        return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            try read(name, into: buffer)
            initialized = count
        }
    }

    /// The tensor's elements as `Double` (flattened, row-major).
    public func doubles(_ name: String) throws -> [Double] {
        let count = try existing(name).elementCount
        return try [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
            try read(name, into: buffer)
            initialized = count
        }
    }

    /// The elements of an integer tensor (I64, I32, I16, I8, U8, BOOL) as `Int64`.
    /// Floating dtypes throw ``SafeTensorsError/unsupportedConversion(file:tensor:dtype:target:)``.
    public func int64s(_ name: String) throws -> [Int64] {
        let info = try existing(name)
        guard !info.dtype.isFloatingPoint else {
            throw SafeTensorsError.unsupportedConversion(file: origin, tensor: name, dtype: info.dtype, target: "Int64")
        }
        let count = info.elementCount
        return [Int64](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                storage.withUnsafeBytes { raw in
                    _ = TensorConversion.toInt64(
                        raw.baseAddress! + info.byteRange.lowerBound, dtype: info.dtype, count: count, into: buffer.baseAddress!)
                }
            }
            initialized = count
        }
    }

    /// Size of the regular file at `url`, following symbolic links (as in the Hugging Face cache).
    /// Anything else is refused: reading a device or FIFO could block or never end.
    static func regularFileSize(_ url: URL) throws -> Int {
        var status = stat()
        guard stat(url.path, &status) == 0 else {
            throw SafeTensorsError.cannotRead(file: url.path, reason: String(cString: strerror(errno)))
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw SafeTensorsError.cannotRead(file: url.path, reason: "not a regular file")
        }
        return Int(status.st_size)
    }

    /// A short human-readable reason for a Foundation I/O error.
    static func reason(_ error: Error) -> String {
        error.localizedDescription
    }
}
