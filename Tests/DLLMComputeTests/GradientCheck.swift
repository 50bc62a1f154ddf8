import DLLMCompute
import XCTest

/// Finite-difference gradient checking in Float64.
///
/// For an op with inputs `x₁…x_k` and output `y`, pick a random upstream gradient `g`
/// and check every input element of `L = Σ g ⊙ y(x)` against the analytic backward by
/// central differences: `(L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h`.
struct GradientCheck {
    var rng = SplitMix(seed: 7)

    mutating func random(_ count: Int, scale: Double = 1) -> [Double] {
        (0..<count).map { _ in rng.nextGaussian() * scale }
    }

    /// - Parameters:
    ///   - inputs: the op's differentiable inputs (perturbed one element at a time).
    ///   - forward: computes the output from the inputs.
    ///   - backward: given inputs and upstream gradient, returns the gradients of the inputs.
    static func check(
        _ name: String, inputs: [[Double]], outputCount: Int, seed: UInt64 = 11,
        tolerance: Double = 1e-6, h: Double = 1e-5,
        forward: ([[Double]]) -> [Double],
        backward: ([[Double]], [Double]) -> [[Double]],
        file: StaticString = #filePath, line: UInt = #line
    ) {
        var rng = SplitMix(seed: seed)
        let upstream = (0..<outputCount).map { _ in rng.nextGaussian() }
        func loss(_ x: [[Double]]) -> Double {
            zip(forward(x), upstream).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let analytic = backward(inputs, upstream)
        XCTAssertEqual(analytic.count, inputs.count, "\(name): backward returned wrong number of gradients", file: file, line: line)
        var worst = 0.0
        for (k, input) in inputs.enumerated() {
            for i in input.indices {
                var plus = inputs, minus = inputs
                plus[k][i] += h
                minus[k][i] -= h
                let numeric = (loss(plus) - loss(minus)) / (2 * h)
                let a = analytic[k][i]
                let err = abs(a - numeric) / max(1, abs(numeric))
                worst = max(worst, err)
                if err > tolerance {
                    XCTFail("\(name): input \(k)[\(i)] analytic \(a) vs numeric \(numeric)", file: file, line: line)
                    return
                }
            }
        }
        XCTAssertLessThan(worst, tolerance, file: file, line: line)
    }
}

/// A small deterministic generator for test data (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func nextGaussian() -> Double {
        let u1 = max(nextDouble(), 1e-300), u2 = nextDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
    mutating func nextInt(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
