import CBFloat16
import RealModule
/// Tile sizes of the tiled attention: query rows and key columns per score tile.
public struct AttentionTiles: Sendable {
    public var queries: Int, keys: Int

    public init(queries: Int, keys: Int) {
        precondition(queries > 0 && keys > 0, "AttentionTiles: tile sizes must be positive")
        self.queries = queries
        self.keys = keys
    }

    /// (64, 256): a 64 KiB fp32 score tile, which stays in L2.
    public static let standard = AttentionTiles(queries: 64, keys: 256)
}

/// Attention without the (T, T) matrix (FlashAttention-2, Dao 2023, Algorithm 1, on the CPU):
/// the same result as ``attentionForward`` (`out = softmax(Q·Kᵀ/√HD + mask)·V` per sequence
/// and query head, key/value head `h / (NH/NKV)`), computed over (64, 256) score tiles with an
/// online softmax. Each query row keeps a running maximum `m` and sum `l`; a new tile with
/// maximum `m'` rescales the row's partial output and sum by `exp(m − m')`.
///
/// Only `lse` (B, NH, T), the per-row log-sum-exp `m + log l`, is kept for backward
/// (`+∞` for a row with no allowed key, whose output is zeros). Memory per task is one
/// score tile; strides and head columns are those of ``attentionForward``.
@inlinable
public func tiledAttentionForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>, ldo: Int,
    _ lse: UnsafeMutablePointer<S>,
    _ q: UnsafePointer<S>, ldq: Int, _ k: UnsafePointer<S>, ldk: Int, _ v: UnsafePointer<S>, ldv: Int,
    mask: AttentionMask, B: Int, T: Int, NH: Int, NKV: Int, HD: Int, tiles: AttentionTiles = .standard,
    precision: AttentionPrecision = .native
) {
    precondition(NH % NKV == 0, "attention: \(NH) query heads do not group into \(NKV) key/value heads")
    precondition(mask.B == B && mask.T == T, "attention: mask is for (\(mask.B), \(mask.T)), batch is (\(B), \(T))")
    let group = NH / NKV
    let scale = 1 / S.sqrt(S(HD))
    let Br = tiles.queries, Bc = tiles.keys
    mask.withView { view in
        withSingleThreadedBLAS {
            // One task per (sequence, key/value head): its query heads share K and V, which bf16
            // products pack once per key tile for all of them.
            parallelChunks(B * NKV) { tasks in
                let tile = UnsafeMutablePointer<S>.allocate(capacity: Br * Bc)     // (Br, Bc) scores, then probabilities
                let stats = UnsafeMutablePointer<S>.allocate(capacity: 2 * Br)     // running max, running sum
                let packCount = precision.scratchCount(rows: Br, T: Bc, HD: HD)
                let pack = packCount > 0 ? UnsafeMutablePointer<UInt16>.allocate(capacity: packCount) : nil
                let keys = PackedKeyTiles(precision, T: T, Bc: Bc, HD: HD, layouts: [.transposedK, .v])
                let packedQ = precision.packedRowsCount(m: Br, k: HD)
                let qPack = packedQ > 0 ? UnsafeMutablePointer<UInt16>.allocate(capacity: packedQ) : nil  // Q_i as packed rows
                let rowPass = AttentionRowPass(precision, rows: Br, cols: Bc)  // bf16: P_i packed as its rows are computed
                defer { tile.deallocate(); stats.deallocate(); pack?.deallocate(); keys.deallocate(); qPack?.deallocate(); rowPass?.deallocate() }
                let runningMax = stats, runningSum = stats + Br
                for task in tasks {
                    let b = task / NKV, g = task % NKV
                    let kbg = k + b * T * ldk + g * HD
                    let vbg = v + b * T * ldv + g * HD
                    keys.pack(kbg, ldk: ldk, vbg, ldv: ldv)
                    for h in (g * group)..<((g + 1) * group) {
                        let qbh = q + b * T * ldq + h * HD
                        let obh = out + b * T * ldo + h * HD
                        let lsebh = lse + (b * NH + h) * T
                        for i0 in stride(from: 0, to: T, by: Br) {
                            let rows = min(Br, T - i0)
                            let o = obh + i0 * ldo                                       // (rows, HD), row stride ldo
                            for r in 0..<rows {
                                runningMax[r] = -S.infinity
                                runningSum[r] = 0
                                (o + r * ldo).update(repeating: 0, count: HD)
                            }
                            if let qPack { attentionPackRows(.none, m: rows, k: HD, qbh + i0 * ldq, lda: ldq, into: qPack) }
                            // A causal base hides every key after the tile's last query.
                            let keyEnd = view.causal ? i0 + rows : T
                            for j0 in stride(from: 0, to: keyEnd, by: Bc) {
                                let cols = min(Bc, keyEnd - j0)
                                // scores (rows, cols) = scale · Q_i (rows, HD) · K_jᵀ (HD, cols); bf16 scales in the row pass
                                attentionProduct(precision, .none, .transpose, m: rows, n: cols, k: HD, alpha: rowPass == nil ? scale : 1,
                                                 qbh + i0 * ldq, lda: ldq, kbg + j0 * ldk, ldb: ldk, tile, ldc: cols, scratch: pack,
                                                 packedA: qPack, packedB: keys.packed(.transposedK, tile: j0 / Bc, keys: cols))
                                for r in 0..<rows {
                                    let row = tile + r * cols
                                    maskScoreRow(row, b: b, i: i0 + r, j0: j0, cols: cols, view: view)
                                    let pRow = rowPass.map { $0.row(r, width: cols) }  // P_i's packed bf16 row r
                                    let tileMax = pRow == nil ? S.maximum(row, count: cols) : S(cbf16_attention_scale_max(float(row), cols, Float(scale)))
                                    let newMax = max(runningMax[r], tileMax)
                                    if newMax == -S.infinity {
                                        // Nothing allowed yet: the tile adds nothing to this row.
                                        row.update(repeating: 0, count: cols)
                                        pRow?.update(repeating: 0, count: bf16PackedRowsCount(N: 1, C: cols))
                                        continue
                                    }
                                    let correction = S.fastExp(runningMax[r] - newMax)
                                    if let pRow {
                                        cbf16_attention_exp(float(row), cols, 1, Float(newMax), pRow)
                                    } else {
                                        for c in 0..<cols { row[c] = S.fastExp(row[c] - newMax) }
                                    }
                                    runningSum[r] = runningSum[r] * correction + S.sum(row, count: cols)
                                    runningMax[r] = newMax
                                    if correction != 1 {
                                        let orow = o + r * ldo
                                        for d in 0..<HD { orow[d] *= correction }
                                    }
                                }
                                // O_i (rows, HD) += P (rows, cols) · V_j (cols, HD)
                                attentionProduct(precision, .none, .none, m: rows, n: HD, k: cols, tile, lda: cols, vbg + j0 * ldv, ldb: ldv,
                                                 beta: 1, o, ldc: ldo, scratch: pack, packedA: rowPass?.rows,
                                                 packedB: keys.packed(.v, tile: j0 / Bc, keys: cols))
                            }
                            for r in 0..<rows {
                                let orow = o + r * ldo
                                if runningSum[r] == 0 {
                                    for d in 0..<HD { orow[d] = 0 }
                                    lsebh[i0 + r] = S.infinity
                                } else {
                                    let inv = 1 / runningSum[r]
                                    for d in 0..<HD { orow[d] *= inv }
                                    lsebh[i0 + r] = runningMax[r] + S.log(runningSum[r])
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// K and V of one (sequence, key/value head) packed for bf16 products once per key tile of `Bc`
/// keys, which every query tile and query head of the group then shares (when every product packed
/// its own operands, packing took 19 % of bf16 attention's time at SmolLM2's shape, 8 × 3 packs of
/// each key tile at T = 512). Each tile holds the ``Layouts``
/// asked for, one after another. Holds nothing for native products, whose accessors return nil.
@usableFromInline
struct PackedKeyTiles {
    /// Kᵀ (HD, keys) as panels for `Q·Kᵀ`; K (keys, HD) for backward's `dS·K`; V (keys, HD) for
    /// forward's `P·V`; Vᵀ (HD, keys) for backward's `dO·Vᵀ`.
    @usableFromInline
    struct Layouts: OptionSet, Sendable {
        @usableFromInline let rawValue: Int
        @inlinable init(rawValue: Int) { self.rawValue = rawValue }
        @usableFromInline static let transposedK = Layouts(rawValue: 1), k = Layouts(rawValue: 2)
        @usableFromInline static let transposedV = Layouts(rawValue: 4), v = Layouts(rawValue: 8)
        /// Each layout once, in the order of their bits (a tile stores them in this order).
        @usableFromInline static let order: [Layouts] = [.transposedK, .k, .transposedV, .v]
        @inlinable var transposed: Bool { self == .transposedK || self == .transposedV }
    }

    @usableFromInline let T: Int, Bc: Int, HD: Int
    /// Where each layout (by the bit it sets) starts within a tile, -1 when not asked for; the UInt16s of a tile.
    @usableFromInline let offsets: [Int], tileCount: Int
    @usableFromInline let storage: UnsafeMutablePointer<UInt16>?

    @inlinable
    init(_ precision: AttentionPrecision, T: Int, Bc: Int, HD: Int, layouts: Layouts) {
        (self.T, self.Bc, self.HD) = (T, Bc, HD)
        var offsets = [Int](repeating: -1, count: Layouts.order.count), running = 0
        for (bit, layout) in Layouts.order.enumerated() where layouts.contains(layout) {
            offsets[bit] = running
            running += layout.transposed ? precision.packedPanelsCount(k: HD, n: Bc) : precision.packedPanelsCount(k: Bc, n: HD)
        }
        (self.offsets, tileCount) = (offsets, running)
        storage = running > 0 ? UnsafeMutablePointer<UInt16>.allocate(capacity: (T + Bc - 1) / Bc * running) : nil
    }

    @inlinable func deallocate() { storage?.deallocate() }

    /// Where `layout` of key tile `j` starts.
    @inlinable
    func start(_ layout: Layouts, tile j: Int) -> UnsafeMutablePointer<UInt16>? {
        let offset = offsets[layout.rawValue.trailingZeroBitCount]
        guard let storage, offset >= 0 else { return nil }
        return storage + j * tileCount + offset
    }

    /// Packs every key tile of K (T rows, stride `ldk`) and V (stride `ldv`) in the layouts asked for.
    @inlinable
    func pack<S: ComputeScalar>(_ k: UnsafePointer<S>, ldk: Int, _ v: UnsafePointer<S>, ldv: Int) {
        guard storage != nil else { return }
        for j0 in stride(from: 0, to: T, by: Bc) {
            let keys = min(Bc, T - j0), j = j0 / Bc
            if let p = start(.transposedK, tile: j) { attentionPackPanels(.transpose, k: HD, n: keys, k + j0 * ldk, ldb: ldk, into: p) }
            if let p = start(.k, tile: j) { attentionPackPanels(.none, k: keys, n: HD, k + j0 * ldk, ldb: ldk, into: p) }
            if let p = start(.transposedV, tile: j) { attentionPackPanels(.transpose, k: HD, n: keys, v + j0 * ldv, ldb: ldv, into: p) }
            if let p = start(.v, tile: j) { attentionPackPanels(.none, k: keys, n: HD, v + j0 * ldv, ldb: ldv, into: p) }
        }
    }

    /// `layout` of key tile `j` for a product over `keys` of its keys. Transposed panels serve any
    /// first keys; K or V panels (whose pairs run along the keys) only the whole tile, so a causal
    /// diagonal tile packs its own (nil).
    @inlinable
    func packed(_ layout: Layouts, tile j: Int, keys: Int) -> UnsafePointer<UInt16>? {
        guard layout.transposed || keys == min(Bc, T - j * Bc) else { return nil }
        return start(layout, tile: j).map { UnsafePointer($0) }
    }
}

/// Sets the disallowed scores of query `i`'s keys `j0 ..< j0 + cols` to −∞.
@inlinable @inline(__always)
func maskScoreRow<S: ComputeScalar>(_ row: UnsafeMutablePointer<S>, b: Int, i: Int, j0: Int, cols: Int, view: AttentionMaskView) {
    if view.isBaseOnly {
        // Keys after `keyEnd(i)` only (a causal base); a bidirectional one allows them all.
        let allowed = max(0, min(cols, view.keyEnd(i) - j0))
        for c in allowed..<cols { row[c] = -S.infinity }
        return
    }
    for c in 0..<cols where !view.allows(b, i, j0 + c) { row[c] = -S.infinity }
}

/// Backward of ``tiledAttentionForward`` (FlashAttention-2, Algorithm 2), accumulating into
/// `dq`, `dk`, `dv`. Each score tile is recomputed as `P = exp(scale·Q·Kᵀ − lse)` (0 where
/// masked), then with `D_i = Σ_d dO·O` per query row:
/// `dV += Pᵀ·dO`, `dP = dO·Vᵀ`, `dS = P ⊙ (dP − D)`, `dQ += scale·dS·K`, `dK += scale·dSᵀ·Q`.
/// `out` is the forward's output (same stride `ldo` as `dout`), `lse` its (B, NH, T) log-sum-exp.
/// One task per (sequence, key/value head), as ``attentionBackward``, so writes never race.
/// With bf16 products the scale multiplies `dS` before it is rounded, as in ``attentionBackward``.
@inlinable
public func tiledAttentionBackward<S: ComputeScalar>(
    _ dq: UnsafeMutablePointer<S>, _ dk: UnsafeMutablePointer<S>, _ dv: UnsafeMutablePointer<S>,
    _ dout: UnsafePointer<S>, _ out: UnsafePointer<S>, ldo: Int,
    _ lse: UnsafePointer<S>,
    _ q: UnsafePointer<S>, ldq: Int, _ k: UnsafePointer<S>, ldk: Int, _ v: UnsafePointer<S>, ldv: Int,
    mask: AttentionMask, B: Int, T: Int, NH: Int, NKV: Int, HD: Int, tiles: AttentionTiles = .standard,
    precision: AttentionPrecision = .native
) {
    precondition(NH % NKV == 0, "attention: \(NH) query heads do not group into \(NKV) key/value heads")
    precondition(mask.B == B && mask.T == T, "attention: mask is for (\(mask.B), \(mask.T)), batch is (\(B), \(T))")
    let group = NH / NKV
    let scale = 1 / S.sqrt(S(HD))
    let Br = tiles.queries, Bc = tiles.keys
    mask.withView { view in
        withSingleThreadedBLAS {
            parallelChunks(B * NKV) { tasks in
                let P = UnsafeMutablePointer<S>.allocate(capacity: Br * Bc)    // (Br, Bc) probabilities
                let dS = UnsafeMutablePointer<S>.allocate(capacity: Br * Bc)   // (Br, Bc) dP, then dS
                let D = UnsafeMutablePointer<S>.allocate(capacity: T)          // (T) rowsum(dO ⊙ O)
                let packCount = precision.scratchCount(rows: Br, T: Bc, HD: HD)
                let pack = packCount > 0 ? UnsafeMutablePointer<UInt16>.allocate(capacity: packCount) : nil
                let keys = PackedKeyTiles(precision, T: T, Bc: Bc, HD: HD, layouts: [.transposedK, .k, .transposedV])
                // bf16: Q_i and dO_i packed once per query tile, as rows (Q·Kᵀ, dO·Vᵀ) and as panels (dSᵀ·Q, Pᵀ·dO).
                let rowsCount = precision.packedRowsCount(m: Br, k: HD), panelsCount = precision.packedPanelsCount(k: Br, n: HD)
                let queryPack = rowsCount > 0 ? UnsafeMutablePointer<UInt16>.allocate(capacity: 2 * (rowsCount + panelsCount)) : nil
                let qRows = queryPack, doRows = queryPack.map { $0 + rowsCount }
                let qPanels = queryPack.map { $0 + 2 * rowsCount }, doPanels = queryPack.map { $0 + 2 * rowsCount + panelsCount }
                let rowPass = AttentionRowPass(precision, rows: Br, cols: Bc)  // bf16: dS_i packed as its rows are computed
                defer { P.deallocate(); dS.deallocate(); D.deallocate(); pack?.deallocate(); keys.deallocate(); queryPack?.deallocate(); rowPass?.deallocate() }
                let productScale = precision == .bfloat16 ? 1 : scale  // bf16: folded into dS
                for task in tasks {
                    let b = task / NKV, g = task % NKV
                    let kbg = k + b * T * ldk + g * HD, vbg = v + b * T * ldv + g * HD
                    let dkbg = dk + b * T * ldk + g * HD, dvbg = dv + b * T * ldv + g * HD
                    keys.pack(kbg, ldk: ldk, vbg, ldv: ldv)
                    for h in (g * group)..<((g + 1) * group) {
                        let qbh = q + b * T * ldq + h * HD, dqbh = dq + b * T * ldq + h * HD
                        let dobh = dout + b * T * ldo + h * HD, obh = out + b * T * ldo + h * HD
                        let lsebh = lse + (b * NH + h) * T
                        for i in 0..<T { D[i] = S.dot(dobh + i * ldo, obh + i * ldo, count: HD) }
                        for i0 in stride(from: 0, to: T, by: Br) {
                            let rows = min(Br, T - i0)
                            let keyEnd = view.causal ? i0 + rows : T
                            if let qRows, let doRows, let qPanels, let doPanels {
                                attentionPackRows(.none, m: rows, k: HD, qbh + i0 * ldq, lda: ldq, into: qRows)
                                attentionPackRows(.none, m: rows, k: HD, dobh + i0 * ldo, lda: ldo, into: doRows)
                                attentionPackPanels(.none, k: rows, n: HD, qbh + i0 * ldq, ldb: ldq, into: qPanels)
                                attentionPackPanels(.none, k: rows, n: HD, dobh + i0 * ldo, ldb: ldo, into: doPanels)
                            }
                            for j0 in stride(from: 0, to: keyEnd, by: Bc) {
                                let cols = min(Bc, keyEnd - j0), j = j0 / Bc
                                attentionProduct(precision, .none, .transpose, m: rows, n: cols, k: HD, alpha: rowPass == nil ? scale : 1,
                                                 qbh + i0 * ldq, lda: ldq, kbg + j0 * ldk, ldb: ldk, P, ldc: cols, scratch: pack,
                                                 packedA: qRows, packedB: keys.packed(.transposedK, tile: j, keys: cols))
                                for r in 0..<rows {
                                    let row = P + r * cols
                                    maskScoreRow(row, b: b, i: i0 + r, j0: j0, cols: cols, view: view)
                                    let l = lsebh[i0 + r]
                                    if l == S.infinity {
                                        row.update(repeating: 0, count: cols)
                                    } else if rowPass != nil {
                                        cbf16_attention_exp(float(row), cols, Float(scale), Float(l), nil)
                                    } else {
                                        for c in 0..<cols { row[c] = S.fastExp(row[c] - l) }
                                    }
                                }
                                // dV_j (cols, HD) += Pᵀ · dO_i
                                attentionProduct(precision, .transpose, .none, m: cols, n: HD, k: rows, P, lda: cols, dobh + i0 * ldo,
                                                 ldb: ldo, beta: 1, dvbg + j0 * ldv, ldc: ldv, scratch: pack, packedB: doPanels)
                                // dP (rows, cols) = dO_i · V_jᵀ
                                attentionProduct(precision, .none, .transpose, m: rows, n: cols, k: HD, dobh + i0 * ldo, lda: ldo,
                                                 vbg + j0 * ldv, ldb: ldv, dS, ldc: cols, scratch: pack,
                                                 packedA: doRows, packedB: keys.packed(.transposedV, tile: j, keys: cols))
                                for r in 0..<rows {
                                    let p = P + r * cols, d = dS + r * cols, Di = D[i0 + r]
                                    if let rowPass {  // dS_i's packed bf16 row r too
                                        cbf16_attention_score_gradient(float(p), float(d), cols, Float(Di), Float(scale), rowPass.row(r, width: cols))
                                    } else {
                                        for c in 0..<cols { d[c] = p[c] * (d[c] - Di) }
                                    }
                                }
                                // dQ_i += scale · dS · K_j ;  dK_j += scale · dSᵀ · Q_i
                                attentionProduct(precision, .none, .none, m: rows, n: HD, k: cols, alpha: productScale, dS, lda: cols,
                                                 kbg + j0 * ldk, ldb: ldk, beta: 1, dqbh + i0 * ldq, ldc: ldq, scratch: pack,
                                                 packedA: rowPass?.rows, packedB: keys.packed(.k, tile: j, keys: cols))
                                attentionProduct(precision, .transpose, .none, m: cols, n: HD, k: rows, alpha: productScale, dS, lda: cols,
                                                 qbh + i0 * ldq, ldb: ldq, beta: 1, dkbg + j0 * ldk, ldc: ldk, scratch: pack, packedB: qPanels)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// bf16 attention's elementwise row passes (Sources/CBFloat16/AttentionRows.c: sixteen lanes where
/// the CPU has AVX-512, the Swift loops' values bit for bit), which also round each finished row of a
/// score tile (P forward, dS backward) into the packed bf16 rows its next product reads. Nil for
/// native products, which keep the Swift loops.
@usableFromInline
struct AttentionRowPass {
    /// (rows, cols) packed bf16 rows, `cbf16_packed_a_stride(cols)` apart.
    @usableFromInline let rows: UnsafeMutablePointer<UInt16>

    @inlinable
    init?(_ precision: AttentionPrecision, rows: Int, cols: Int) {
        guard precision == .bfloat16 else { return nil }
        self.rows = .allocate(capacity: precision.packedRowsCount(m: rows, k: cols))
    }

    @inlinable func deallocate() { rows.deallocate() }

    /// Packed row `r` of a tile `width` columns wide.
    @inlinable func row(_ r: Int, width: Int) -> UnsafeMutablePointer<UInt16> { rows + bf16PackedRowsCount(N: r, C: width) }
}

/// A Float model's buffer as Float (bf16 attention runs only on Float models: ``attentionProduct``).
@inlinable @inline(__always)
func float<S: ComputeScalar>(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
}

@inlinable @inline(__always)
func float<S: ComputeScalar>(_ p: UnsafePointer<S>) -> UnsafePointer<Float> {
    UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
}
