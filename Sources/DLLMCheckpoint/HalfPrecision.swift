/// IEEE binary16 (F16) and bfloat16 (BF16) conversions by bit manipulation.
///
/// Widening is exact. Narrowing rounds to nearest, ties to even, overflows to ±infinity and
/// keeps subnormals; NaN becomes a quiet NaN with the sign kept and the payload dropped
/// (F16 `0x7E00`, BF16 `0x7FC0`, as PyTorch produces for the default NaN).
public enum HalfPrecision {
    // MARK: Scalars

    /// The `Float` value of F16 bits (exact).
    @inlinable @inline(__always)
    public static func float(fromF16 bits: UInt16) -> Float {
        // Move exponent+mantissa into float position and re-bias; Inf/NaN and zero/subnormal
        // need corrections. Subnormals are normalised by an exact float subtraction.
        let magnitude = UInt32(bits & 0x7FFF) << 13
        let exponent = magnitude & 0x0F80_0000
        var result = magnitude &+ ((127 - 15) << 23)
        if exponent == 0x0F80_0000 {
            result &+= (128 - 16) << 23  // Inf / NaN: exponent all ones
        } else if exponent == 0 {
            result &+= 1 << 23  // zero / subnormal: value = (2^-14 + m·2^-24) - 2^-14
            result = (Float(bitPattern: result) - Float(bitPattern: 113 << 23)).bitPattern
        }
        return Float(bitPattern: result | (UInt32(bits & 0x8000) << 16))
    }

    /// The `Float` value of BF16 bits (exact).
    @inlinable @inline(__always)
    public static func float(fromBF16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// F16 bits of `value`, rounded to nearest even.
    @inlinable @inline(__always)
    public static func f16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let magnitude = bits & 0x7FFF_FFFF
        let result: UInt16
        if magnitude >= 0x7F80_0000 {
            result = magnitude > 0x7F80_0000 ? 0x7E00 : 0x7C00  // NaN : Inf
        } else if magnitude >= 0x477F_F000 {
            result = 0x7C00  // ≥ 65520 rounds to infinity
        } else if magnitude < 0x3880_0000 {
            // Below 2^-14: the FPU's own round-to-nearest-even does the work when the value is
            // added to 0.5, whose ulp (2^-24) equals the F16 subnormal step.
            let shifted = Float(bitPattern: magnitude) + 0.5
            result = UInt16(truncatingIfNeeded: shifted.bitPattern &- 0x3F00_0000)
        } else {
            let odd = (magnitude >> 13) & 1
            let rebiased = magnitude &- ((127 - 15) << 23) &+ 0x0FFF &+ odd
            result = UInt16(truncatingIfNeeded: rebiased >> 13)
        }
        return result | sign
    }

    /// BF16 bits of `value`, rounded to nearest even.
    @inlinable @inline(__always)
    public static func bf16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: bits >> 16) & 0x8000 | 0x7FC0
        }
        let odd = (bits >> 16) & 1
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ odd) >> 16)
    }

    /// F16 bits of `value`, rounded once, directly from `Double` (no double rounding via `Float`).
    @inlinable
    public static func f16(from value: Double) -> UInt16 {
        narrow(value, exponentBits: 5, mantissaBits: 10)
    }

    /// BF16 bits of `value`, rounded once, directly from `Double` (no double rounding via `Float`).
    @inlinable
    public static func bf16(from value: Double) -> UInt16 {
        narrow(value, exponentBits: 8, mantissaBits: 7)
    }

    /// Rounds a `Double` to a binary format with the given field widths (at most 16 bits total).
    @usableFromInline
    static func narrow(_ value: Double, exponentBits: Int, mantissaBits: Int) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 48) & 0x8000
        let magnitude = bits & 0x7FFF_FFFF_FFFF_FFFF
        let maxExponent = UInt64(1) << exponentBits - 1
        let infinity = maxExponent << mantissaBits
        if magnitude >= 0x7FF0_0000_0000_0000 {
            let quietBit = UInt64(1) << (mantissaBits - 1)
            return sign | UInt16(magnitude > 0x7FF0_0000_0000_0000 ? infinity | quietBit : infinity)
        }
        let bias = Int(maxExponent >> 1)
        let exponent = Int(magnitude >> 52) - 1023
        if exponent > bias { return sign | UInt16(infinity) }  // ≥ 2^(bias+1): above the largest finite
        // Significand with the implicit bit (Double subnormals are far below every target range).
        let significand = magnitude & 0x000F_FFFF_FFFF_FFFF | (magnitude >> 52 == 0 ? 0 : 1 << 52)
        // Target value in units of the smallest subnormal 2^(1-bias-mantissaBits), before rounding:
        // significand · 2^(exponent - 52 + bias - 1 + mantissaBits). For normal targets the
        // biased exponent is put in front instead, giving the final encoding directly.
        let minimumNormalExponent = 1 - bias
        let shift: Int
        var encoded: UInt64
        if exponent >= minimumNormalExponent {
            shift = 52 - mantissaBits
            encoded = UInt64(exponent + bias) << mantissaBits | (significand >> shift) & (1 << mantissaBits - 1)
        } else {
            shift = 52 - mantissaBits + (minimumNormalExponent - exponent)
            if shift > 63 { return sign }  // below half the smallest subnormal: rounds to zero
            encoded = significand >> shift
        }
        let remainder = significand & (1 << shift - 1)
        let half = UInt64(1) << (shift - 1)
        if remainder > half || (remainder == half && encoded & 1 == 1) {
            encoded += 1  // a carry into the exponent field is correct, up to infinity
        }
        return sign | UInt16(truncatingIfNeeded: min(encoded, infinity))
    }

    // MARK: Bulk conversions (tight loops over raw pointers; sources may be unaligned)

    /// Widens `count` F16 values at `source` into `destination`.
    public static func convertF16ToFloat(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            destination[i] = float(fromF16: source.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
        }
    }

    /// Widens `count` BF16 values at `source` into `destination`.
    public static func convertBF16ToFloat(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            destination[i] = float(fromBF16: source.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
        }
    }

    /// Narrows `count` floats to F16 bits at `destination` (may be unaligned).
    public static func convertFloatToF16(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, count: Int) {
        for i in 0..<count {
            destination.storeBytes(of: f16(from: source[i]), toByteOffset: i &* 2, as: UInt16.self)
        }
    }

    /// Narrows `count` floats to BF16 bits at `destination` (may be unaligned).
    public static func convertFloatToBF16(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, count: Int) {
        for i in 0..<count {
            destination.storeBytes(of: bf16(from: source[i]), toByteOffset: i &* 2, as: UInt16.self)
        }
    }
}
