import Foundation

/// Storage width of the tokens in a shard.
public enum TokenDType: String, Codable, Sendable {
    case u16
    case u32

    public var width: Int { self == .u16 ? 2 : 4 }

    /// The narrowest dtype that holds every token, or nil when a token is negative or too large.
    public static func narrowest(for tokens: some Sequence<Int32>) -> TokenDType? {
        var maximum: Int32 = 0
        for t in tokens {
            if t < 0 { return nil }
            maximum = max(maximum, t)
        }
        return maximum <= Int32(UInt16.max) ? .u16 : .u32
    }
}

/// The 64-byte header of a token shard file (`.dtok`), little-endian:
///
/// | bytes | field |
/// | --- | --- |
/// | 0–7 | magic `DLLMTOK1` |
/// | 8–11 | format version (u32, 1) |
/// | 12–15 | bytes per token (u32: 2 = u16, 4 = u32) |
/// | 16–23 | token count (u64) |
/// | 24–31 | sequence length (u64) |
/// | 32–39 | FNV-1a 64 checksum of the token bytes |
/// | 40–47 | EOS token id (i64, -1 when none) |
/// | 48–63 | reserved, zero |
///
/// The tokens follow at byte 64; the file size must be exactly `64 + count × width`.
/// Sequence `i` is tokens `i·L ..< (i+1)·L`; only the last sequence of a split's last shard may
/// be shorter (a kept tail, without `drop_tail`).
public struct TokenShardHeader: Equatable, Sendable {
    public static let size = 64
    public static let magic = Array("DLLMTOK1".utf8)
    public static let currentVersion: UInt32 = 1

    public var version: UInt32 = TokenShardHeader.currentVersion
    public var dtype: TokenDType
    public var tokenCount: Int
    public var sequenceLength: Int
    public var checksum: UInt64
    public var eosTokenID: Int64

    public init(dtype: TokenDType, tokenCount: Int, sequenceLength: Int, checksum: UInt64, eosTokenID: Int32?) {
        self.dtype = dtype
        self.tokenCount = tokenCount
        self.sequenceLength = sequenceLength
        self.checksum = checksum
        self.eosTokenID = eosTokenID.map(Int64.init) ?? -1
    }

    public var encoded: [UInt8] {
        var out = Self.magic
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(version)
        put(UInt32(dtype.width))
        put(UInt64(tokenCount))
        put(UInt64(sequenceLength))
        put(checksum)
        put(eosTokenID)
        out.append(contentsOf: [UInt8](repeating: 0, count: Self.size - out.count))
        return out
    }

    /// Parses and validates a header against the file's size.
    public static func decode(_ bytes: UnsafeRawBufferPointer, fileSize: Int, file: String) throws -> TokenShardHeader {
        guard bytes.count >= size, fileSize >= size else { throw TokenShardError.truncatedHeader(file: file, size: fileSize) }
        guard Array(bytes[0..<8]) == magic else {
            let found = bytes[0..<8].map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
            throw TokenShardError.wrongMagic(file: file, found: "'\(found)'")
        }
        func get<T: FixedWidthInteger>(_ at: Int, _ t: T.Type) -> T { T(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: T.self)) }
        let version = get(8, UInt32.self)
        guard version == currentVersion else { throw TokenShardError.unsupportedVersion(file: file, version: version) }
        let dtype: TokenDType
        switch get(12, UInt32.self) {
        case 2: dtype = .u16
        case 4: dtype = .u32
        case let w: throw TokenShardError.invalidHeader(file: file, detail: "\(w) bytes per token (expected 2 or 4)")
        }
        let count = get(16, UInt64.self)
        let length = get(24, UInt64.self)
        guard length >= 1, length <= UInt64(Int32.max) else {
            throw TokenShardError.invalidHeader(file: file, detail: "sequence length \(length)")
        }
        guard bytes[48..<64].allSatisfy({ $0 == 0 }) else {
            throw TokenShardError.invalidHeader(file: file, detail: "reserved bytes 48–63 are not zero")
        }
        let (payload, overflow) = count.multipliedReportingOverflow(by: UInt64(dtype.width))
        let expected = overflow || payload > UInt64(Int.max - size) ? Int.max : Int(payload) + size
        guard expected == fileSize else { throw TokenShardError.sizeMismatch(file: file, expected: expected, actual: fileSize) }
        var header = TokenShardHeader(dtype: dtype, tokenCount: Int(count), sequenceLength: Int(length),
                                      checksum: get(32, UInt64.self), eosTokenID: nil)
        header.eosTokenID = get(40, Int64.self)
        return header
    }
}

/// FNV-1a 64-bit hash, the shard checksum.
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        value = h
    }
}
