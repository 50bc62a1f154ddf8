import DLLMCheckpoint

/// ggml's `nearest_int`: round half to even.
@inline(__always)
private func nearestInt(_ x: Float) -> Int { Int(x.rounded(.toNearestOrEven)) }

/// One 32-element sub-block as `min + scale · L` with L in 0…`nmax`: the weighted least-squares
/// search of ggml's `make_qkx2_quants` (start from the min/max grid, then try `nstep + 1` grids of
/// (rmin + rdelta·is + nmax) / (max − min), solve scale and min in closed form for each, keep the
/// one with the smallest weighted squared error). Returns (scale, −min); writes L.
private func fitSubBlock(_ x: UnsafePointer<Float>, weights w: UnsafePointer<Float>, count n: Int, nmax: Int,
                         levels: UnsafeMutablePointer<UInt8>, rmin: Float, rdelta: Float, nstep: Int) -> (scale: Float, negatedMin: Float) {
    var lo = x[0], hi = x[0]
    var sumW = w[0], sumX = w[0] * x[0]
    for i in 1..<n {
        lo = min(lo, x[i]); hi = max(hi, x[i])
        sumW += w[i]; sumX += w[i] * x[i]
    }
    if lo > 0 { lo = 0 }
    if hi == lo {
        for i in 0..<n { levels[i] = 0 }
        return (0, -lo)
    }
    let top = Float(nmax)
    var iscale = top / (hi - lo)
    var scale = 1 / iscale
    var bestError: Float = 0
    for i in 0..<n {
        let l = UInt8(clamping: max(0, min(nmax, nearestInt(iscale * (x[i] - lo)))))
        levels[i] = l
        let diff = scale * Float(l) + lo - x[i]
        bestError += w[i] * (diff * diff)
    }
    var trial = [UInt8](repeating: 0, count: n)
    for step in 0...nstep {
        iscale = (rmin + rdelta * Float(step) + top) / (hi - lo)
        var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
        for i in 0..<n {
            let l = max(0, min(nmax, nearestInt(iscale * (x[i] - lo))))
            trial[i] = UInt8(l)
            let lf = Float(l)
            sumL += w[i] * lf
            sumL2 += w[i] * lf * lf
            sumXL += w[i] * lf * x[i]
        }
        let det = sumW * sumL2 - sumL * sumL
        guard det > 0 else { continue }
        var thisScale = (sumW * sumXL - sumX * sumL) / det
        var thisMin = (sumL2 * sumX - sumL * sumXL) / det
        if thisMin > 0 {
            thisMin = 0
            thisScale = sumXL / sumL2
        }
        var error: Float = 0
        for i in 0..<n {
            let diff = thisScale * Float(trial[i]) + thisMin - x[i]
            error += w[i] * (diff * diff)
        }
        if error < bestError {
            for i in 0..<n { levels[i] = trial[i] }
            bestError = error
            scale = thisScale
            lo = thisMin
        }
    }
    return (scale, -lo)
}

/// Quantises `count` floats (a multiple of 256) into Q4_K super-blocks at `out`, mirroring ggml's
/// `quantize_row_q4_K_ref`: each 32-element sub-block is fitted by ``fitSubBlock`` (weights
/// √(mean x²) + |x|, rmin −1, rdelta 0.1, 20 steps); its scale and min are coded in 6 bits against the
/// super-block's f16 `d = max scale / 63` and `dmin = max min / 63`; the elements are then re-quantised
/// against the coded scale and min. Layout as gguf-py `quants.Q4_K` reads it.
func quantizeRowQ4K(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
    let superBlock = 256, subBlocks = 8
    var levels = [UInt8](repeating: 0, count: superBlock)
    var weights = [Float](repeating: 0, count: 32)
    var scales = [Float](repeating: 0, count: subBlocks), mins = [Float](repeating: 0, count: subBlocks)
    for block in 0..<(count / superBlock) {
        let values = x + block * superBlock
        let base = out + block * 144
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<subBlocks {
            let sub = values + 32 * j
            var sumX2: Float = 0
            for l in 0..<32 { sumX2 += sub[l] * sub[l] }
            let average = (sumX2 / 32).squareRoot()
            for l in 0..<32 { weights[l] = average + abs(sub[l]) }
            let fit = levels.withUnsafeMutableBufferPointer { L in
                weights.withUnsafeBufferPointer { w in
                    fitSubBlock(sub, weights: w.baseAddress!, count: 32, nmax: 15, levels: L.baseAddress! + 32 * j,
                                rmin: -1, rdelta: 0.1, nstep: 20)
                }
            }
            scales[j] = fit.scale; mins[j] = fit.negatedMin
            maxScale = max(maxScale, fit.scale); maxMin = max(maxMin, fit.negatedMin)
        }
        let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<subBlocks {
            let ls = UInt8(min(63, nearestInt(inverseScale * scales[j])))
            let lm = UInt8(min(63, nearestInt(inverseMin * mins[j])))
            if j < 4 {
                packed[j] = ls
                packed[j + 4] = lm
            } else {
                packed[j + 4] = (ls & 0x0F) | ((lm & 0x0F) << 4)
                packed[j - 4] |= (ls >> 4) << 6
                packed[j] |= (lm >> 4) << 6
            }
        }
        let dBits = HalfPrecision.f16(from: maxScale / 63), dminBits = HalfPrecision.f16(from: maxMin / 63)
        base.storeBytes(of: dBits.littleEndian, as: UInt16.self)
        base.storeBytes(of: dminBits.littleEndian, toByteOffset: 2, as: UInt16.self)
        for (i, byte) in packed.enumerated() { base.storeBytes(of: byte, toByteOffset: 4 + i, as: UInt8.self) }
        let d = HalfPrecision.float(fromF16: dBits), dmin = HalfPrecision.float(fromF16: dminBits)
        for j in 0..<subBlocks {
            let (sc, m) = j < 4
                ? (packed[j] & 63, packed[j + 4] & 63)
                : ((packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4), (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))
            let scale = d * Float(sc)
            if scale == 0 { continue }
            let offset = dmin * Float(m)
            for i in 0..<32 {
                levels[32 * j + i] = UInt8(max(0, min(15, nearestInt((values[32 * j + i] + offset) / scale))))
            }
        }
        // Bytes 32·(j/2) … +31 of qs hold sub-block j (even j low nibbles, odd j high).
        for pair in 0..<4 {
            for l in 0..<32 {
                let byte = levels[64 * pair + l] | (levels[64 * pair + 32 + l] << 4)
                base.storeBytes(of: byte, toByteOffset: 16 + 32 * pair + l, as: UInt8.self)
            }
        }
    }
}
