import Foundation

/// Writes JSON Lines rows with string, integer and nested values, keys in the given order.
public struct JSONLinesWriter {
    public enum Value {
        case string(String)
        case int(Int)
        case array([Value])
        case object([(String, Value)])
    }

    private var buffer: [UInt8] = []
    public private(set) var rows = 0

    public init() {}

    public mutating func append(_ fields: [(String, Value)]) {
        Self.encode(.object(fields), into: &buffer)
        buffer.append(0x0A)
        rows += 1
    }

    public var bytes: Int { buffer.count }

    public func write(to path: String) throws {
        do {
            try Data(buffer).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw FetchError.cannotWrite(path: path, reason: error.localizedDescription)
        }
    }

    static func encode(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case let .int(v): out.append(contentsOf: String(v).utf8)
        case let .string(s): encodeString(s, into: &out)
        case let .array(items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                encode(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case let .object(fields):
            out.append(UInt8(ascii: "{"))
            for (i, (key, item)) in fields.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                encodeString(key, into: &out)
                out.append(contentsOf: ": ".utf8)
                encode(item, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// RFC 8259 string escaping (UTF-8 output, control characters as `\uXXXX`).
    static func encodeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case 0x22: out.append(contentsOf: "\\\"".utf8)
            case 0x5C: out.append(contentsOf: "\\\\".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0..<0x20:
                let hex = String(b, radix: 16)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
