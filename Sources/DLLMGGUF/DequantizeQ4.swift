extension GGMLDequantize {
    /// Q4_0: 18-byte blocks of 32 — f16 `d`, 16 bytes of nibbles (element i < 16 is the
    /// low nibble of byte i, element 16 + i its high nibble); value = d · (q − 8).
    /// Mirrors gguf-py `quants.Q4_0.dequantize_blocks`.
    static func dequantizeQ4_0(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for block in 0 ..< blocks {
            let base = source + block * 18
            let d = base.half(at: 0)
            let values = out + block * 32
            for i in 0 ..< 16 {
                let packed = base.byte(at: 2 + i)
                values[i] = d * Float(Int(packed & 0x0F) - 8)
                values[16 + i] = d * Float(Int(packed >> 4) - 8)
            }
        }
    }

    /// Q4_1: 20-byte blocks of 32 — f16 `d`, f16 `m`, 16 bytes of nibbles (as Q4_0);
    /// value = (d · q) + m, two roundings. Mirrors gguf-py `quants.Q4_1.dequantize_blocks`.
    static func dequantizeQ4_1(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for block in 0 ..< blocks {
            let base = source + block * 20
            let d = base.half(at: 0)
            let m = base.half(at: 2)
            let values = out + block * 32
            for i in 0 ..< 16 {
                let packed = base.byte(at: 4 + i)
                let low: Float = d * Float(packed & 0x0F)
                let high: Float = d * Float(packed >> 4)
                values[i] = low + m
                values[16 + i] = high + m
            }
        }
    }
}
