import Foundation

/// Writes one flat JSON object into a reusable byte buffer: no intermediate
/// dictionaries, no `JSONSerialization`, so encoding an event costs a few microseconds.
/// Non-finite numbers are written as `null` (JSON has no NaN or infinity).
public struct JSONObjectWriter {
    public private(set) var bytes: [UInt8] = []
    private var first = true

    public init(capacity: Int = 512) { bytes.reserveCapacity(capacity) }

    /// Starts a new object, discarding the previous one (the capacity is kept).
    public mutating func begin() {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(UInt8(ascii: "{"))
        first = true
    }

    public mutating func end() { bytes.append(UInt8(ascii: "}")) }

    private mutating func key(_ name: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        appendInteger(value)
    }

    public mutating func field(_ name: StaticString, _ value: Double) {
        key(name)
        appendNumber(value)
    }

    public mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
    }

    public mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        appendString(value)
    }

    /// A value that is already JSON (validated by the caller); raw line breaks in it,
    /// which can only be whitespace between tokens, become spaces so a message stays one line.
    public mutating func field(_ name: StaticString, rawJSON: Data) {
        key(name)
        for byte in rawJSON { bytes.append(byte == 0x0A || byte == 0x0D ? 0x20 : byte) }
    }

    public mutating func nullField(_ name: StaticString) {
        key(name)
        bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
    }

    mutating func appendInteger(_ value: Int) {
        if value == 0 { bytes.append(0x30); return }
        var v = value.magnitude
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for any Int's digits
        withUnsafeMutableBytes(of: &scratch) { digits in
            var n = 0
            while v > 0 {
                digits[23 - n] = UInt8(truncatingIfNeeded: v % 10) + 0x30
                v /= 10
                n += 1
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: digits[(24 - n)...]))
        }
    }

    mutating func appendNumber(_ value: Double) {
        guard value.isFinite else {
            bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
            return
        }
        if value == value.rounded(), abs(value) < 1e15 {
            appendInteger(Int(value))
            return
        }
        // Swift's description is the shortest text that reads back to the same Double,
        // and is valid JSON for finite values ("0.001", "1e-05", "1.5e+20").
        bytes.append(contentsOf: value.description.utf8)
    }

    mutating func appendString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
