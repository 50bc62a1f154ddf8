import DLLMCheckpoint
extension GGMLDequantize {
    /// F32: a copy (gguf-py `quants.dequantize`, `data.view(np.float32)`).
    static func dequantizeF32(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0 ..< count { out[i] = Float(bitPattern: source.littleEndianUInt32(at: 4 * i)) }
    }

    /// F16 → F32, exact (gguf-py `quants.dequantize`, `view(np.float16).astype(np.float32)`).
    static func dequantizeF16(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0 ..< count { out[i] = source.half(at: 2 * i) }
    }

    /// BF16 → F32 (mirrors gguf-py `quants.BF16.dequantize_blocks`).
    static func dequantizeBF16(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0 ..< count { out[i] = HalfPrecision.float(fromBF16: source.littleEndianUInt16(at: 2 * i)) }
    }
}
