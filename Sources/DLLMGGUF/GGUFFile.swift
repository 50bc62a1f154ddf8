/// A GGUF file (llama.cpp's model format, ggml `docs/gguf.md`), memory-mapped and
/// validated on open.
///
/// Layout: magic `GGUF`, UInt32 version (2 or 3), UInt64 tensor count, UInt64 metadata
/// count, the metadata key/value pairs, the tensor infos (name, UInt32 n_dims, n_dims ×
/// UInt64 `ne`, UInt32 ggml type, UInt64 offset into the data section), padding to
/// `general.alignment` (default 32), then the data section. Every length, count and
/// offset is checked against the file size before anything is allocated for it, so a
/// truncated or lying file throws a ``GGUFError`` naming the key or tensor and offset.
public final class GGUFFile {
    /// ggml's `GGML_MAX_DIMS`.
    public static let maximumDimensions = 4
    /// Arrays of arrays deeper than this are rejected (the format puts no limit; this
    /// guards the recursion).
    public static let maximumArrayNesting = 8
    /// The alignment when `general.alignment` is absent (`GGUF_DEFAULT_ALIGNMENT`).
    public static let defaultAlignment = 32

    public let path: String
    public let version: UInt32
    public let metadata: GGUFMetadata
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment`, or 32.
    public let alignment: Int
    /// Offset of the data section from the start of the file.
    public let dataSectionOffset: Int
    /// File size in bytes.
    public var fileSize: Int { mapping.size }

    private let mapping: MappedFile
    private let tensorIndex: [String: Int]

    public init(path: String) throws {
        let mapping = try MappedFile(path: path)
        self.mapping = mapping
        var reader = GGUFByteReader(file: path, bytes: mapping.bytes)

        // Header: magic, version, counts.
        try reader.require(4, "magic")
        let magic = Array(mapping.bytes[0 ..< 4])
        guard magic == Array("GGUF".utf8) else { throw GGUFError.badMagic(file: path, found: magic) }
        reader.seek(to: 4)
        let versionOffset = reader.offset
        version = try reader.u32("header version")
        guard version == 2 || version == 3 else {
            throw GGUFError.unsupportedVersion(file: path, version: version, offset: versionOffset)
        }
        let tensorCountOffset = reader.offset
        let tensorCount = try reader.u64("header tensor count")
        let entryCountOffset = reader.offset
        let entryCount = try reader.u64("header metadata count")
        // Smallest possible records: a key/value is 8 (key length) + 4 (type) + 1 byte;
        // a tensor info is 8 (name length) + 4 + 8 (one dim) + 4 + 8.
        guard entryCount <= UInt64(reader.remaining / 13) else {
            throw GGUFError.countTooLarge(file: path, what: "metadata entry count", count: entryCount,
                                          offset: entryCountOffset, available: reader.remaining)
        }
        guard tensorCount <= UInt64(reader.remaining / 32) else {
            throw GGUFError.countTooLarge(file: path, what: "tensor count", count: tensorCount,
                                          offset: tensorCountOffset, available: reader.remaining)
        }

        // Metadata.
        var metadata = GGUFMetadata()
        var alignment = Self.defaultAlignment
        for entry in 0 ..< Int(entryCount) {
            let keyOffset = reader.offset
            let key = try reader.string("key of metadata entry \(entry)")
            let valueOffset = reader.offset
            let value = try GGUFValueParser.value(of: key, in: &reader, depth: 0)
            guard metadata.append(key, value) else {
                throw GGUFError.duplicateKey(file: path, key: key, offset: keyOffset)
            }
            if key == "general.alignment" {
                guard case let .uint32(raw) = value, raw > 0, raw & (raw - 1) == 0 else {
                    throw GGUFError.invalidAlignment(file: path, key: key, value: "\(value)", offset: valueOffset)
                }
                alignment = Int(raw)
            }
        }
        self.metadata = metadata
        self.alignment = alignment

        // Tensor infos (their data is checked once the data section's start is known).
        struct Pending { let name: String; let dims: [Int]; let type: GGMLType; let dataOffset: UInt64
                         let byteCount: Int; let infoOffset: Int; let offsetField: Int }
        var pending: [Pending] = []
        pending.reserveCapacity(Int(tensorCount))
        var index: [String: Int] = [:]
        for number in 0 ..< Int(tensorCount) {
            let infoOffset = reader.offset
            let name = try reader.string("name of tensor \(number)")
            guard index[name] == nil else { throw GGUFError.duplicateTensor(file: path, tensor: name, offset: infoOffset) }
            let dimsOffset = reader.offset
            let dimCount = try reader.u32("dimension count of tensor '\(name)'")
            guard dimCount >= 1, dimCount <= UInt32(Self.maximumDimensions) else {
                throw GGUFError.invalidDimensionCount(file: path, tensor: name, count: dimCount, offset: dimsOffset)
            }
            var rawDims: [UInt64] = []
            for axis in 0 ..< Int(dimCount) { rawDims.append(try reader.u64("ne[\(axis)] of tensor '\(name)'")) }
            let typeOffset = reader.offset
            let rawType = try reader.u32("type of tensor '\(name)'")
            let offsetField = reader.offset
            let dataOffset = try reader.u64("data offset of tensor '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw GGUFError.unknownTensorType(file: path, tensor: name, type: rawType, offset: typeOffset)
            }
            guard let elements = Self.checkedProduct(rawDims) else {
                throw GGUFError.invalidShape(file: path, tensor: name, dims: rawDims, offset: dimsOffset)
            }
            guard rawDims[0] % UInt64(type.blockSize) == 0 else {
                throw GGUFError.rowNotWholeBlocks(file: path, tensor: name, type: type, ne0: rawDims[0], offset: dimsOffset)
            }
            let (byteCount, overflow) = (elements / type.blockSize).multipliedReportingOverflow(by: type.bytesPerBlock)
            guard !overflow else { throw GGUFError.invalidShape(file: path, tensor: name, dims: rawDims, offset: dimsOffset) }
            index[name] = number
            pending.append(Pending(name: name, dims: rawDims.map { Int($0) }, type: type, dataOffset: dataOffset,
                                   byteCount: byteCount, infoOffset: infoOffset, offsetField: offsetField))
        }

        // Data section: after the infos, rounded up to the alignment.
        let infosEnd = reader.offset
        let dataStart = (infosEnd + alignment - 1) / alignment * alignment
        dataSectionOffset = dataStart
        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(pending.count)
        for tensor in pending {
            guard tensor.dataOffset % UInt64(alignment) == 0 else {
                throw GGUFError.misalignedTensor(file: path, tensor: tensor.name, dataOffset: tensor.dataOffset,
                                                 alignment: alignment, offset: tensor.offsetField)
            }
            let start = UInt64(dataStart).addingReportingOverflow(tensor.dataOffset)
            guard !start.overflow, start.partialValue <= UInt64(mapping.size),
                  UInt64(tensor.byteCount) <= UInt64(mapping.size) - start.partialValue else {
                throw GGUFError.tensorOutOfBounds(file: path, tensor: tensor.name,
                                                  start: start.overflow ? UInt64.max : start.partialValue,
                                                  byteCount: UInt64(tensor.byteCount), fileSize: mapping.size,
                                                  offset: tensor.infoOffset)
            }
            infos.append(GGUFTensorInfo(name: tensor.name, dims: tensor.dims, type: tensor.type,
                                        dataOffset: Int(tensor.dataOffset), fileOffset: Int(start.partialValue),
                                        byteCount: tensor.byteCount, infoOffset: tensor.infoOffset))
        }
        self.path = path
        self.tensors = infos
        self.tensorIndex = index
    }

    /// The product of the dimensions as an `Int`, or nil if a dimension exceeds
    /// `Int64.max` or the product overflows.
    private static func checkedProduct(_ dims: [UInt64]) -> Int? {
        var product = 1
        for dim in dims {
            guard dim <= UInt64(Int.max) else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: Int(dim))
            guard !overflow else { return nil }
            product = next
        }
        return product
    }

    /// The tensor of that name, or nil.
    public func tensor(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The tensor's raw bytes inside the mapping; valid while this object lives.
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        precondition(tensor.fileOffset + tensor.byteCount <= mapping.size, "tensor info from another file")
        guard tensor.byteCount > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: mapping.bytes[tensor.fileOffset ..< tensor.fileOffset + tensor.byteCount])
    }

    /// The tensor as `Float`s in ggml order (row-major over `dims.reversed()`),
    /// bit-exact with gguf-py `quants.dequantize`.
    public func dequantize(_ tensor: GGUFTensorInfo) throws -> [Float] {
        guard let own = self.tensor(named: tensor.name), own == tensor else {
            throw GGUFError.foreignTensor(file: path, tensor: tensor.name)
        }
        guard tensor.type.canDequantize else {
            throw GGUFError.unsupportedTensorType(file: path, tensor: tensor.name, type: tensor.type)
        }
        let source = data(of: tensor)
        return [Float](unsafeUninitializedCapacity: tensor.elementCount) { out, initialized in
            if let base = source.baseAddress, let destination = out.baseAddress {
                GGMLDequantize.rows(tensor.type, from: base, count: tensor.elementCount, into: destination)
            }
            initialized = tensor.elementCount
        }
    }
}
