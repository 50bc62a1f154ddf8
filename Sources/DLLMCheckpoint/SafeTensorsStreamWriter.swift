import Foundation

/// Writes a safetensors file whose tensor data arrive one tensor after another, in file
/// order, instead of being held in memory first: the header needs only names, dtypes and
/// shapes, so it is written up front, and each tensor's values are then appended in
/// pieces of any size. This is how a sharded training run saves a whole model without
/// any process holding a full copy of it (the values of one tensor may come from
/// several ranks, a piece at a time).
///
/// The bytes are exactly those ``SafeTensorsWriter`` produces for the same tensors,
/// values and metadata (both take their order and header from `SafeTensorsWriter.layout`).
public struct SafeTensorsStreamWriter: Sendable {
    /// A tensor's description: its values arrive later, through a ``TensorValueSink``.
    public struct Tensor: Sendable {
        public let name: String
        public let dtype: SafeTensorsDType
        public let shape: [Int]

        public init(name: String, dtype: SafeTensorsDType, shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
    }

    public let tensors: [Tensor]
    /// Indices into `tensors`, in the order their data lie in the file (the order in
    /// which `write` asks for them).
    public let fileOrder: [Int]
    let elementCounts: [Int]
    let header: [UInt8]

    /// Validates the tensors (names unique and not `__metadata__`, floating-point dtypes,
    /// shapes non-negative and not overflowing) and lays out the header.
    public init(tensors: [Tensor], metadata: [String: String] = [:]) throws {
        var taken = Set<String>()
        var described: [(name: String, dtype: SafeTensorsDType, shape: [Int], byteCount: Int)] = []
        var counts: [Int] = []
        for tensor in tensors {
            guard tensor.dtype.isFloatingPoint else {
                throw SafeTensorsError.unsupportedConversion(file: SafeTensorsWriter.origin, tensor: tensor.name, dtype: tensor.dtype, target: "Float")
            }
            let sizes = try SafeTensorsWriter.validate(tensor.name, dtype: tensor.dtype, shape: tensor.shape, taken: taken)
            taken.insert(tensor.name)
            described.append((tensor.name, tensor.dtype, tensor.shape, sizes.bytes))
            counts.append(sizes.elements)
        }
        self.tensors = tensors
        elementCounts = counts
        (header, fileOrder) = SafeTensorsWriter.layout(described, metadata: metadata)
    }

    /// Writes the file at `url` atomically (temporary file, fsync, rename, fsync of the
    /// directory): the header, then for each tensor in ``fileOrder`` whatever `values`
    /// appends to the sink it is given, which must be exactly the tensor's element count.
    /// On any error the target is left as it was and no temporary file remains.
    public func write(to url: URL, values: (_ tensor: Int, _ sink: inout TensorValueSink) throws -> Void) throws {
        try AtomicFile.write(to: url) { file in
            try header.withUnsafeBytes { try file.write($0) }
            for index in fileOrder {
                let tensor = tensors[index]
                var sink = TensorValueSink(file: file, path: url.path, tensor: tensor.name, dtype: tensor.dtype, expected: elementCounts[index])
                try values(index, &sink)
                guard sink.written == sink.expected else {
                    throw SafeTensorsError.countMismatch(file: url.path, tensor: tensor.name, expected: sink.expected, actual: sink.written)
                }
            }
        }
    }
}

/// Where one tensor's values go while ``SafeTensorsStreamWriter`` writes it: converted to
/// the tensor's dtype (rounding to nearest even, as ``SafeTensorsWriter`` does) and
/// appended to the file.
public struct TensorValueSink {
    let file: AtomicFile.Sink
    let path: String
    let tensor: String
    let dtype: SafeTensorsDType
    let expected: Int
    /// Elements appended so far.
    public private(set) var written = 0

    /// Elements converted per `write(2)` for dtypes other than F32 (a 256 KiB scratch at most).
    static let conversionPiece = 1 << 15

    /// Appends `values` (the tensor's next elements).
    public mutating func append(_ values: UnsafeBufferPointer<Float>) throws {
        guard let base = values.baseAddress, !values.isEmpty else { return }
        try reserve(values.count)
        if dtype == .F32 {
            try file.write(UnsafeRawBufferPointer(start: base, count: values.count * 4))
            return
        }
        var scratch = [UInt8](repeating: 0, count: min(values.count, Self.conversionPiece) * dtype.byteSize)
        var start = 0
        while start < values.count {
            let n = min(Self.conversionPiece, values.count - start)
            try scratch.withUnsafeMutableBytes { bytes in
                SafeTensorsWriter.encode(UnsafeBufferPointer(rebasing: values[start..<(start + n)]), as: dtype, into: bytes.baseAddress!)
                try file.write(UnsafeRawBufferPointer(rebasing: bytes[0..<(n * dtype.byteSize)]))
            }
            start += n
        }
    }

    /// Appends `count` zeros (padding a shard keeps so every rank's chunks line up).
    public mutating func appendZeros(_ count: Int) throws {
        guard count > 0 else { return }
        let zeros = [Float](repeating: 0, count: min(count, Self.conversionPiece))
        var left = count
        while left > 0 {
            let n = min(left, zeros.count)
            try zeros.withUnsafeBufferPointer { try append(UnsafeBufferPointer(rebasing: $0[0..<n])) }
            left -= n
        }
    }

    private mutating func reserve(_ count: Int) throws {
        guard count <= expected - written else {
            throw SafeTensorsError.countMismatch(file: path, tensor: tensor, expected: expected, actual: written + count)
        }
        written += count
    }
}
