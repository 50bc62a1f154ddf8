/// How many masked tokens each step of a block commits: the block's `maskCount`
/// split evenly over `steps`, the remainder going one each to the first steps
/// (LLaDA's linear schedule makes the expected number per step constant).
/// Mirrors `get_num_transfer_tokens` in LLaDA's `generate.py`; e.g. 12 masks over 5
/// steps commit [3, 3, 2, 2, 2], 3 masks over 5 steps [1, 1, 1, 0, 0].
public func numTransferTokens(maskCount: Int, steps: Int) -> [Int] {
    precondition(steps > 0 && maskCount >= 0, "numTransferTokens: \(maskCount) masks over \(steps) steps")
    let base = maskCount / steps, remainder = maskCount % steps
    return (0..<steps).map { $0 < remainder ? base + 1 : base }
}

/// Positions to commit in one step: the `count` highest-confidence candidates
/// (`torch.topk(confidence, k)` over the masked positions of the current block),
/// ties broken towards the lower position. Candidates with −∞ confidence are never
/// chosen (LLaDA gives them −∞ so that they cannot be, given enough finite ones).
public func topConfidence(_ candidates: [(position: Int, confidence: Double)], count: Int) -> [Int] {
    guard count > 0 else { return [] }
    let sorted = candidates.filter { $0.confidence > -.infinity }.sorted {
        $0.confidence != $1.confidence ? $0.confidence > $1.confidence : $0.position < $1.position
    }
    return sorted.prefix(count).map(\.position)
}

/// Fast-dLLM's confidence-threshold parallel decoding (`get_transfer_index` with a
/// `threshold`): the most confident candidate always, then every other candidate
/// whose confidence is at least `threshold`.
public func thresholdSelection(_ candidates: [(position: Int, confidence: Double)], threshold: Double) -> [Int] {
    let sorted = candidates.filter { $0.confidence > -.infinity }.sorted {
        $0.confidence != $1.confidence ? $0.confidence > $1.confidence : $0.position < $1.position
    }
    guard let first = sorted.first else { return [] }
    return [first.position] + sorted.dropFirst().filter { $0.confidence >= threshold }.map(\.position)
}
