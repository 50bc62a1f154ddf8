extension GGMLDequantize {
    /// The 5-bit code of element `i` of a Q5 block: low nibble from `qs` (as Q4_0's
    /// layout), fifth bit = bit i of the little-endian UInt32 `qh`.
    @inline(__always)
    private static func q5Code(_ qs: UnsafeRawPointer, _ qh: UInt32, _ i: Int) -> UInt8 {
        let low = i < 16 ? qs.byte(at: i) & 0x0F : qs.byte(at: i - 16) >> 4
        let high = UInt8((qh >> UInt32(i)) & 1)
        return low | high << 4
    }

    /// Q5_0: 22-byte blocks of 32 — f16 `d`, UInt32 `qh`, 16 bytes `qs`; value = d · (q − 16).
    /// Mirrors gguf-py `quants.Q5_0.dequantize_blocks`.
    static func dequantizeQ5_0(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for block in 0 ..< blocks {
            let base = source + block * 22
            let d = base.half(at: 0)
            let qh = base.littleEndianUInt32(at: 2)
            let values = out + block * 32
            for i in 0 ..< 32 { values[i] = d * Float(Int(q5Code(base + 6, qh, i)) - 16) }
        }
    }

    /// Q5_1: 24-byte blocks of 32 — f16 `d`, f16 `m`, UInt32 `qh`, 16 bytes `qs`;
    /// value = (d · q) + m, two roundings. Mirrors gguf-py `quants.Q5_1.dequantize_blocks`.
    static func dequantizeQ5_1(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for block in 0 ..< blocks {
            let base = source + block * 24
            let d = base.half(at: 0)
            let m = base.half(at: 2)
            let qh = base.littleEndianUInt32(at: 4)
            let values = out + block * 32
            for i in 0 ..< 32 {
                let scaled: Float = d * Float(q5Code(base + 8, qh, i))
                values[i] = scaled + m
            }
        }
    }
}
