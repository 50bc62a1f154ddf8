import CQuantKernels
import DLLMCompute
import DLLMGGUF

/// How a frozen training base stores one weight matrix.
public enum FrozenWeightFormat: Sendable, Equatable, CustomStringConvertible {
    /// A ggml block type as a GGUF file holds it (Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K, F16, …);
    /// rows are dequantised by DLLMGGUF's ``GGMLDequantize`` (bit-exact with gguf-py).
    case ggml(GGMLType)
    /// bitsandbytes' NF4 (QLoRA, Dettmers et al. 2023): blocks of 64 along the flattened matrix,
    /// a float32 absmax per block and 4-bit indices into ``nf4Code``. Stored here block by block:
    /// the absmax (4 bytes, little-endian f32), then the 32 packed bytes in bitsandbytes' order
    /// (element 2i in the high nibble of byte i, element 2i + 1 in the low one).
    case nf4

    /// Elements per block along a row.
    public var blockSize: Int {
        switch self {
        case .ggml(let type): return type.blockSize
        case .nf4: return nf4BlockSize
        }
    }

    /// Bytes of one block.
    public var bytesPerBlock: Int {
        switch self {
        case .ggml(let type): return type.bytesPerBlock
        case .nf4: return 4 + nf4BlockSize / 2
        }
    }

    public var description: String {
        switch self {
        case .ggml(let type): return type.name
        case .nf4: return "NF4"
        }
    }
}

public enum FrozenQuantizedMatrixError: Error, CustomStringConvertible {
    case unsupportedType(name: String, type: String)
    case columnsNotBlockMultiple(name: String, cols: Int, format: String, blockSize: Int)
    case sizeMismatch(name: String, expectedBytes: Int, actualBytes: Int)
    case notAMatrix(name: String, dims: [Int])

    public var description: String {
        switch self {
        case let .notAMatrix(name, dims):
            return "frozen base matrix \(name): GGUF tensor of dims \(dims) is not a 2-D matrix"
        case let .unsupportedType(name, type):
            return "frozen base matrix \(name): type \(type) has no dequantiser; a quantised base needs Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, F16, BF16 or F32"
        case let .columnsNotBlockMultiple(name, cols, format, blockSize):
            return "frozen base matrix \(name): \(cols) columns is not a multiple of the \(format) block size \(blockSize)"
        case let .sizeMismatch(name, expected, actual):
            return "frozen base matrix \(name): needs \(expected) bytes, has \(actual)"
        }
    }
}

/// A frozen weight matrix kept in a quantised format for training (QLoRA-style bases): `rows`
/// output features × `cols` input features, row-major, each row `cols / blockSize` blocks. It is
/// never turned into a whole float copy: ``frozenLinearForward`` and ``frozenLinearBackwardInput``
/// dequantise a few rows at a time. `owner` keeps the bytes alive (a ``QuantizedStorage`` or a
/// mapped GGUF file).
// @unchecked Sendable: `data` points at read-only bytes that `owner` keeps alive; no field changes.
public struct FrozenQuantizedMatrix: @unchecked Sendable {
    public let format: FrozenWeightFormat
    public let rows: Int
    public let cols: Int
    public let data: UnsafeRawPointer
    public let owner: AnyObject?

    public var rowBytes: Int { cols / format.blockSize * format.bytesPerBlock }
    public var byteCount: Int { rows * rowBytes }

    /// A matrix over `byteCount` bytes at `data`, checked against the shape and format.
    public init(format: FrozenWeightFormat, rows: Int, cols: Int, data: UnsafeRawPointer, byteCount: Int, owner: AnyObject?,
                name: String = "?") throws {
        if case .ggml(let type) = format, !type.canDequantize {
            throw FrozenQuantizedMatrixError.unsupportedType(name: name, type: type.name)
        }
        guard cols > 0, cols % format.blockSize == 0 else {
            throw FrozenQuantizedMatrixError.columnsNotBlockMultiple(name: name, cols: cols, format: format.description, blockSize: format.blockSize)
        }
        let expected = rows * (cols / format.blockSize) * format.bytesPerBlock
        guard byteCount == expected else { throw FrozenQuantizedMatrixError.sizeMismatch(name: name, expectedBytes: expected, actualBytes: byteCount) }
        self.format = format
        self.rows = rows
        self.cols = cols
        self.data = data
        self.owner = owner
    }

    /// The same bytes as an inference ``QuantizedMatrix`` holds them (no copy).
    public init(_ matrix: QuantizedMatrix) {
        let type: GGMLType
        switch matrix.type {
        case .q4_0: type = .q4_0
        case .q4_1: type = .q4_1
        case .q8_0: type = .q8_0
        }
        self.format = .ggml(type)
        self.rows = matrix.rows
        self.cols = matrix.cols
        self.data = matrix.data
        self.owner = matrix.owner
    }

    /// GGUF tensor `tensor` of `file` exactly as the file stores it (a quantised GGUF is a base as
    /// it is: no copy, no re-quantisation); the matrix keeps the file's mapping alive. GGUF dims
    /// [cols, rows] are the (rows, cols) row-major matrix.
    public init(tensor: GGUFTensorInfo, in file: GGUFFile) throws {
        guard tensor.dims.count == 2 else { throw FrozenQuantizedMatrixError.notAMatrix(name: tensor.name, dims: tensor.dims) }
        let bytes = file.data(of: tensor)
        guard let base = bytes.baseAddress else {
            throw FrozenQuantizedMatrixError.sizeMismatch(name: tensor.name, expectedBytes: tensor.byteCount, actualBytes: 0)
        }
        try self.init(format: .ggml(tensor.type), rows: tensor.dims[1], cols: tensor.dims[0], data: base, byteCount: bytes.count,
                      owner: file, name: tensor.name)
    }

    /// Pointer to row `r`'s blocks.
    public func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }

    /// Rows `range` as floats into `out` ((range.count, cols), row-major).
    public func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "FrozenQuantizedMatrix: rows \(range) outside 0..<\(rows)")
        switch format {
        case .ggml(let type):
            // Whole rows are consecutive blocks: one call converts the range.
            GGMLDequantize.rows(type, from: row(range.lowerBound), count: range.count * cols, into: out)
        case .nf4:
            dequantizeNF4(row(range.lowerBound), blocks: range.count * cols / nf4BlockSize, into: out)
        }
    }
}

extension FrozenQuantizedMatrix {
    /// The formats a float base can be quantised into when it is loaded (`base_quantization`).
    public enum QuantizeTarget: String, Sendable, CaseIterable {
        case q8_0, q4_k, nf4
    }

    /// `values` (rows, cols) quantised into `target`:
    /// - `q8_0`: ggml's `quantize_row_q8_0_ref` (= gguf-py `quants.Q8_0.quantize_blocks`), via CQuantKernels;
    /// - `q4_k`: ggml's `quantize_row_q4_K_ref`; a matrix whose width is not a multiple of 256 is stored
    ///   as Q4_1 instead (`quantize_row_q4_1_ref` = gguf-py `quants.Q4_1.quantize_blocks`), as llama.cpp
    ///   falls back from k-quants for such tensors;
    /// - `nf4`: bitsandbytes `quantize_4bit(blocksize=64, quant_type="nf4")`.
    public static func quantizing(_ values: UnsafePointer<Float>, rows: Int, cols: Int, as target: QuantizeTarget,
                                  name: String = "?") throws -> FrozenQuantizedMatrix {
        let format: FrozenWeightFormat
        switch target {
        case .q8_0: format = .ggml(.q8_0)
        case .q4_k: format = cols % GGMLType.q4_K.blockSize == 0 ? .ggml(.q4_K) : .ggml(.q4_1)
        case .nf4: format = .nf4
        }
        guard cols > 0, cols % format.blockSize == 0 else {
            throw FrozenQuantizedMatrixError.columnsNotBlockMultiple(name: name, cols: cols, format: format.description, blockSize: format.blockSize)
        }
        let rowBytes = cols / format.blockSize * format.bytesPerBlock
        let storage = QuantizedStorage(count: rows * rowBytes)
        parallelChunks(rows, minimumPerThread: 16) { range in
            for r in range {
                let src = values + r * cols, dst = storage.pointer + r * rowBytes
                switch format {
                case .ggml(.q8_0): cqk_quantize_row_q8_0(src, dst, Int32(cols))
                case .ggml(.q4_1): cqk_quantize_row_q4_1(src, dst, Int32(cols))
                case .ggml(.q4_K): quantizeRowQ4K(src, dst, count: cols)
                case .nf4: quantizeNF4(src, dst, blocks: cols / nf4BlockSize)
                default: preconditionFailure("unreachable: \(format) is not a quantize target")
                }
            }
        }
        return try FrozenQuantizedMatrix(format: format, rows: rows, cols: cols, data: storage.pointer, byteCount: storage.count,
                                         owner: storage, name: name)
    }
}
