import Foundation

/// One memory-mapped token shard file.
public struct TokenShard: Sendable {
    public let file: String
    public let header: TokenShardHeader
    private let data: Data

    /// Maps `path` and validates its header against the file size; with `verifyChecksum`, also
    /// hashes every token byte.
    public init(path: String, verifyChecksum: Bool = false) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw TokenShardError.cannotRead(file: path, reason: error.localizedDescription)
        }
        let header = try data.withUnsafeBytes { try TokenShardHeader.decode($0, fileSize: data.count, file: path) }
        if verifyChecksum {
            var hash = FNV1a64()
            data.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[TokenShardHeader.size...])) }
            guard hash.value == header.checksum else {
                throw TokenShardError.checksumMismatch(file: path, expected: header.checksum, actual: hash.value)
            }
        }
        self.file = path
        self.header = header
        self.data = data
    }

    public var tokenCount: Int { header.tokenCount }
    public var sequenceLength: Int { header.sequenceLength }
    /// Full sequences plus a short tail sequence when the count is not a multiple of the length.
    public var sequenceCount: Int { (header.tokenCount + header.sequenceLength - 1) / header.sequenceLength }

    /// Tokens `range` as `Int32`.
    public func tokens(_ range: Range<Int>) -> [Int32] {
        precondition(range.lowerBound >= 0 && range.upperBound <= header.tokenCount, "token range out of bounds")
        return data.withUnsafeBytes { raw in
            let base = TokenShardHeader.size
            var out = [Int32]()
            out.reserveCapacity(range.count)
            switch header.dtype {
            case .u16:
                for i in range {
                    out.append(Int32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: base + 2 * i, as: UInt16.self))))
                }
            case .u32:
                for i in range {
                    out.append(Int32(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base + 4 * i, as: UInt32.self))))
                }
            }
            return out
        }
    }

    /// Sequence `index` (the last one may be shorter).
    public func sequence(at index: Int) throws -> [Int32] {
        guard index >= 0 && index < sequenceCount else { throw TokenShardError.indexOutOfRange(index: index, count: sequenceCount) }
        let start = index * header.sequenceLength
        return tokens(start..<min(start + header.sequenceLength, header.tokenCount))
    }
}

/// Writes token shard files atomically (temporary file, then rename).
public enum TokenShardWriter {
    /// Writes `tokens` to `path`; `dtype` nil picks the narrowest that fits.
    @discardableResult
    public static func write(
        tokens: [Int32], sequenceLength: Int, eosTokenID: Int32?, dtype: TokenDType? = nil, to path: String
    ) throws -> TokenShardHeader {
        guard sequenceLength >= 1 else {
            throw TokenShardError.invalidHeader(file: path, detail: "sequence length \(sequenceLength)")
        }
        guard let narrowest = TokenDType.narrowest(for: tokens) else {
            let bad = tokens.first { $0 < 0 } ?? 0
            throw TokenShardError.tokenOutOfRange(file: path, token: Int64(bad), dtype: "an unsigned dtype")
        }
        let chosen = dtype ?? narrowest
        if chosen == .u16 && narrowest == .u32 {
            throw TokenShardError.tokenOutOfRange(file: path, token: Int64(tokens.max() ?? 0), dtype: "u16")
        }
        var payload = [UInt8]()
        payload.reserveCapacity(tokens.count * chosen.width)
        for t in tokens {
            if chosen == .u16 {
                withUnsafeBytes(of: UInt16(t).littleEndian) { payload.append(contentsOf: $0) }
            } else {
                withUnsafeBytes(of: UInt32(bitPattern: t).littleEndian) { payload.append(contentsOf: $0) }
            }
        }
        var hash = FNV1a64()
        payload.withUnsafeBytes { hash.update($0) }
        let header = TokenShardHeader(dtype: chosen, tokenCount: tokens.count, sequenceLength: sequenceLength,
                                      checksum: hash.value, eosTokenID: eosTokenID)
        var bytes = header.encoded
        bytes.append(contentsOf: payload)
        let temporary = path + ".partial"
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            throw TokenShardError.cannotWrite(file: path, reason: error.localizedDescription)
        }
        return header
    }
}
