import CQuantKernels
import DLLMCompute
import Foundation

/// The ggml block formats a ``QuantizedMatrix`` may hold (values are ggml's type ids).
public enum QuantizedType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case q4_0 = 2, q4_1 = 3, q8_0 = 8

    /// Bytes of one block of 32 elements (ggml `type_size`).
    public var blockBytes: Int { Int(cqk_block_bytes(rawValue)) }
    public var description: String {
        switch self {
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q8_0: return "Q8_0"
        }
    }
}

/// Elements per quantized block (ggml `QK4_0` = `QK4_1` = `QK8_0` = 32).
public let quantizedBlockSize = 32

public enum QuantizedMatrixError: Error, CustomStringConvertible {
    case columnsNotBlockMultiple(name: String, cols: Int)
    case sizeMismatch(name: String, expectedBytes: Int, actualBytes: Int)

    public var description: String {
        switch self {
        case let .columnsNotBlockMultiple(name, cols):
            return "quantized matrix \(name): \(cols) columns is not a multiple of the block size \(quantizedBlockSize)"
        case let .sizeMismatch(name, expected, actual):
            return "quantized matrix \(name): needs \(expected) bytes, has \(actual)"
        }
    }
}

/// Bytes the kernels own (a quantized matrix built in memory, or one copied out of a file).
// @unchecked Sendable: `pointer` and `count` never change; the bytes are written only while the
// matrix is built, before it is shared, and are read-only afterwards.
public final class QuantizedStorage: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let count: Int
    /// The huge-page mapping behind `pointer`, or nil for an ordinary 64-byte-aligned allocation.
    private let huge: HugePageMemory?

    /// `hugePages`: on Linux, a buffer of at least 2 MiB is aligned to 2 MiB and advised for transparent
    /// huge pages (``HugePageMemory``), so streaming it through the kernels takes a TLB entry per
    /// 2 MiB instead of per 4 KiB page (and the hardware prefetchers, which stop at page boundaries,
    /// run on). Elsewhere, or when the system refuses, an ordinary buffer.
    public init(count: Int, hugePages: Bool = false) {
        self.count = count
        if hugePages, let memory = HugePageMemory.mapped(byteCount: count) {
            huge = memory
            pointer = memory.pointer
            return
        }
        huge = nil
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
    }

    deinit {
        if let huge { huge.release() } else { pointer.deallocate() }
    }
}

/// A weight matrix in a ggml block format: `rows` output features × `cols` input features,
/// row-major, each row `cols / 32` blocks (what a GGUF tensor of shape [cols, rows] holds).
/// `owner` keeps the bytes alive (a ``QuantizedStorage``, or the mapped GGUF file).
// @unchecked Sendable: `data` points at read-only bytes that `owner` keeps alive; no field changes.
public struct QuantizedMatrix: @unchecked Sendable {
    public let type: QuantizedType
    /// Output features (the product's columns).
    public let rows: Int
    /// Input features; a multiple of 32.
    public let cols: Int
    /// (rows, cols / 32) blocks.
    public let data: UnsafeRawPointer
    public let owner: AnyObject?

    /// Bytes of one row of blocks.
    public var rowBytes: Int { cols / quantizedBlockSize * type.blockBytes }
    public var byteCount: Int { rows * rowBytes }

    /// A matrix over `byteCount` bytes at `data` (checked against the shape).
    public init(type: QuantizedType, rows: Int, cols: Int, data: UnsafeRawPointer, byteCount: Int, owner: AnyObject?,
                name: String = "?") throws {
        guard cols > 0, cols % quantizedBlockSize == 0 else { throw QuantizedMatrixError.columnsNotBlockMultiple(name: name, cols: cols) }
        let expected = rows * (cols / quantizedBlockSize) * type.blockBytes
        guard byteCount == expected else { throw QuantizedMatrixError.sizeMismatch(name: name, expectedBytes: expected, actualBytes: byteCount) }
        self.type = type
        self.rows = rows
        self.cols = cols
        self.data = data
        self.owner = owner
    }

    /// `values` (rows, cols) quantised into a new matrix of `type` (the rounding rules of ggml's
    /// `quantize_row_*_ref`); for tests and synthetic models.
    public static func quantizing(_ values: UnsafePointer<Float>, rows: Int, cols: Int, as type: QuantizedType) throws -> QuantizedMatrix {
        guard cols > 0, cols % quantizedBlockSize == 0 else { throw QuantizedMatrixError.columnsNotBlockMultiple(name: "\(type)", cols: cols) }
        let rowBytes = cols / quantizedBlockSize * type.blockBytes
        let storage = QuantizedStorage(count: rows * rowBytes)
        cqk_quantize_rows(type.rawValue, values, cols, storage.pointer, Int32(rows), Int32(cols))
        return try QuantizedMatrix(type: type, rows: rows, cols: cols, data: storage.pointer, byteCount: storage.count, owner: storage)
    }

    /// Pointer to row `r`'s blocks.
    public func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }

    /// Rows `range` as floats into `out` ((range.count, cols), row-major).
    public func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "QuantizedMatrix: rows \(range) outside 0..<\(rows)")
        for (i, r) in range.enumerated() {
            _ = cqk_dequantize_row(type.rawValue, row(r), out + i * cols, Int32(cols))
        }
    }

    /// The whole matrix as floats, (rows, cols), split across threads.
    public func dequantize(into out: UnsafeMutablePointer<Float>) {
        parallelChunks(rows, minimumPerThread: 64) { range in
            dequantizeRows(range, into: out + range.lowerBound * cols)
        }
    }

    /// A copy whose row `i` is this matrix's row `order[i]` (whole block rows: exact).
    public func permutingRows(_ order: [Int]) -> QuantizedMatrix {
        precondition(order.count == rows && order.allSatisfy { $0 >= 0 && $0 < rows }, "QuantizedMatrix: bad row order")
        let storage = QuantizedStorage(count: byteCount)
        for (i, r) in order.enumerated() { (storage.pointer + i * rowBytes).copyMemory(from: row(r), byteCount: rowBytes) }
        return try! QuantizedMatrix(type: type, rows: rows, cols: cols, data: storage.pointer, byteCount: byteCount, owner: storage)
    }
}

/// The kernel path the quantized products run on.
public enum QuantizedKernels {
    /// The best path this CPU supports (`DLLM_QUANT_ISA` = scalar/avx2/avx512/avx512vnni overrides it).
    // nonisolated(unsafe): chosen once at start-up (tests and benchmarks may set it before running
    // products); a kernel reads it once per product, never while another thread sets it.
    nonisolated(unsafe) public static var isa: Int32 = {
        let best = cqk_best_isa()
        if let name = ProcessInfo.processInfo.environment["DLLM_QUANT_ISA"] {
            for i in Int32(0)...3 where String(cString: cqk_isa_name(i)) == name && cqk_isa_supported(i) != 0 { return i }
        }
        return best
    }()

    /// The chosen path's name, e.g. "avx512vnni".
    public static var name: String { String(cString: cqk_isa_name(isa)) }
}
