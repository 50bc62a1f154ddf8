import DLLMCheckpoint

extension UnsafeRawPointer {
    /// A little-endian UInt16 at `offset` (no alignment needed).
    @inline(__always)
    func littleEndianUInt16(at offset: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }

    /// A little-endian UInt32 at `offset` (no alignment needed).
    @inline(__always)
    func littleEndianUInt32(at offset: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }

    /// The binary16 at `offset` as a `Float` (exact, DLLMCheckpoint's conversion).
    @inline(__always)
    func half(at offset: Int) -> Float { HalfPrecision.float(fromF16: littleEndianUInt16(at: offset)) }

    /// The byte at `offset`.
    @inline(__always)
    func byte(at offset: Int) -> UInt8 { load(fromByteOffset: offset, as: UInt8.self) }
}
