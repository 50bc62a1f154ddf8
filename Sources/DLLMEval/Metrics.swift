/// Per-document scores of a multiple-choice document: lm-eval
/// `ConfigurableTask.process_results` (`output_type: multiple_choice`).
public struct DocumentScores: Equatable, Sendable {
    /// 1 when the highest log-likelihood is the gold choice (`np.argmax(lls)`; first on ties).
    public var acc: Double
    /// 1 when the highest log-likelihood divided by the choice's length is the gold one.
    /// lm-eval 0.4 divides by `len(choice)`, the choice's length in characters (code
    /// points), without the target delimiter; `acc_bytes` is its byte-length variant.
    public var accNorm: Double

    public init(logLikelihoods lls: [Double], choices: [String], gold: Int) {
        precondition(lls.count == choices.count && !lls.isEmpty, "one log-likelihood per choice")
        let lengths = choices.map { Double($0.unicodeScalars.count) }
        acc = Self.argmax(lls) == gold ? 1 : 0
        accNorm = Self.argmax(zip(lls, lengths).map { $0 / $1 }) == gold ? 1 : 0
    }

    /// `np.argmax`: the first index of the maximum (NaN wins, as in NumPy).
    static func argmax(_ values: [Double]) -> Int {
        var best = 0
        for i in values.indices.dropFirst() {
            if values[best].isNaN { return best }
            if values[i].isNaN || values[i] > values[best] { best = i }
        }
        return best
    }
}

/// lm-eval's `mean` aggregation and `mean_stderr` (`lm_eval/api/metrics.py`).
public enum MeanAggregation {
    /// `sum(arr) / len(arr)`, summed left to right as Python does.
    public static func mean(_ values: [Double]) -> Double {
        var sum = 0.0
        for v in values { sum += v }
        return sum / Double(values.count)
    }

    /// `sample_stddev(arr) / sqrt(len(arr))`, with `sample_stddev` = sqrt(Σ(x − μ)² / (n − 1));
    /// nil for fewer than two values (lm-eval reports "N/A").
    public static func stderr(_ values: [Double]) -> Double? {
        guard values.count > 1 else { return nil }
        let mu = mean(values)
        var sum = 0.0
        for v in values { sum += (v - mu) * (v - mu) }
        return (sum / Double(values.count - 1)).squareRoot() / Double(values.count).squareRoot()
    }
}
