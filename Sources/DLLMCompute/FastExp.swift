import RealModule
/// `eˣ` for the hot loops (softmax, cross-entropy, SiLU), written so LLVM vectorises it.
///
/// Float: Cody–Waite range reduction `x = n·ln2 + r`, |r| ≤ ln2/2, a degree-6
/// polynomial for `eʳ` (Cephes `expf` coefficients, ≈1 ulp), and `2ⁿ` built from
/// the exponent bits; inputs are clamped to the finite range, and anything below
/// −87.3 (including −∞, i.e. a masked score) gives exactly 0, like `expf` rounding does.
/// Double: the library `exp` (Double runs only the Float64 checking path).
public protocol FastExponential {
    static func fastExp(_ x: Self) -> Self
}

extension Float: FastExponential {
    @inlinable @inline(__always)
    public static func fastExp(_ x: Float) -> Float {
        let underflow = x < -87.33654
        let xc = Swift.min(Swift.max(x, -87.33654), 88.72283)
        let n = (xc * 1.442_695_04).rounded(.toNearestOrEven)
        var r = xc - n * 0.693_359_375        // ln2 high part (exact in 8 bits)
        r = r - n * -2.121_944_4e-4           // ln2 low part
        let r2 = r * r
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let er = p * r2 + r + 1
        // 2ⁿ via the exponent field; n ∈ [−126, 128] after clamping, split to stay normal.
        // n is read out of n + 1.5·2²³, whose low mantissa bits hold it in two's complement,
        // and the integer steps wrap: `Int32(n)` and checked `+`/`<<` carry range checks (kept in
        // -O builds) that stop LLVM from vectorising the loops that call this.
        let ni = Int32(bitPattern: (n + 12_582_912).bitPattern) &- 0x4B40_0000
        let half = ni &>> 1
        let s1 = Float(bitPattern: UInt32(bitPattern: (half &+ 127) &<< 23))
        let s2 = Float(bitPattern: UInt32(bitPattern: (ni &- half &+ 127) &<< 23))
        return underflow ? 0 : er * s1 * s2
    }
}

extension Double: FastExponential {
    @inlinable @inline(__always)
    public static func fastExp(_ x: Double) -> Double { Double.exp(x) }
}
