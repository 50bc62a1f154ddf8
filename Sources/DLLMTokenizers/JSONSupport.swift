import Foundation

/// A parsed JSON value. Objects keep their members in file order as
/// `(key, value)` pairs, so keys are never merged by Swift's canonical string
/// equivalence and leading U+FEFF characters survive (Foundation's
/// `JSONSerialization` drops them).
enum JSONValue {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        for (k, v) in members where k.utf8.elementsEqual(key.utf8) { return v }
        return nil
    }

    var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    var numberValue: Double? { if case .number(let n) = self { return n } else { return nil } }
    var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    var objectMembers: [(String, JSONValue)]? { if case .object(let o) = self { return o } else { return nil } }
    var isNull: Bool { if case .null = self { return true } else { return false } }
}

/// A small recursive-descent JSON parser over UTF-8 bytes (RFC 8259).
struct JSONParser {
    struct Failure: Error { let offset: Int; let message: String }

    static func parse(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { raw in
            var p = JSONParser(bytes: raw.bindMemory(to: UInt8.self))
            p.skipWhitespace()
            let v = try p.value(depth: 0)
            p.skipWhitespace()
            if p.i != p.bytes.count { throw Failure(offset: p.i, message: "trailing characters") }
            return v
        }
    }

    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        // A UTF-8 byte order mark before the document is allowed.
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { i = 3 }
    }

    mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 512 else { throw Failure(offset: i, message: "nesting too deep") }
        guard i < bytes.count else { throw Failure(offset: i, message: "unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var members: [(String, JSONValue)] = []
            skipWhitespace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw Failure(offset: i, message: "expected a key") }
                let key = try string()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                members.append((key, try value(depth: depth + 1)))
                skipWhitespace()
                if i < bytes.count && bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "}"))
                return .object(members)
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                if i < bytes.count && bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "]"))
                return .array(items)
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            return .number(try number())
        }
    }

    mutating func expect(_ b: UInt8) throws {
        guard i < bytes.count, bytes[i] == b else {
            throw Failure(offset: i, message: "expected '\(Character(Unicode.Scalar(b)))'")
        }
        i += 1
    }

    mutating func literal(_ word: StaticString) throws {
        let w = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard i + w.count <= bytes.count, (0..<w.count).allSatisfy({ bytes[i + $0] == w[$0] }) else {
            throw Failure(offset: i, message: "invalid literal")
        }
        i += w.count
    }

    mutating func number() throws -> Double {
        let start = i
        while i < bytes.count {
            let b = bytes[i]
            if (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || b == UInt8(ascii: ".")
                || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { i += 1 } else { break }
        }
        guard i > start, let d = Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)) else {
            throw Failure(offset: start, message: "invalid value")
        }
        return d
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw Failure(offset: i, message: "truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt8
            switch b {
            case 0x30...0x39: d = b - 0x30
            case 0x41...0x46: d = b - 0x41 + 10
            case 0x61...0x66: d = b - 0x61 + 10
            default: throw Failure(offset: i, message: "bad \\u escape")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        i += 1  // opening quote
        let start = i
        // Fast path: no escapes.
        while i < bytes.count && bytes[i] != UInt8(ascii: "\"") && bytes[i] != UInt8(ascii: "\\") { i += 1 }
        guard i < bytes.count else { throw Failure(offset: start, message: "unterminated string") }
        if bytes[i] == UInt8(ascii: "\"") {
            let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            i += 1
            return s
        }
        var out = Array(bytes[start..<i])
        while true {
            guard i < bytes.count else { throw Failure(offset: start, message: "unterminated string") }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; break }
            if b != UInt8(ascii: "\\") { out.append(b); i += 1; continue }
            i += 1
            guard i < bytes.count else { throw Failure(offset: i, message: "unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if (0xD800..<0xDC00).contains(v), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                    let save = i
                    i += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        i = save
                    }
                }
                let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"  // A lone surrogate becomes U+FFFD.
                out.append(contentsOf: Array(String(scalar).utf8))
            default:
                throw Failure(offset: i - 1, message: "bad escape")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Reading `tokenizer.json` and friends, with errors that name the file.
enum JSONFile {
    static func value(at path: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.fileNotFound(path: path)
        }
        return try value(from: data, file: path)
    }

    static func value(from data: Data, file: String) throws -> JSONValue {
        do {
            return try JSONParser.parse(data)
        } catch let f as JSONParser.Failure {
            throw TokenizerError.malformedJSON(file: file, detail: "\(f.message) at byte \(f.offset)")
        }
    }

    static func object(at path: String) throws -> JSONObject {
        try object(value(at: path), file: path)
    }

    static func object(_ v: JSONValue, file: String) throws -> JSONObject {
        guard v.objectMembers != nil else {
            throw TokenizerError.malformedJSON(file: file, detail: "top level is not an object")
        }
        return JSONObject(v, file: file)
    }
}

/// Typed access to one JSON object, reporting problems against a file.
struct JSONObject {
    let value: JSONValue
    let file: String

    init(_ value: JSONValue, file: String) {
        self.value = value
        self.file = file
    }

    subscript(key: String) -> JSONValue? { value[key] }

    func isNull(_ key: String) -> Bool { value[key]?.isNull ?? true }

    func string(_ key: String) throws -> String {
        guard let v = value[key]?.stringValue else { throw TokenizerError.missingField(field: key, file: file) }
        return v
    }

    func optionalString(_ key: String) -> String? { value[key]?.stringValue }

    func bool(_ key: String, default d: Bool) -> Bool { value[key]?.boolValue ?? d }

    func int(_ key: String) throws -> Int {
        guard let n = value[key]?.numberValue else { throw TokenizerError.missingField(field: key, file: file) }
        return Int(n)
    }

    func object(_ key: String) throws -> JSONObject {
        guard let v = value[key], v.objectMembers != nil else { throw TokenizerError.missingField(field: key, file: file) }
        return JSONObject(v, file: file)
    }

    func optionalObject(_ key: String) -> JSONObject? {
        guard let v = value[key], v.objectMembers != nil else { return nil }
        return JSONObject(v, file: file)
    }

    func array(_ key: String) throws -> [JSONValue] {
        guard let a = value[key]?.arrayValue else { throw TokenizerError.missingField(field: key, file: file) }
        return a
    }

    func objects(_ key: String) throws -> [JSONObject] {
        try array(key).map { item in
            guard item.objectMembers != nil else {
                throw TokenizerError.malformedJSON(file: file, detail: "'\(key)' holds a non-object")
            }
            return JSONObject(item, file: file)
        }
    }

    /// The component's `"type"` string.
    func type() throws -> String { try string("type") }
}
