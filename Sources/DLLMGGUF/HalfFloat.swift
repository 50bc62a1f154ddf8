/// Exact conversions of 16-bit floats to `Float`, done on the bits so they behave the
/// same on every platform (numpy's `float16.astype(float32)` is exact as well).
enum HalfFloat {
    /// IEEE 754 binary16 → binary32 (exact: normals, subnormals, ±0, ±inf, NaN payloads).
    @inline(__always)
    static func float(fromHalf bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x03FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
        if exponent != 0 { return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13) }
        // Zero or subnormal: mantissa × 2⁻²⁴, exact in binary32.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }

    /// bfloat16 → binary32: the bits become the top half (gguf-py `quants.BF16.dequantize_blocks`).
    @inline(__always)
    static func float(fromBFloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}

extension UnsafeRawPointer {
    /// A little-endian UInt16 at `offset` (no alignment needed).
    @inline(__always)
    func littleEndianUInt16(at offset: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }

    /// A little-endian UInt32 at `offset` (no alignment needed).
    @inline(__always)
    func littleEndianUInt32(at offset: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }

    /// The binary16 at `offset` as a `Float`.
    @inline(__always)
    func half(at offset: Int) -> Float { HalfFloat.float(fromHalf: littleEndianUInt16(at: offset)) }

    /// The byte at `offset`.
    @inline(__always)
    func byte(at offset: Int) -> UInt8 { load(fromByteOffset: offset, as: UInt8.self) }
}
