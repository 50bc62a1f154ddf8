import DLLMCompute

/// Which request a Monte Carlo draw belongs to: the task, the document's index in its split
/// and the request's index in the document. Draws depend on this address and the seed only,
/// never on batch size, batch position, rank or the other documents of the run.
public struct RequestAddress: Hashable, Sendable {
    public var task: String
    public var document: Int
    public var request: Int

    public init(task: String, document: Int, request: Int) {
        self.task = task
        self.document = document
        self.request = request
    }

    /// FNV-1a of the task name: the task's stream key.
    var taskKey: UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in task.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}

/// The random choices of one Monte Carlo mini-batch of LLaDA's `forward_process`:
/// `k`, uniform in 1…L (`torch.randint(1, target_len + 1, ())`), and one permutation of
/// the continuation's L positions per row (`torch.randperm(target_len)`).
public struct MaskDraw: Equatable, Sendable {
    public var k: Int
    /// (rows, L) row `i` masks continuation position `j` when `permutations[i][j] < count_i`.
    public var permutations: [[Int]]

    public init(k: Int, permutations: [[Int]]) {
        self.k = k
        self.permutations = permutations
    }
}

/// Where the draws come from: generated from the seed, or replayed from a reference run.
public protocol MaskDrawSource: Sendable {
    /// The draw of mini-batch `iteration` of the request at `address`: `rows` permutations of `length`.
    func draw(_ address: RequestAddress, iteration: Int, rows: Int, length: Int) -> MaskDraw
}

/// Draws keyed by (seed, task, document, request, iteration, row) through `SeededGenerator`
/// streams: `k` from row key 0, row `i`'s permutation (Fisher–Yates) from row key `i + 1`.
public struct SeededMaskDraws: MaskDrawSource {
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    public func draw(_ address: RequestAddress, iteration: Int, rows: Int, length: Int) -> MaskDraw {
        func generator(_ row: Int) -> SeededGenerator {
            SeededGenerator(seed: seed, stream: address.taskKey, UInt64(address.document), UInt64(address.request),
                            UInt64(iteration), UInt64(row))
        }
        var g = generator(0)
        let k = 1 + Self.below(length, &g)
        let permutations = (0..<rows).map { row -> [Int] in
            var g = generator(row + 1)
            var p = Array(0..<length)
            for i in stride(from: length - 1, to: 0, by: -1) { p.swapAt(i, Self.below(i + 1, &g)) }
            return p
        }
        return MaskDraw(k: k, permutations: permutations)
    }

    /// A uniform integer in 0..<n from 53 random bits (bias below 2⁻⁴⁰ for the lengths used here).
    static func below(_ n: Int, _ g: inout SeededGenerator) -> Int { min(Int(g.nextUniform() * Double(n)), n - 1) }
}

/// LLaDA's stratified mask counts (`forward_process` in `get_log_likelihood.py`):
/// `x = round(linspace(k, k + (b − 1)·(L / b), b))`, wrapped into 1…L by `((x − 1) mod L) + 1`,
/// in float32 as torch computes them (the end point is float32(k) + float32((b − 1)·(L / b)),
/// torch's CPU `linspace` kernel fills the first half from the start and the second half back
/// from the end, `round` is half to even).
public func stratifiedMaskCounts(k: Int, length L: Int, rows b: Int) -> [Int] {
    precondition(L >= 1 && b >= 1 && (1...L).contains(k), "stratifiedMaskCounts: k \(k), L \(L), b \(b)")
    let start = Float(k)
    let end = Float(k) + Float(Double(b - 1) * (Double(L) / Double(b)))
    let step = b > 1 ? (end - start) / Float(b - 1) : 0
    return (0..<b).map { i in
        let value = i < b / 2 ? start + step * Float(i) : end - step * Float(b - 1 - i)
        let x = Int(value.rounded(.toNearestOrEven))
        return ((x - 1) % L + L) % L + 1
    }
}
