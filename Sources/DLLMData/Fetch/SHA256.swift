import Crypto
import Foundation

/// SHA-256 hex digests for verifying downloaded packages against pinned digests.
/// The hashing itself is swift-crypto's (`Crypto.SHA256`, BoringSSL's assembly on
/// Linux); this type only streams files through it and formats the digest.
public enum SHA256 {
    /// SHA-256 of a file, read in 1 MiB pieces, as 64 lowercase hex digits.
    public static func hexDigest(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw FetchError.cannotRead(path: path, reason: "cannot open the file")
        }
        defer { try? handle.close() }
        var hasher = Crypto.SHA256()
        while true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        return hex(hasher.finalize())
    }

    /// SHA-256 of `bytes` as 64 lowercase hex digits.
    public static func hexDigest(of bytes: [UInt8]) -> String {
        hex(Crypto.SHA256.hash(data: bytes))
    }

    private static func hex(_ digest: Crypto.SHA256.Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(2 * Crypto.SHA256.Digest.byteCount)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
