import DLLMRandom
import Foundation

/// Bounded random mutation of seed inputs (libFuzzer's mutators in miniature): bit flips,
/// byte sets, boundary integers written over length and offset fields, truncation,
/// insertion, and splices of one part of the input into another. Deterministic for a seed,
/// so a failure names the iteration that reproduces it.
struct ByteMutator {
    var rng: SeededGenerator

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }

    /// Little-endian values that break size arithmetic: zero, one, all-ones, sign bits, huge.
    static let boundaries: [UInt64] = [0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x8000_0000_0000_0000,
                                       0x7FFF_FFFF_FFFF_FFFF, .max, 1 << 40, 1 << 31, 1 << 20]

    /// One to four mutations of `seed`.
    mutating func mutate(_ seed: [UInt8]) -> [UInt8] {
        var bytes = seed
        for _ in 0...below(4) {
            if bytes.isEmpty { bytes = [UInt8(truncatingIfNeeded: rng.next())]; continue }
            switch below(7) {
            case 0: bytes[below(bytes.count)] ^= UInt8(1) << UInt8(below(8))
            case 1: bytes[below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
            case 2:
                let value = Self.boundaries[below(Self.boundaries.count)]
                let width = [1, 2, 4, 8][below(4)]
                let at = below(bytes.count)
                for k in 0..<min(width, bytes.count - at) { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
            case 3: bytes.removeSubrange(below(bytes.count)...)
            case 4:
                let insert = (0...below(16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                bytes.insert(contentsOf: insert, at: below(bytes.count + 1))
            case 5:
                let start = below(bytes.count), length = below(min(64, bytes.count - start) + 1)
                bytes.insert(contentsOf: bytes[start..<(start + length)], at: below(bytes.count + 1))
            default:
                let start = below(bytes.count), length = below(bytes.count - start + 1)
                bytes.removeSubrange(start..<(start + length))
            }
        }
        return bytes
    }

    /// Seed files next to this test target (`../<Target>/Fixtures/<name>`).
    static func fixture(_ target: String, _ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(target).appendingPathComponent("Fixtures").appendingPathComponent(name)
        return Array(try Data(contentsOf: url))
    }
}
