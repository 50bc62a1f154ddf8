import DLLMJSON
import Foundation

/// Reading `tokenizer.json` and friends, with errors that name the file.
enum JSONFile {
    /// The `tokenizers` crate's reading, as far as this package relied on it: a leading
    /// byte order mark is allowed, every member of an object is kept (lookups find the
    /// first), a lone surrogate in a `\u` escape becomes U+FFFD, nesting is bounded.
    static let options = JSONParser.Options(duplicateKeys: .keepAll, loneSurrogates: .replace, maximumDepth: 512)

    static func value(at path: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.fileNotFound(path: path)
        }
        return try value(from: data, file: path)
    }

    static func value(from data: Data, file: String) throws -> JSONValue {
        do {
            return try JSONParser.parse(data, options: options)
        } catch let error as JSONError {
            throw TokenizerError.malformedJSON(file: file, detail: error.detail)
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
        guard let n = value[key]?.doubleValue, let int = Int(exactly: n.rounded(.towardZero)) else {
            throw TokenizerError.missingField(field: key, file: file)
        }
        return int
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
