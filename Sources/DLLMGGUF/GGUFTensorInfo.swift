/// One tensor's entry in a GGUF file's tensor-info table, validated against the file.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. `blk.0.attn_q.weight`.
    public let name: String
    /// Dimensions in ggml order: `dims[0]` (`ne[0]`) varies fastest, i.e. it is the row
    /// length. The PyTorch shape is `dims.reversed()`.
    public let dims: [Int]
    public let type: GGMLType
    /// Offset of the tensor's bytes from the start of the data section (as stored).
    public let dataOffset: Int
    /// Offset of the tensor's bytes from the start of the file.
    public let fileOffset: Int
    /// Bytes the tensor occupies: (elements / block size) × bytes per block.
    public let byteCount: Int
    /// Offset of this tensor's info record in the file (for error messages).
    public let infoOffset: Int

    /// Number of elements (product of `dims`).
    public var elementCount: Int { dims.reduce(1, *) }
    /// Elements per row: `ne[0]`.
    public var rowLength: Int { dims[0] }
    /// Rows: the product of `ne[1...]`.
    public var rowCount: Int { dims.dropFirst().reduce(1, *) }
    /// Bytes per row (a whole number of blocks).
    public var bytesPerRow: Int { rowLength / type.blockSize * type.bytesPerBlock }
    /// The shape in PyTorch / safetensors order (slowest dimension first).
    public var shape: [Int] { dims.reversed() }
}
