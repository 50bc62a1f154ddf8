/// Scalar reference dequantisers, one per ggml type, bit-exact with gguf-py
/// `quants.dequantize` (numpy float32 arithmetic: each product and sum rounded on its
/// own, no fused multiply-add).
public enum GGMLDequantize {
    /// Turns `count` elements of `type` starting at `source` (a whole number of blocks)
    /// into floats at `destination`. The caller guarantees `source` holds
    /// `count / type.blockSize × type.bytesPerBlock` bytes and `destination` `count` floats.
    /// Rows of a tensor are consecutive blocks, so any run of whole rows can be converted.
    public static func rows(_ type: GGMLType, from source: UnsafeRawPointer, count: Int,
                            into destination: UnsafeMutablePointer<Float>) {
        precondition(type.canDequantize, "\(type.name) has no dequantiser")
        precondition(count % type.blockSize == 0, "\(count) elements is not whole \(type.name) blocks")
        let blocks = count / type.blockSize
        switch type {
        case .f32: dequantizeF32(source, count: count, into: destination)
        case .f16: dequantizeF16(source, count: count, into: destination)
        case .bf16: dequantizeBF16(source, count: count, into: destination)
        case .q8_0: dequantizeQ8_0(source, blocks: blocks, into: destination)
        case .q4_0: dequantizeQ4_0(source, blocks: blocks, into: destination)
        case .q4_1: dequantizeQ4_1(source, blocks: blocks, into: destination)
        case .q5_0: dequantizeQ5_0(source, blocks: blocks, into: destination)
        case .q5_1: dequantizeQ5_1(source, blocks: blocks, into: destination)
        case .q4_K: dequantizeQ4_K(source, blocks: blocks, into: destination)
        case .q5_K: dequantizeQ5_K(source, blocks: blocks, into: destination)
        case .q6_K: dequantizeQ6_K(source, blocks: blocks, into: destination)
        default: preconditionFailure("unreachable: \(type.name) passed canDequantize")
        }
    }
}
