import DLLMCompute
import DLLMModels
import DLLMRandom

/// What the Edit Flows loss needs of one micro-batch besides the model inputs: per row, the rate
/// scale, the normaliser, x_t's length and the edits that remain.
public struct EditFlowTargets: Sendable {
    public struct Row: Sendable {
        /// `w(t) = κ′/(1 − κ)`, clamped at `max_w`.
        public var weight: Float
        /// len(x1) (at least 1) with `normalize_per_position`, else 1.
        public var normalizer: Float
        /// Rows of x_t (the model input's unpadded length).
        public var length: Int
        public var edits: [Edit]
    }
    public var rows: [Row]
}

/// Edit Flows (Havasi et al. 2025) as dLLM's `EditFlowTrainer.compute_loss` and `EditFlowCollator`
/// define them (`pipelines/editflow/{trainer,utils}.py`, docs/objectives.md "Edit Flows"):
///
/// - x1 = BOS + text (pretraining rows, BOS prepended unless present) or prompt + response, the prompt
///   being the row's leading label −100 run (`prompt_len`); x0 = x1's first token (or the prompt)
///   followed by `x0` (empty, or `maskLength` mask tokens);
/// - z0, z1 = Needleman–Wunsch alignment of x0 and x1 (``alignWithBlanks(_:_:substitutionCost:gapCost:)``);
/// - per row t = (1 − ε)·u, κ = κ(t), w = min(κ′(t)/(1 − κ(t) + 10⁻⁶), `maxWeight`);
/// - z_t takes each column of z1 with probability κ, else z0's; x_t is z_t without blanks;
/// - the loss (``EditFlowLoss``) scores the edits from z_t to z1.
public struct EditFlowObjective: Objective {
    /// dLLM's `x0_sampler`: `empty`, or `masks[length:N]`.
    public enum Source: Equatable, Sendable {
        case empty
        case masks(length: Int)

        /// Parses dLLM's spec (`empty`, `masks`, `masks[length:64]`); nil if it is neither.
        public init?(spec: String) {
            let s = spec.replacingOccurrences(of: " ", with: "").lowercased()
            if s == "empty" { self = .empty; return }
            if s == "masks" { self = .masks(length: 128); return }
            guard s.hasPrefix("masks[length:"), s.hasSuffix("]"),
                  let n = Int(s.dropFirst("masks[length:".count).dropLast()), n >= 0 else { return nil }
            self = .masks(length: n)
        }
    }

    public var schedule: KappaSchedule
    public var source: Source
    public var bosTokenID: Int32
    public var maskTokenID: Int32?
    public var padTokenID: Int32
    public var timeEpsilon: Float
    public var normalizePerPosition: Bool
    /// `max_w`; 0 leaves w unclamped (dLLM `if self.max_w:`).
    public var maxWeight: Float

    public init(schedule: KappaSchedule = .cubic, source: Source = .empty, bosTokenID: Int32, maskTokenID: Int32? = nil,
                padTokenID: Int32 = 0, timeEpsilon: Float = 1e-3, normalizePerPosition: Bool = true, maxWeight: Float = 20) {
        precondition(source == .empty || maskTokenID != nil, "EditFlowObjective: a masks source needs a mask token")
        self.schedule = schedule
        self.source = source
        self.bosTokenID = bosTokenID
        self.maskTokenID = maskTokenID
        self.padTokenID = padTokenID
        self.timeEpsilon = timeEpsilon
        self.normalizePerPosition = normalizePerPosition
        self.maxWeight = maxWeight
    }

    /// x0 and x1 of row `b` (dLLM `EditFlowCollator.__call__`).
    public func endpoints(_ batch: CleanBatch, row b: Int) -> (x0: [Int32], x1: [Int32]) {
        let T = batch.T, length = min(T, batch.lengths?[b] ?? T)
        let ids = Array(batch.inputIDs[(b * T)..<(b * T + length)])
        let promptLength = batch.labels[(b * T)..<(b * T + length)].prefix { $0 == ignoreIndex }.count
        var tail: [Int32] = []
        if case .masks(let n) = source { tail = [Int32](repeating: maskTokenID!, count: n) }
        if promptLength == 0 {
            let x1 = ids.first == bosTokenID ? ids : [bosTokenID] + ids
            return ([x1[0]] + tail, x1)
        }
        return (Array(ids.prefix(promptLength)) + tail, ids)
    }

    /// Draws each row's t and column choices from a generator keyed by (seed, step, global sample index).
    public func prepare(_ batch: CleanBatch, step: Int, seed: UInt64) -> ObjectiveBatch {
        var t: [Float] = [], choices: [[Bool]] = []
        let pairs = (0..<batch.B).map { endpoints(batch, row: $0) }
        let alignments = pairs.map { alignWithBlanks($0.x0, $0.x1) }
        for b in 0..<batch.B {
            var rng = SeededGenerator(seed: seed, stream: UInt64(step), UInt64(batch.sampleIndices[b]))
            let tb = (1 - timeEpsilon) * Float(rng.nextUniform())
            let kappa = schedule.kappa(tb)
            t.append(tb)
            choices.append(alignments[b].z0.map { _ in Float(rng.nextUniform()) < kappa })
        }
        return prepare(alignments: alignments.map { ($0.z0, $0.z1) }, targetLengths: pairs.map(\.x1.count), t: t, takeTarget: choices)
    }

    /// The deterministic core: given each row's (x0, x1), t and, per alignment column, whether z_t
    /// takes z1's token.
    public func prepare(pairs: [(x0: [Int32], x1: [Int32])], t: [Float], takeTarget: [[Bool]]) -> ObjectiveBatch {
        prepare(alignments: pairs.map { let a = alignWithBlanks($0.x0, $0.x1); return (a.z0, a.z1) },
                targetLengths: pairs.map(\.x1.count), t: t, takeTarget: takeTarget)
    }

    func prepare(alignments: [(z0: [Int32], z1: [Int32])], targetLengths: [Int], t: [Float], takeTarget: [[Bool]]) -> ObjectiveBatch {
        let B = alignments.count
        var xt: [[Int32]] = [], rows: [EditFlowTargets.Row] = []
        for b in 0..<B {
            let (z0, z1) = alignments[b]
            precondition(takeTarget[b].count == z0.count, "EditFlowObjective: one choice per alignment column")
            let zt = zip(zip(z0, z1), takeTarget[b]).map { pair, take in take ? pair.1 : pair.0 }
            let x = zt.filter { $0 != alignmentBlank }
            var w = schedule.weight(t[b])
            if maxWeight > 0 { w = min(w, maxWeight) }
            let normalizer = normalizePerPosition ? Float(max(1, targetLengths[b])) : 1
            xt.append(x)
            rows.append(.init(weight: w, normalizer: normalizer, length: x.count, edits: remainingEdits(zt: zt, z1: z1)))
        }
        let T = max(1, xt.map(\.count).max() ?? 1)
        var ids = [Int32](repeating: padTokenID, count: B * T)
        for b in 0..<B { for (i, token) in xt[b].enumerated() { ids[b * T + i] = token } }
        let padding = xt.flatMap { x in (0..<T).map { $0 < x.count } }
        let mask = AttentionMask(.bidirectional, B: B, T: T, keyPadding: padding)
        return ObjectiveBatch(inputs: TokenBatch(ids: ids, B: B, T: T), mask: mask,
                              targets: [Int32](repeating: ignoreIndex, count: B * T), weights: [Float](repeating: 0, count: B * T),
                              lossTokens: rows.reduce(0) { $0 + $1.edits.count }, editFlow: EditFlowTargets(rows: rows))
    }
}
