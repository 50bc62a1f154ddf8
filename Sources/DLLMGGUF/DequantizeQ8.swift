extension GGMLDequantize {
    /// Q8_0: 34-byte blocks of 32 — f16 scale `d`, then 32 int8 `x`; value = x · d.
    /// Mirrors gguf-py `quants.Q8_0.dequantize_blocks`.
    static func dequantizeQ8_0(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for block in 0 ..< blocks {
            let base = source + block * 34
            let d = base.half(at: 0)
            let values = out + block * 32
            for i in 0 ..< 32 { values[i] = Float(Int8(bitPattern: base.byte(at: 2 + i))) * d }
        }
    }
}
