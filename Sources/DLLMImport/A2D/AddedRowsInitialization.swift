import DLLMCompute
import DLLMRandom

/// Rows appended to an embedding table (or an untied output head) when the vocabulary
/// grows, initialised as `transformers`' `resize_token_embeddings` does by default
/// (`mean_resizing=True`): mirrors `PreTrainedModel._init_added_embeddings_weights_with_mean`
/// (transformers 5.24; Hewitt 2021, "Initializing new word embeddings for pretrained
/// language models").
///
/// With μ the mean of the N old rows and Σ = (X − μ)ᵀ(X − μ) / N their (biased) covariance,
/// every new row is drawn from 𝒩(μ, ε·Σ), ε = 1e-9, when ε·Σ is positive definite; otherwise
/// every new row is μ. The draw is x = μ + L·z, L the Cholesky factor of ε·Σ and z standard
/// normal from our own seeded generator (so the rows are not torch's, only their law is).
public enum AddedRowsInitialization {
    /// `epsilon` of `_init_added_embeddings_weights_with_mean`.
    public static let epsilon = 1e-9

    /// How the new rows were filled.
    public enum Method: String, Sendable, Equatable {
        /// Drawn from 𝒩(μ, ε·Σ).
        case multivariateNormal
        /// ε·Σ was not positive definite: every new row is μ (transformers' fallback).
        case mean
    }

    /// `n` rounded up to a multiple of `multiple`, as `resize_token_embeddings(pad_to_multiple_of:)` rounds.
    public static func paddedRowCount(_ n: Int, multiple: Int = 64) -> Int {
        precondition(n >= 0 && multiple > 0, "paddedRowCount: negative count or non-positive multiple")
        return (n + multiple - 1) / multiple * multiple
    }

    /// μ (C) and Σ (C, C, row-major) of `count` rows of `width` floats. The mean is summed in
    /// double; Σ is one float32 product of the centred rows, as torch computes it in float32.
    public static func meanAndCovariance(rows: UnsafePointer<Float>, count N: Int, width C: Int) -> (mean: [Double], covariance: [Double]) {
        precondition(N > 0 && C > 0, "meanAndCovariance: empty table")
        var mean = [Double](repeating: 0, count: C)  // (C)
        for r in 0 ..< N {
            let row = rows + r * C
            for c in 0 ..< C { mean[c] += Double(row[c]) }
        }
        for c in 0 ..< C { mean[c] /= Double(N) }
        var centred = [Float](repeating: 0, count: N * C)  // (N, C)
        let meanF = mean.map(Float.init)
        for r in 0 ..< N {
            for c in 0 ..< C { centred[r * C + c] = rows[r * C + c] - meanF[c] }
        }
        var product = [Float](repeating: 0, count: C * C)  // (C, C)
        centred.withUnsafeBufferPointer { x in
            product.withUnsafeMutableBufferPointer { out in
                gemm(.transpose, .none, m: C, n: C, k: N, alpha: 1 / Float(N), x.baseAddress!, lda: C,
                     x.baseAddress!, ldb: C, out.baseAddress!, ldc: C)
            }
        }
        // The product is symmetric up to rounding; average the halves.
        var covariance = [Double](repeating: 0, count: C * C)
        for i in 0 ..< C {
            for j in 0 ..< C { covariance[i * C + j] = (Double(product[i * C + j]) + Double(product[j * C + i])) / 2 }
        }
        return (mean, covariance)
    }

    /// The lower Cholesky factor L (n, n, row-major) of a symmetric matrix, L·Lᵀ = a, or nil
    /// when `a` is not positive definite: a pivot is not finite or is at most 1e-12 of the
    /// largest diagonal entry (rounding can leave a tiny positive pivot on a singular matrix,
    /// where LAPACK's `potrf`, which torch's check calls, may or may not fail).
    public static func cholesky(_ a: [Double], n: Int) -> [Double]? {
        precondition(a.count == n * n, "cholesky: \(a.count) entries for an \(n)×\(n) matrix")
        let largest = (0 ..< n).map { a[$0 * n + $0] }.max() ?? 0
        guard largest > 0, largest.isFinite else { return nil }
        let floor = largest * 1e-12
        var l = [Double](repeating: 0, count: n * n)
        for j in 0 ..< n {
            var d = a[j * n + j]
            for k in 0 ..< j { d -= l[j * n + k] * l[j * n + k] }
            guard d.isFinite, d > floor else { return nil }
            let pivot = d.squareRoot()
            l[j * n + j] = pivot
            for i in (j + 1) ..< n {
                var s = a[i * n + j]
                for k in 0 ..< j { s -= l[i * n + k] * l[j * n + k] }
                l[i * n + j] = s / pivot
            }
        }
        return l
    }

    /// Fills rows `oldRows ..< newRows` of `table` (newRows, C) from its first `oldRows` rows.
    @discardableResult
    public static func fill(_ table: UnsafeMutablePointer<Float>, oldRows: Int, newRows: Int, width C: Int,
                            generator: inout SeededGenerator) -> Method {
        precondition(oldRows > 0 && newRows >= oldRows, "fill: \(oldRows) old rows, \(newRows) new rows")
        if newRows == oldRows { return .multivariateNormal }
        let (mean, covariance) = meanAndCovariance(rows: table, count: oldRows, width: C)
        guard let l = cholesky(covariance.map { $0 * epsilon }, n: C) else {
            for r in oldRows ..< newRows {
                for c in 0 ..< C { table[r * C + c] = Float(mean[c]) }
            }
            return .mean
        }
        var z = [Double](repeating: 0, count: C)  // (C)
        for r in oldRows ..< newRows {
            for c in 0 ..< C { z[c] = generator.nextGaussian() }
            for i in 0 ..< C {
                var x = mean[i]
                for k in 0 ... i { x += l[i * C + k] * z[k] }
                table[r * C + i] = Float(x)
            }
        }
        return .multivariateNormal
    }
}
