import Foundation

/// CPython's `random.Random`: the MT19937 generator seeded from an integer, `getrandbits`,
/// `_randbelow_with_getrandbits` and `sample`, so that lm-eval's few-shot draws
/// (`ContextSampler.sample` → `self.rnd.sample(docs, n)`) are reproduced exactly.
///
/// Mirrors CPython 3.11 `Modules/_randommodule.c` (`init_genrand`, `init_by_array`,
/// `genrand_uint32`, `random_seed` for an int) and `Lib/random.py` (`_randbelow_with_getrandbits`,
/// `sample`).
public struct PythonRandom {
    static let n = 624, m = 397
    var state = [UInt32](repeating: 0, count: 624)
    var index = 625

    /// `random.Random(seed)` for a non-negative integer seed: the key is the seed's 32-bit
    /// words, least significant first (one zero word for 0).
    public init(seed: UInt64) {
        var key: [UInt32] = [UInt32(truncatingIfNeeded: seed)]
        if seed >> 32 != 0 { key.append(UInt32(truncatingIfNeeded: seed >> 32)) }
        initByArray(key)
    }

    mutating func initGenrand(_ s: UInt32) {
        state[0] = s
        for i in 1..<Self.n {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
        index = Self.n
    }

    mutating func initByArray(_ key: [UInt32]) {
        initGenrand(19_650_218)
        var i = 1, j = 0
        for _ in 0..<max(Self.n, key.count) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1
            j += 1
            if i >= Self.n { state[0] = state[Self.n - 1]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<(Self.n - 1) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= Self.n { state[0] = state[Self.n - 1]; i = 1 }
        }
        state[0] = 0x8000_0000
    }

    /// `genrand_uint32`: the next tempered 32-bit output.
    public mutating func nextUInt32() -> UInt32 {
        if index >= Self.n {
            for k in 0..<Self.n {
                let y = (state[k] & 0x8000_0000) | (state[(k + 1) % Self.n] & 0x7FFF_FFFF)
                state[k] = state[(k + Self.m) % Self.n] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : 0x9908_B0DF)
            }
            index = 0
        }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// `random()`: a double in [0, 1) from two outputs, 27 and 26 of their high bits
    /// (CPython `random_random`: `(a >> 5) · 2²⁶ + (b >> 6)` over 2⁵³).
    public mutating func random() -> Double {
        let a = Double(nextUInt32() >> 5), b = Double(nextUInt32() >> 6)
        return (a * 67_108_864 + b) * (1 / 9_007_199_254_740_992)
    }

    /// `getrandbits(k)` for 0 ≤ k ≤ 32 (the word shifted right by 32 − k).
    public mutating func getrandbits(_ k: Int) -> UInt32 {
        precondition((0...32).contains(k), "getrandbits of more than 32 bits is not needed here")
        return k == 0 ? 0 : nextUInt32() >> UInt32(32 - k)
    }

    /// `_randbelow_with_getrandbits(n)`: draws `n.bit_length()` bits until the value is below `n`.
    public mutating func randbelow(_ n: Int) -> Int {
        precondition(n >= 1 && n <= Int(UInt32.max), "randbelow of \(n)")
        let k = Int.bitWidth - n.leadingZeroBitCount
        var r = Int(getrandbits(k))
        while r >= n { r = Int(getrandbits(k)) }
        return r
    }

    /// `sample(range(n), k)`: `k` distinct indices of a population of `n`, in draw order. Small
    /// populations (n ≤ setsize) swap out of a pool; large ones redraw indices already taken.
    public mutating func sample(populationSize n: Int, count k: Int) -> [Int] {
        precondition(k >= 0 && k <= n, "Sample larger than population or is negative")
        var setsize = 21
        if k > 5 { setsize += Int(pow(4.0, (Foundation.log(Double(k * 3)) / Foundation.log(4.0)).rounded(.up))) }
        var result: [Int] = []
        result.reserveCapacity(k)
        if n <= setsize {
            var pool = Array(0..<n)
            for i in 0..<k {
                let j = randbelow(n - i)
                result.append(pool[j])
                pool[j] = pool[n - i - 1]
            }
        } else {
            var selected = Set<Int>()
            for _ in 0..<k {
                var j = randbelow(n)
                while selected.contains(j) { j = randbelow(n) }
                selected.insert(j)
                result.append(j)
            }
        }
        return result
    }
}
