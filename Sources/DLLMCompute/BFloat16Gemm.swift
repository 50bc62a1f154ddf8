import CBFloat16
import Synchronization

/// bfloat16 matrix products with float32 accumulation, as PyTorch's CPU autocast runs
/// `linear` and `matmul` under `torch.autocast("cpu", dtype=torch.bfloat16)`: both inputs
/// rounded to bfloat16 (8 significant bits, round to nearest even), products summed in
/// float32. The kernel is the project's own (Sources/CBFloat16: AMX `tdpbf16ps` tiles where the
/// CPU has them, else AVX512_BF16 `vdpbf16ps`): Debian's OpenBLAS 0.3.21 is built without
/// `cblas_sbgemm` (docs/mixed-precision.md).
public enum BFloat16Matmul {
    /// Whether the AVX512_BF16 kernel runs now: the CPU has it (``hasVectorKernel``) and
    /// ``usesVectorKernel`` is on. Without it every bf16 product rounds its inputs exactly as the
    /// kernel does, widens them back and multiplies them with OpenBLAS's sgemm: float32 compute
    /// over bf16 values, so a `bf16: true` run keeps its bf16 activations and its numerics, slower.
    public static var isAvailable: Bool { cbf16_supported() != 0 }

    /// Whether this CPU (and OS) has AVX512_BF16 with AVX512F/BW/VL.
    public static var hasVectorKernel: Bool { cbf16_vector_detected() != 0 }

    /// Whether the AVX512_BF16 code may run where the CPU has it (default on). Off, everything
    /// takes the path of a CPU without it (the float32 fallback; tests compare the two).
    public static var usesVectorKernel: Bool {
        get { isAvailable || !hasVectorKernel }
        set { cbf16_use_vector(newValue ? 1 : 0) }
    }

    /// Whether this CPU has AVX512F/BW/VL/DQ: what the packers, the rounding to bf16 and
    /// attention's row passes run on (AVX512_BF16 serves the products alone), so the float32
    /// fallback of an AVX-512 CPU without AVX512_BF16 packs on AVX-512 too.
    public static var hasVectorPackers: Bool { cbf16_avx512_detected() != 0 }

    /// Whether the packers, rounding and row passes may use AVX-512 where the CPU has it (default
    /// on). Off, they take their portable loops, as on a CPU without AVX-512 (tests compare the two).
    public static var usesVectorPackers: Bool {
        get { packsOnAVX512 || !hasVectorPackers }
        set { cbf16_use_vector_packers(newValue ? 1 : 0) }
    }

    /// Whether the packers, rounding and row passes run on AVX-512 now: the CPU has it and
    /// ``usesVectorPackers`` is on.
    public static var packsOnAVX512: Bool { cbf16_vector_packers() != 0 }

    /// Whether this CPU has AMX-BF16 tiles and Linux granted them to this process.
    public static var hasAMX: Bool { cbf16_amx_supported() != 0 }

    /// Whether ``bf16Gemm`` may run on the AMX tiles (the default when ``hasAMX``). Off, it runs on
    /// `vdpbf16ps`; both give float32 sums of the same rounded inputs (benchmarks and tests compare them).
    public static var usesAMX: Bool {
        get { cbf16_amx_active() != 0 }
        set { cbf16_use_amx(newValue ? 1 : 0) }
    }

    /// The instructions ``bf16Gemm`` runs on now, for start-up logs and benchmarks.
    public static var kernelName: String {
        usesAMX ? "AMX-BF16 (tdpbf16ps)" : isAvailable ? "AVX512_BF16 (vdpbf16ps)"
            : "float32 sgemm over bf16-rounded inputs" + (packsOnAVX512 ? " (AVX-512 packers)" : " (portable packers)")
    }

    /// `value` rounded to bfloat16 (nearest, ties to even) and widened back: what the kernel multiplies.
    public static func rounded(_ value: Float) -> Float {
        var x = value, bits: UInt16 = 0
        cbf16_from_float(&x, &bits, 1)
        return Float(bitPattern: UInt32(bits) << 16)
    }

    /// Rounds `count` floats to bfloat16 bit patterns (c10::BFloat16's round_to_nearest_even).
    public static func round(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, count: Int) {
        cbf16_from_float(source, destination, count)
    }
}

/// Row-major `C (m, n) = op(A) · op(B) + beta · C` with `op(A)` (m, k) and `op(B)` (k, n) rounded
/// to bfloat16 and accumulated in float32; `beta` is 0 or 1 (overwrite or accumulate). Same
/// argument conventions as ``gemm(_:_:m:n:k:alpha:_:lda:_:ldb:beta:_:ldc:)``.
///
/// Both operands are packed (rounded) into one scratch buffer, then the rows of C are split
/// between the compute threads.
public func bf16Gemm(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    _ a: UnsafePointer<Float>, lda: Int,
    _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "bf16Gemm: negative dimension")
    precondition(beta == 0 || beta == 1, "bf16Gemm: beta must be 0 or 1")
    if m == 0 || n == 0 { return }
    let packedA = m * cbf16_packed_a_stride(k), packedB = cbf16_packed_b_count(k, n)
    BFloat16Scratch.with(count: packedA + packedB) { scratch in
        let pa = scratch, pb = scratch + packedA  // m bf16 rows of k (cbf16_packed_a_stride apart); panels of NR columns
        bf16PackRows(transA, m: m, k: k, a, lda: lda, into: pa)
        bf16PackPanels(transB, k: k, n: n, b, ldb: ldb, into: pb)
        bf16MultiplyPacked(pa, pb, m: m, n: n, k: k, beta: beta, c, ldc: ldc)
    }
}

/// The rows of op(A) (m, k) rounded into `pa` (m rows, `cbf16_packed_a_stride(k)` apart), split
/// between the compute threads.
func bf16PackRows(_ transA: Transpose, m: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int, into pa: UnsafeMutablePointer<UInt16>) {
    // Element (i, p) of op(A) at a[i·rs + p·cs].
    let (aRow, aCol) = transA == .none ? (lda, 1) : (1, lda)
    parallelChunks(m, minimumPerThread: 64) { rows in
        cbf16_pack_a(a, aRow, aCol, k, rows.lowerBound, rows.upperBound, pa)
    }
}

/// op(B) (k, n) rounded into `pb` (`cbf16_packed_b_count(k, n)` UInt16s: panels of NR columns),
/// split between the compute threads.
func bf16PackPanels(_ transB: Transpose, k: Int, n: Int, _ b: UnsafePointer<Float>, ldb: Int, into pb: UnsafeMutablePointer<UInt16>) {
    // Element (p, j) of op(B) at b[p·rs + j·cs].
    let (bRow, bCol) = transB == .none ? (ldb, 1) : (1, ldb)
    let nr = Int(CBF16_NR)
    parallelChunks((n + nr - 1) / nr, minimumPerThread: 2) { panels in
        cbf16_pack_b(b, bRow, bCol, k, n, panels.lowerBound, panels.upperBound, pb)
    }
}

/// `C (m, n) (+)= A · B` from packed operands, the rows of C split between the compute threads.
func bf16MultiplyPacked(_ pa: UnsafePointer<UInt16>, _ pb: UnsafePointer<UInt16>, m: Int, n: Int, k: Int, beta: Float,
                        _ c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard BFloat16Matmul.isAvailable else {
        widenedProduct(pa, pb, m: m, n: n, k: k, beta: beta, c, ldc: ldc, threaded: true)
        return
    }
    let rowBlock = cbf16_row_block()
    // Whole row blocks per thread (AMX tiles hold 16 rows), at least about 24 rows each.
    parallelChunks((m + rowBlock - 1) / rowBlock, minimumPerThread: max(1, 24 / rowBlock)) { blocks in
        cbf16_gemm_packed(pa, pb, k, n, blocks.lowerBound * rowBlock, min(m, blocks.upperBound * rowBlock), c, ldc, beta == 0 ? 0 : 1)
    }
}

/// UInt16s an (m, k) · (k, n) product packed on one thread needs: the packed rows of op(A)
/// (``bf16PackRowsOnThisThread``) and the packed panels of op(B) (``bf16PackPanelsOnThisThread``).
public func bf16GemmScratchCount(m: Int, n: Int, k: Int) -> Int {
    bf16PackedRowsCount(N: m, C: k) + bf16PackedPanelsCount(k: k, n: n)
}

/// UInt16s that op(B) (k, n) takes as packed bf16 panels (``bf16PackPanelsOnThisThread``).
public func bf16PackedPanelsCount(k: Int, n: Int) -> Int { cbf16_packed_b_count(k, n) }

/// op(A) (m, k) rounded into packed rows (``bf16PackedRowsCount(N:C:)`` UInt16s for m rows of k) on
/// the calling thread: the left operand of ``bf16MultiplyPackedOnThisThread``.
public func bf16PackRowsOnThisThread(_ transA: Transpose, m: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int,
                                     into pa: UnsafeMutablePointer<UInt16>) {
    let (aRow, aCol) = transA == .none ? (lda, 1) : (1, lda)  // element (i, p) at a[i·aRow + p·aCol]
    cbf16_pack_a(a, aRow, aCol, k, 0, m, pa)
}

/// op(B) (k, n) rounded into packed panels on the calling thread: the right operand of
/// ``bf16MultiplyPackedOnThisThread``. Panels packed for `n` columns serve any product over
/// their first `n' ≤ n` columns with the same `k` (the kernel masks the columns past `n'`).
public func bf16PackPanelsOnThisThread(_ transB: Transpose, k: Int, n: Int, _ b: UnsafePointer<Float>, ldb: Int,
                                       into pb: UnsafeMutablePointer<UInt16>) {
    let (bRow, bCol) = transB == .none ? (ldb, 1) : (1, ldb)  // element (p, j) at b[p·bRow + j·bCol]
    cbf16_pack_b(b, bRow, bCol, k, n, 0, (n + Int(CBF16_NR) - 1) / Int(CBF16_NR), pb)
}

/// `C (m, n) (+)= A · B` from packed operands on the calling thread (`beta` 0 or 1).
public func bf16MultiplyPackedOnThisThread(_ pa: UnsafePointer<UInt16>, _ pb: UnsafePointer<UInt16>, m: Int, n: Int, k: Int,
                                           beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    guard BFloat16Matmul.isAvailable else {
        widenedProduct(pa, pb, m: m, n: n, k: k, beta: beta, c, ldc: ldc, threaded: false)  // the caller's thread: BLAS runs single-threaded there
        return
    }
    cbf16_gemm_packed(pa, pb, k, n, 0, m, c, ldc, beta == 0 ? 0 : 1)
}

/// The product of packed bf16 operands without AVX512_BF16: both widened to float32 (exactly) and
/// multiplied by ``gemm``, so the sums are float32 sums of the same rounded values as the kernel's,
/// in OpenBLAS's order. `pa` holds m packed rows (``cbf16_packed_a_stride(k)`` apart), `pb` the panels.
/// A is widened in blocks of at most 16 M values (64 MB, and at least 256 rows), so the LM head's
/// weight-gradient A, a transposed (V, N) matrix, is never widened whole, while a product with a
/// short k runs as one sgemm: each sgemm call packs all of op(B) again (the head's forward, k = 512,
/// B 512 × 32000, ran as 16 calls in 256-row blocks). perf of the fallback step on the reference
/// config: 12.9 % in OpenBLAS's `sgemm_itcopy` with 256-row blocks, 3.0–3.5 % with these
/// (docs/benchmarks.md).
/// With `threaded` the widening is split between the compute threads (sgemm splits its own work);
/// without, all of it runs on the calling thread. The widened operands live in a kept scratch
/// block, not allocated per call (the head's B alone is 64 MB).
func widenedProduct(_ pa: UnsafePointer<UInt16>, _ pb: UnsafePointer<UInt16>, m: Int, n: Int, k: Int, beta: Float,
                    _ c: UnsafeMutablePointer<Float>, ldc: Int, threaded: Bool) {
    guard m > 0, n > 0 else { return }
    let rowsPerBlock = max(256, (16 << 20) / max(k, 1))
    let blockCount = min(m, rowsPerBlock) * k
    wideningScratch.with(Float.self, count: blockCount + k * n) { scratch in
        widenedProduct(pa, pb, m: m, n: n, k: k, beta: beta, c, ldc: ldc, threaded: threaded,
                       a: scratch, b: scratch + blockCount, rowsPerBlock: rowsPerBlock)
    }
}

/// The widened operands' scratch (the packed operands are in ``BFloat16Scratch``'s while it runs).
private let wideningScratch = ScratchStash(owner: "bf16 fallback widening")

/// ``widenedProduct(_:_:m:n:k:beta:_:ldc:threaded:)`` into scratch `a` (rows of a block, k) and `b` (k, n).
private func widenedProduct(_ pa: UnsafePointer<UInt16>, _ pb: UnsafePointer<UInt16>, m: Int, n: Int, k: Int, beta: Float,
                            _ c: UnsafeMutablePointer<Float>, ldc: Int, threaded: Bool,
                            a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, rowsPerBlock: Int) {
    let ka = cbf16_packed_a_stride(k)
    let panels = (n + Int(CBF16_NR) - 1) / Int(CBF16_NR)
    let widenB = { (range: Range<Int>) in cbf16_unpack_b(pb, k, n, range.lowerBound, range.upperBound, b) }
    if threaded { parallelChunks(panels, minimumPerThread: 2, widenB) } else { widenB(0..<panels) }
    for row0 in stride(from: 0, to: m, by: rowsPerBlock) {
        let rows = min(rowsPerBlock, m - row0)
        let widenA = { (range: Range<Int>) in
            for i in range { cbf16_to_float(pa + (row0 + i) * ka, a + i * k, k) }
        }
        if threaded { parallelChunks(rows, minimumPerThread: 16, widenA) } else { widenA(0..<rows) }
        gemm(.none, .none, m: rows, n: n, k: k, a, lda: max(k, 1), b, ldb: n, beta: beta == 0 ? 0 : 1, c + row0 * ldc, ldc: ldc)
    }
}

/// One reusable block of scratch memory: a step's products run one after another, and
/// reallocating the LM head's tens of megabytes per call would cost page faults. A concurrent
/// caller that finds the block taken allocates its own; the larger block is kept.
final class ScratchStash: Sendable {
    struct Block: @unchecked Sendable {  // owned by whoever took it from `held`
        let memory: HugePageMemory
        let bytes: Int
    }
    private let held = Mutex<Block?>(nil)
    private let owner: String

    init(owner: String) { self.owner = owner }

    /// `body` with at least `count` values of `T` that nobody else uses meanwhile.
    func with<T, R>(_ type: T.Type, count: Int, _ body: (UnsafeMutablePointer<T>) -> R) -> R {
        let bytes = max(count, 1) * MemoryLayout<T>.stride
        var block = held.withLock { held -> Block? in
            defer { held = nil }
            return held
        }
        if let taken = block, taken.bytes < bytes {
            taken.memory.release()
            block = nil
        }
        let owned = block ?? Block(memory: HugePageMemory.values(UInt8.self, count: bytes, owner: owner).memory, bytes: bytes)
        let result = body(owned.memory.pointer.bindMemory(to: T.self, capacity: max(count, 1)))
        let spare = held.withLock { held -> Block? in
            if let current = held, current.bytes >= owned.bytes { return owned }
            defer { held = owned }
            return held
        }
        spare?.memory.release()
        return result
    }
}

/// The packing scratch of the bf16 products.
enum BFloat16Scratch {
    static let stash = ScratchStash(owner: "bf16 scratch")

    static func with<R>(count: Int, _ body: (UnsafeMutablePointer<UInt16>) -> R) -> R {
        stash.with(UInt16.self, count: count, body)
    }
}

/// `out (N, OC) = inp (N, C) · W + bias`, W laid out per `layout` ((OC, C) as `nn.Linear` stores
/// it, or (C, OC) as GPT-2's `Conv1D`), the product in bfloat16 with float32 accumulation
/// (autocast's `linear` and `addmm`); the output and the bias stay float32. Both layouts pack the
/// same rounded values into the same panels, so they give the same bits.
public func bf16LinearForward(
    _ out: UnsafeMutablePointer<Float>,
    _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    N: Int, C: Int, OC: Int, layout: WeightLayout = .outIn
) {
    if let bias {
        for n in 0..<N { (out + n * OC).update(from: bias, count: OC) }
    }
    bf16Gemm(.none, layout == .outIn ? .transpose : .none, m: N, n: OC, k: C, inp, lda: C,
             weight, ldb: layout == .outIn ? C : OC, beta: bias == nil ? 0 : 1, out, ldc: OC)
}

/// Backward of ``bf16LinearForward(_:_:_:_:N:C:OC:layout:)``: both products (dinp = dout · op(W)
/// and the weight gradient) in bfloat16 with float32 accumulation, as autocast's backward runs
/// them, accumulated (`+=`) into the float32 `dinp`, `dweight` and `dbias` (the bias gradient is a
/// float32 sum of dout's rows). The weight gradient takes the weight's layout: doutᵀ · inp for
/// (OC, C), inpᵀ · dout for (C, OC).
public func bf16LinearBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dweight: UnsafeMutablePointer<Float>?, _ dbias: UnsafeMutablePointer<Float>?,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    N: Int, C: Int, OC: Int, layout: WeightLayout = .outIn
) {
    if let dinp {  // (N, C) += dout (N, OC) · W (OC, C)   [· Wᵀ for (C, OC) storage]
        bf16Gemm(.none, layout == .outIn ? .none : .transpose, m: N, n: C, k: OC, dout, lda: OC,
                 weight, ldb: layout == .outIn ? C : OC, beta: 1, dinp, ldc: C)
    }
    if let dweight {
        switch layout {
        case .outIn:  // (OC, C) += doutᵀ · inp
            bf16Gemm(.transpose, .none, m: OC, n: C, k: N, dout, lda: OC, inp, ldb: C, beta: 1, dweight, ldc: C)
        case .inOut:  // (C, OC) += inpᵀ · dout
            bf16Gemm(.transpose, .none, m: C, n: OC, k: N, inp, lda: C, dout, ldb: OC, beta: 1, dweight, ldc: OC)
        }
    }
    if let dbias { addRows(of: dout, N: N, OC: OC, into: dbias) }
}

/// `sum[o] += Σₙ rows[n, o]` for (N, OC) rows, row by row in float32 (a bias gradient).
func addRows(of rows: UnsafePointer<Float>, N: Int, OC: Int, into sum: UnsafeMutablePointer<Float>) {
    for n in 0..<N {
        let row = rows + n * OC
        for o in 0..<OC { sum[o] += row[o] }
    }
}
