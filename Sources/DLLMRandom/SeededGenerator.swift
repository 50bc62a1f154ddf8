import RealModule

/// A small, fast, reproducible generator (SplitMix64, Steele et al. 2014).
///
/// Seeded explicitly everywhere randomness enters (initialisation, masking noise,
/// sampling), so runs repeat bit for bit; `init(seed:stream:)` derives independent
/// streams from a key such as (seed, step, sample index).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator keyed by several values, e.g. `(seed, step, sampleIndex)`.
    public init(seed: UInt64, stream: UInt64...) {
        var s = SeededGenerator(seed: seed)
        var mixed = s.next()
        for key in stream {
            var k = SeededGenerator(seed: mixed ^ key &* 0x9E37_79B9_7F4A_7C15)
            mixed = k.next()
        }
        state = mixed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal by Box–Muller.
    public mutating func nextGaussian() -> Double {
        let u1 = 1 - nextUniform()  // (0, 1]
        let u2 = nextUniform()
        return Double.sqrt(-2 * Double.log(u1)) * Double.cos(2 * Double.pi * u2)
    }
}
