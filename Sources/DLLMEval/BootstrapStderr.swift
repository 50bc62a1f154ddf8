import DLLMCompute
import Foundation

/// lm-eval's bootstrap standard error (`lm_eval/api/metrics.py` `bootstrap_stderr` and
/// `_bootstrap_internal`), reproduced draw for draw: `iters // chunk` chunks of
/// `chunk = min(1000, iters)` resamples; chunk `i` draws from `random.Random(i)`, each resample
/// is `rnd.choices(xs, k=len(xs))`, whose index is `floor(random() · n)`; the estimate is
/// `sample_stddev` over the statistics of all resamples, in chunk order.
///
/// lm-eval bootstraps only its `bootstrappable` aggregations; of the metrics `dllm eval`
/// reports, that is `perplexity` (LAMBADA's), whose statistic is `exp(−mean(resample))`.
public enum BootstrapStderr {
    /// lm-eval's `--bootstrap_iters` default.
    public static let defaultIterations = 100_000

    /// The bootstrap stderr of `perplexity(xs) = exp(−Σxs/n)` (sums left to right, as CPython
    /// 3.11's `sum`); nil when `iterations` gives no chunk or `xs` is empty (lm-eval: "N/A").
    public static func perplexity(_ xs: [Double], iterations: Int = defaultIterations) -> Double? {
        let chunk = min(1000, iterations)
        guard chunk > 0, !xs.isEmpty, iterations / chunk > 0 else { return nil }
        let chunks = iterations / chunk
        let n = xs.count
        var statistics = [Double](repeating: 0, count: chunks * chunk)   // (chunks · chunk) resample perplexities
        statistics.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            xs.withUnsafeBufferPointer { values in
                parallelChunks(chunks) { range in
                    for i in range {
                        var rnd = PythonRandom(seed: UInt64(i))
                        for r in 0..<chunk {
                            var sum = 0.0
                            for _ in 0..<n { sum += values[Int((rnd.random() * Double(n)).rounded(.down))] }
                            base[i * chunk + r] = Foundation.exp(-(sum / Double(n)))
                        }
                    }
                }
            }
        }
        guard statistics.count > 1 else { return nil }
        let mu = MeanAggregation.mean(statistics)
        var squares = 0.0
        for s in statistics { squares += (s - mu) * (s - mu) }
        return (squares / Double(statistics.count - 1)).squareRoot()
    }
}
