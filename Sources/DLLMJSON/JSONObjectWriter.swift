/// Writes one flat JSON object into a reusable byte buffer, for hot paths that emit many
/// small messages (the telemetry publisher and collector): no tree, no dictionary, and the
/// buffer's capacity is kept across objects. Strings and integers are written as
/// ``JSONWriter`` writes them.
///
/// Numbers given as `Double`: whole values below 1e15 in magnitude are written as integers
/// (`3`, not `3.0`, so counters read back as integers); others as ``JSONWriter`` writes
/// doubles; NaN and infinities as `null`.
///
/// The methods are `@inlinable` so that they compile into the calling module with its
/// optimisation settings (the telemetry target is optimised even in debug builds).
public struct JSONObjectWriter {
    @usableFromInline var buffer: [UInt8] = []
    @usableFromInline var first = true

    /// The object written so far.
    @inlinable public var bytes: [UInt8] { buffer }

    public init(capacity: Int = 512) { buffer.reserveCapacity(capacity) }

    /// Starts a new object, discarding the previous one (the capacity is kept).
    @inlinable public mutating func begin() {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(UInt8(ascii: "{"))
        first = true
    }

    @inlinable public mutating func end() { buffer.append(UInt8(ascii: "}")) }

    @inlinable mutating func key(_ name: StaticString) {
        if !first { buffer.append(UInt8(ascii: ",")) }
        first = false
        buffer.append(UInt8(ascii: "\""))
        buffer.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        buffer.append(UInt8(ascii: "\""))
        buffer.append(UInt8(ascii: ":"))
    }

    @inlinable public mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        JSONWriter.appendInteger(value, to: &buffer)
    }

    @inlinable public mutating func field(_ name: StaticString, _ value: Double) {
        key(name)
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
            JSONWriter.appendInteger(Int(value), to: &buffer)
        } else {
            JSONWriter.appendDouble(value, to: &buffer)
        }
    }

    @inlinable public mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        JSONWriter.appendBool(value, to: &buffer)
    }

    @inlinable public mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        JSONWriter.appendString(value, to: &buffer)
    }

    /// A value that is already JSON (validated by the caller); raw line breaks in it, which
    /// can only be whitespace between tokens, become spaces so a message stays one line.
    @inlinable public mutating func field<Bytes: Sequence>(_ name: StaticString, rawJSON: Bytes) where Bytes.Element == UInt8 {
        key(name)
        for byte in rawJSON { buffer.append(byte == 0x0A || byte == 0x0D ? 0x20 : byte) }
    }

    @inlinable public mutating func nullField(_ name: StaticString) {
        key(name)
        buffer.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
    }
}
