/// Elements per NF4 block (bitsandbytes' default `blocksize=64`, the one QLoRA bases use).
public let nf4BlockSize = 64

/// The 16 NormalFloat4 values (QLoRA, Dettmers et al. 2023, appendix E), as float32 — the table of
/// bitsandbytes `backends.utils.CODE["nf4"]`.
public let nf4Code: [Float] = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]

/// The index of the code value nearest `scaled` (the first on a tie, as `torch.argmin`).
@inline(__always)
func nearestNF4(_ scaled: Float) -> UInt8 {
    var best = 0, bestDistance = abs(scaled - nf4Code[0])
    for i in 1..<16 {
        let distance = abs(scaled - nf4Code[i])
        if distance < bestDistance { best = i; bestDistance = distance }
    }
    return UInt8(best)
}

/// Quantises `blocks` blocks of 64 floats into NF4 blocks at `out` (layout in ``FrozenWeightFormat/nf4``).
/// Mirrors bitsandbytes `quantize_4bit` (default backend): absmax = max |x| (float32),
/// scaled = clamp(x · (1 / absmax), −1, 1), index = argmin |scaled − code|, two indices per byte with the
/// even element high. An all-zero block (absmax 0) gets index 7 (the code's 0.0) everywhere, as
/// bitsandbytes' CPU kernel writes (recorded in the committed fixture).
func quantizeNF4(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, blocks: Int) {
    for block in 0..<blocks {
        let values = x + block * nf4BlockSize
        let base = out + block * (4 + nf4BlockSize / 2)
        var absmax: Float = 0
        for i in 0..<nf4BlockSize { absmax = max(absmax, abs(values[i])) }
        base.storeBytes(of: absmax.bitPattern.littleEndian, as: UInt32.self)
        let inverse: Float = 1 / absmax
        for i in 0..<(nf4BlockSize / 2) {
            var pair: (UInt8, UInt8) = (7, 7)
            if absmax > 0 {
                pair.0 = nearestNF4(min(max(values[2 * i] * inverse, -1), 1))
                pair.1 = nearestNF4(min(max(values[2 * i + 1] * inverse, -1), 1))
            }
            base.storeBytes(of: pair.0 << 4 | pair.1, toByteOffset: 4 + i, as: UInt8.self)
        }
    }
}

/// NF4 blocks back to floats: value = code[index] · absmax (float32), mirroring bitsandbytes
/// `dequantize_4bit` (default backend).
func dequantizeNF4(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
    nf4Code.withUnsafeBufferPointer { code in
        for block in 0..<blocks {
            let base = source + block * (4 + nf4BlockSize / 2)
            let absmax = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(as: UInt32.self)))
            let values = out + block * nf4BlockSize
            for i in 0..<(nf4BlockSize / 2) {
                let packed = base.load(fromByteOffset: 4 + i, as: UInt8.self)
                values[2 * i] = code[Int(packed >> 4)] * absmax
                values[2 * i + 1] = code[Int(packed & 0x0F)] * absmax
            }
        }
    }
}
