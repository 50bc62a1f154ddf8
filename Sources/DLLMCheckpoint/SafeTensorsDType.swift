#if _endian(big)
#error("DLLMCheckpoint reads and writes little-endian tensor data in place and supports little-endian hosts only")
#endif

/// Element types of the safetensors format supported by this library.
///
/// The raw value is the string used in the file header.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL

    /// Size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .F64, .I64: return 8
        case .F32, .I32: return 4
        case .F16, .BF16, .I16: return 2
        case .I8, .U8, .BOOL: return 1
        }
    }

    /// Whether the elements are floating-point numbers.
    public var isFloatingPoint: Bool {
        switch self {
        case .F64, .F32, .F16, .BF16: return true
        case .I64, .I32, .I16, .I8, .U8, .BOOL: return false
        }
    }

    /// Position in the Rust `Dtype` enum of the reference implementation; the Python package
    /// lays tensors out by descending rank, then by name.
    var layoutRank: Int {
        switch self {
        case .BOOL: return 0
        case .U8: return 1
        case .I8: return 2
        case .I16: return 3
        case .F16: return 4
        case .BF16: return 5
        case .I32: return 6
        case .F32: return 7
        case .F64: return 8
        case .I64: return 9
        }
    }
}

/// Where and what one tensor is inside a safetensors file.
public struct SafeTensorInfo: Sendable, Equatable {
    /// Tensor name (the key in the header).
    public let name: String
    /// Element type.
    public let dtype: SafeTensorsDType
    /// Dimensions; `[]` is a scalar (one element).
    public let shape: [Int]
    /// The tensor's bytes as absolute offsets **in the file** (header included), i.e. the
    /// header's `data_offsets` shifted by `8 + headerLength`.
    public let byteRange: Range<Int>

    /// Number of elements (product of `shape`; 1 for a scalar). Validated not to overflow.
    public var elementCount: Int { shape.reduce(1, *) }

    /// Number of bytes (`elementCount * dtype.byteSize`).
    public var byteCount: Int { byteRange.count }

    public init(name: String, dtype: SafeTensorsDType, shape: [Int], byteRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
    }
}

/// Element count of `shape` and byte count for `dtype`, or `nil` on overflow.
/// Negative dimensions must be rejected by the caller first.
func checkedSizes(shape: [Int], dtype: SafeTensorsDType) -> (elements: Int, bytes: Int)? {
    var count = 1
    for dim in shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: dim)
        if overflow { return nil }
        count = product
    }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
    return overflow ? nil : (count, bytes)
}
