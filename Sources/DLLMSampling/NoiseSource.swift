/// Where the sampler's uniform random numbers come from.
///
/// Every draw is addressed, not sequential: the Gumbel noise of vocabulary entry `v`
/// at canvas position `t` of sample `sample` in step `step`, or the random-remasking
/// score of that position. A cached and an uncached run, or a batch and the same
/// prompts one by one, therefore see the same noise for the same decision, and a
/// reference script can reproduce it without replaying a generator's history.
public protocol NoiseSource: Sendable {
    /// Fills `out` (V values) with uniforms in (0, 1) for the Gumbel noise of every
    /// vocabulary entry at (`step`, `sample`, `position`).
    func gumbelUniforms(step: Int, sample: UInt64, position: Int, into out: UnsafeMutableBufferPointer<Double>)
    /// A uniform in (0, 1): the `random` remasking score at (`step`, `sample`, `position`).
    func remaskUniform(step: Int, sample: UInt64, position: Int) -> Double
    /// A uniform in (0, 1) for autoregressive sampling of one token at (`step`, `sample`).
    func tokenUniform(step: Int, sample: UInt64) -> Double
}

/// Counter-based noise: each uniform is a hash of its address (SplitMix64's finaliser
/// applied to the chained key), so any draw can be recomputed in isolation.
///
/// `u = (mix(key(seed, stream, step, sample, position) ^ v) >> 12 + 0.5) · 2⁻⁵²`, with
/// `key = mix(mix(mix(mix(mix(seed) ^ stream) ^ step) ^ sample) ^ position)` and
/// `mix(x) = splitmix64_finalise(x + 0x9E3779B97F4A7C15)`. Streams: 1 Gumbel, 2 random
/// remasking, 3 autoregressive tokens. `Tests/Fixtures/generate_sampler_fixtures.py`
/// implements the same function with numpy's wrapping `uint64` arithmetic.
public struct CounterNoise: NoiseSource {
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The uniform in (0, 1) a 64-bit hash stands for: its top 52 bits, centred.
    @inline(__always)
    public static func uniform(_ h: UInt64) -> Double { (Double(h >> 12) + 0.5) * 0x1p-52 }

    public func key(stream: UInt64, step: Int, sample: UInt64, position: Int) -> UInt64 {
        var k = Self.mix(seed)
        k = Self.mix(k ^ stream)
        k = Self.mix(k ^ UInt64(truncatingIfNeeded: step))
        k = Self.mix(k ^ sample)
        return Self.mix(k ^ UInt64(truncatingIfNeeded: position))
    }

    public func gumbelUniforms(step: Int, sample: UInt64, position: Int, into out: UnsafeMutableBufferPointer<Double>) {
        let k = key(stream: 1, step: step, sample: sample, position: position)
        for v in 0..<out.count { out[v] = Self.uniform(Self.mix(k ^ UInt64(v))) }
    }

    public func remaskUniform(step: Int, sample: UInt64, position: Int) -> Double {
        Self.uniform(Self.mix(key(stream: 2, step: step, sample: sample, position: position)))
    }

    public func tokenUniform(step: Int, sample: UInt64) -> Double {
        Self.uniform(Self.mix(key(stream: 3, step: step, sample: sample, position: 0)))
    }
}
