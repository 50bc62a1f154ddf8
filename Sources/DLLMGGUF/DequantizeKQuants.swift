extension GGMLDequantize {
    /// The eight 6-bit scales and mins packed in a Q4_K/Q5_K block's 12 `scales` bytes
    /// (mirrors gguf-py `quants.Q4_K.get_scale_min`): bytes 0…3 hold scales 0…3 (low 6
    /// bits) and the top 2 bits of scales 4…7; bytes 4…7 likewise for the mins; bytes
    /// 8…11 hold the low nibbles of scales 4…7 (low half) and mins 4…7 (high half).
    @inline(__always)
    static func kScaleMin(_ scales: UnsafeRawPointer, _ j: Int) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (scales.byte(at: j) & 0x3F, scales.byte(at: 4 + j) & 0x3F) }
        let packed = scales.byte(at: 8 + j - 4)
        let scale = (packed & 0x0F) | ((scales.byte(at: j - 4) >> 2) & 0x30)
        let min = (packed >> 4) | ((scales.byte(at: j) >> 2) & 0x30)
        return (scale, min)
    }

    /// Q4_K: 144-byte super-blocks of 256 — f16 `d`, f16 `dmin`, 12 bytes of scales/mins,
    /// 128 bytes `qs`. Sub-block j (32 elements) takes nibble j % 2 of bytes
    /// 32·(j / 2) … +31; value = (d·sc_j)·q − (dmin·m_j), each product rounded.
    /// Mirrors gguf-py `quants.Q4_K.dequantize_blocks`.
    static func dequantizeQ4_K(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for block in 0 ..< blocks {
            let base = source + block * 144
            let d = base.half(at: 0)
            let dmin = base.half(at: 2)
            let qs = base + 16
            let values = out + block * 256
            for j in 0 ..< 8 {
                let (sc, m) = kScaleMin(base + 4, j)
                let scale: Float = d * Float(sc)
                let offset: Float = dmin * Float(m)
                let shift = UInt8(4 * (j % 2))
                for i in 0 ..< 32 {
                    let q = Float((qs.byte(at: 32 * (j / 2) + i) >> shift) & 0x0F)
                    let scaled: Float = scale * q
                    values[32 * j + i] = scaled - offset
                }
            }
        }
    }

    /// Q5_K: 176-byte super-blocks of 256 — f16 `d`, f16 `dmin`, 12 bytes scales/mins,
    /// 32 bytes `qh`, 128 bytes `qs`. As Q4_K, plus a fifth bit: bit j of `qh[i]` for
    /// element i of sub-block j. Mirrors gguf-py `quants.Q5_K.dequantize_blocks`.
    static func dequantizeQ5_K(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for block in 0 ..< blocks {
            let base = source + block * 176
            let d = base.half(at: 0)
            let dmin = base.half(at: 2)
            let qh = base + 16
            let qs = base + 48
            let values = out + block * 256
            for j in 0 ..< 8 {
                let (sc, m) = kScaleMin(base + 4, j)
                let scale: Float = d * Float(sc)
                let offset: Float = dmin * Float(m)
                let shift = UInt8(4 * (j % 2))
                for i in 0 ..< 32 {
                    let low = (qs.byte(at: 32 * (j / 2) + i) >> shift) & 0x0F
                    let high = (qh.byte(at: i) >> UInt8(j)) & 1
                    let scaled: Float = scale * Float(low | high << 4)
                    values[32 * j + i] = scaled - offset
                }
            }
        }
    }

    /// Q6_K: 210-byte super-blocks of 256 — 128 bytes `ql`, 64 bytes `qh`, 16 int8
    /// scales, f16 `d`. Group g of 32 (h = g / 4, r = g % 4): low 4 bits from nibble r / 2
    /// of `ql[64h + 32(r % 2) + i]`, high 2 bits from bits 2r of `qh[32h + i]`;
    /// value = (d · scale[e / 16]) · (q − 32). Mirrors gguf-py `quants.Q6_K.dequantize_blocks`.
    static func dequantizeQ6_K(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for block in 0 ..< blocks {
            let base = source + block * 210
            let ql = base
            let qh = base + 128
            let scales = base + 192
            let d = base.half(at: 208)
            let values = out + block * 256
            for g in 0 ..< 8 {
                let h = g / 4, r = g % 4
                for i in 0 ..< 32 {
                    let element = 32 * g + i
                    let low = (ql.byte(at: 64 * h + 32 * (r % 2) + i) >> UInt8(4 * (r / 2))) & 0x0F
                    let high = (qh.byte(at: 32 * h + i) >> UInt8(2 * r)) & 0x03
                    let q = Int(low | high << 4) - 32
                    let scale: Float = d * Float(Int8(bitPattern: scales.byte(at: element / 16)))
                    values[element] = scale * Float(q)
                }
            }
        }
    }
}
