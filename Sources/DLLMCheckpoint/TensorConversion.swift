#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Conversions from raw little-endian tensor bytes (possibly unaligned) to host values.
/// Every loop reads through raw pointers; nothing allocates.
enum TensorConversion {
    /// Loads element `i` of a raw buffer of `T` (unaligned allowed).
    @inline(__always)
    private static func load<T>(_ source: UnsafeRawPointer, _ i: Int, as type: T.Type) -> T {
        source.loadUnaligned(fromByteOffset: i &* MemoryLayout<T>.size, as: T.self)
    }

    /// Converts `count` elements of `dtype` at `source` to `Float` (F64 and large integers round to nearest).
    static func toFloat(_ source: UnsafeRawPointer, dtype: SafeTensorsDType, count: Int, into destination: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .F32: memcpy(destination, source, count &* 4)
        case .F16: HalfPrecision.convertF16ToFloat(source, destination, count: count)
        case .BF16: HalfPrecision.convertBF16ToFloat(source, destination, count: count)
        case .F64: for i in 0..<count { destination[i] = Float(load(source, i, as: Double.self)) }
        case .I64: for i in 0..<count { destination[i] = Float(load(source, i, as: Int64.self)) }
        case .I32: for i in 0..<count { destination[i] = Float(load(source, i, as: Int32.self)) }
        case .I16: for i in 0..<count { destination[i] = Float(load(source, i, as: Int16.self)) }
        case .I8: for i in 0..<count { destination[i] = Float(load(source, i, as: Int8.self)) }
        case .U8: for i in 0..<count { destination[i] = Float(load(source, i, as: UInt8.self)) }
        case .BOOL: for i in 0..<count { destination[i] = load(source, i, as: UInt8.self) == 0 ? 0 : 1 }
        }
    }

    /// Converts `count` elements of `dtype` at `source` to `Double` (exact except I64 beyond 2^53).
    static func toDouble(_ source: UnsafeRawPointer, dtype: SafeTensorsDType, count: Int, into destination: UnsafeMutablePointer<Double>) {
        switch dtype {
        case .F64: memcpy(destination, source, count &* 8)
        case .F32: for i in 0..<count { destination[i] = Double(load(source, i, as: Float.self)) }
        case .F16:
            for i in 0..<count { destination[i] = Double(HalfPrecision.float(fromF16: load(source, i, as: UInt16.self))) }
        case .BF16:
            for i in 0..<count { destination[i] = Double(HalfPrecision.float(fromBF16: load(source, i, as: UInt16.self))) }
        case .I64: for i in 0..<count { destination[i] = Double(load(source, i, as: Int64.self)) }
        case .I32: for i in 0..<count { destination[i] = Double(load(source, i, as: Int32.self)) }
        case .I16: for i in 0..<count { destination[i] = Double(load(source, i, as: Int16.self)) }
        case .I8: for i in 0..<count { destination[i] = Double(load(source, i, as: Int8.self)) }
        case .U8: for i in 0..<count { destination[i] = Double(load(source, i, as: UInt8.self)) }
        case .BOOL: for i in 0..<count { destination[i] = load(source, i, as: UInt8.self) == 0 ? 0 : 1 }
        }
    }

    /// Converts to any other floating type, element by element (no intermediate storage).
    /// Half types go through `Float` and F64 through `Double`, each exact, so there is one rounding.
    static func toGeneric<S: BinaryFloatingPoint>(_ source: UnsafeRawPointer, dtype: SafeTensorsDType, count: Int, into destination: UnsafeMutablePointer<S>) {
        switch dtype {
        case .F64: for i in 0..<count { destination[i] = S(load(source, i, as: Double.self)) }
        case .F32: for i in 0..<count { destination[i] = S(load(source, i, as: Float.self)) }
        case .F16: for i in 0..<count { destination[i] = S(HalfPrecision.float(fromF16: load(source, i, as: UInt16.self))) }
        case .BF16: for i in 0..<count { destination[i] = S(HalfPrecision.float(fromBF16: load(source, i, as: UInt16.self))) }
        case .I64: for i in 0..<count { destination[i] = S(load(source, i, as: Int64.self)) }
        case .I32: for i in 0..<count { destination[i] = S(load(source, i, as: Int32.self)) }
        case .I16: for i in 0..<count { destination[i] = S(load(source, i, as: Int16.self)) }
        case .I8: for i in 0..<count { destination[i] = S(load(source, i, as: Int8.self)) }
        case .U8: for i in 0..<count { destination[i] = S(load(source, i, as: UInt8.self)) }
        case .BOOL: for i in 0..<count { destination[i] = load(source, i, as: UInt8.self) == 0 ? 0 : 1 }
        }
    }

    /// Dispatches to the specialised loops for `Float` and `Double`, else the generic one.
    static func convert<S: BinaryFloatingPoint>(_ source: UnsafeRawPointer, dtype: SafeTensorsDType, into destination: UnsafeMutableBufferPointer<S>) {
        guard let base = destination.baseAddress, destination.count > 0 else { return }
        if S.self == Float.self {
            base.withMemoryRebound(to: Float.self, capacity: destination.count) {
                toFloat(source, dtype: dtype, count: destination.count, into: $0)
            }
        } else if S.self == Double.self {
            base.withMemoryRebound(to: Double.self, capacity: destination.count) {
                toDouble(source, dtype: dtype, count: destination.count, into: $0)
            }
        } else {
            toGeneric(source, dtype: dtype, count: destination.count, into: base)
        }
    }

    /// Converts integer dtypes to `Int64`; returns false for floating dtypes.
    static func toInt64(_ source: UnsafeRawPointer, dtype: SafeTensorsDType, count: Int, into destination: UnsafeMutablePointer<Int64>) -> Bool {
        switch dtype {
        case .I64: memcpy(destination, source, count &* 8)
        case .I32: for i in 0..<count { destination[i] = Int64(load(source, i, as: Int32.self)) }
        case .I16: for i in 0..<count { destination[i] = Int64(load(source, i, as: Int16.self)) }
        case .I8: for i in 0..<count { destination[i] = Int64(load(source, i, as: Int8.self)) }
        case .U8: for i in 0..<count { destination[i] = Int64(load(source, i, as: UInt8.self)) }
        case .BOOL: for i in 0..<count { destination[i] = load(source, i, as: UInt8.self) == 0 ? 0 : 1 }
        case .F64, .F32, .F16, .BF16: return false
        }
        return true
    }
}
