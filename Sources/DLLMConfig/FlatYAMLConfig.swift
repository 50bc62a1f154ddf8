import Foundation
import Yams

/// A flat YAML configuration file (HF `TrainingArguments` style, or accelerate's
/// launch configs, whose nested sections are mappings one level down), validated
/// against the keys a `Codable` type declares before any work starts.
///
/// Unknown keys are errors with the file, line and the closest known key; keys
/// listed as `ignoredKeys` (meaningless on CPU, say) are accepted and reported once;
/// `--key value` overrides replace or add keys with the same checks; type errors
/// from decoding name the key and its line.
public struct FlatYAMLConfig {
    public let file: String
    public private(set) var node: Node
    /// Keys accepted but without effect, with the line they were on, for one notice.
    public private(set) var ignored: [(key: String, line: Int?)] = []
    /// Keys whose value came from a `--key value` override, so errors about them point at
    /// the command line rather than at the file's line.
    public private(set) var overridden: Set<String> = []

    /// Parses `text` (the contents of `file`), which must be a mapping at the top level.
    public init(text: String, file: String) throws {
        self.file = file
        let parsed: Node?
        do { parsed = try Yams.compose(yaml: text) } catch let error as YamlError {
            throw ConfigError(file: file, line: Self.line(of: error), "not valid YAML: \(Self.summary(of: error))")
        }
        guard let parsed else {
            node = Node.mapping(Node.Mapping([]))
            return
        }
        guard parsed.mapping != nil else {
            throw ConfigError(file: file, line: parsed.mark?.line, "the top level must be a mapping of keys to values")
        }
        node = parsed
    }

    /// Reads and parses a file; a missing or unreadable file is an error naming it.
    public init(contentsOf path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigError(file: path, "no such file")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, "cannot be read as UTF-8 text")
        }
        try self.init(text: text, file: path)
    }

    /// The line of a top-level key, if present (nil for a value given on the command line).
    public func line(of key: String) -> Int? {
        if overridden.contains(key) { return nil }
        return node.mapping?.first { $0.key.string == key }?.key.mark?.line
    }

    /// Where a key's value came from: the file (with its line) or the command line.
    public func source(of key: String) -> String { overridden.contains(key) ? "command line (--\(key))" : file }

    public var keys: [String] { node.mapping?.compactMap { $0.key.string } ?? [] }

    /// Checks every top-level key (and, for `sections`, every key inside those
    /// mappings) against the known ones.
    public mutating func validateKeys(known: Set<String>, ignored ignoredKeys: Set<String> = [],
                                      sections: [String: Set<String>] = [:]) throws {
        guard let mapping = node.mapping else { return }
        var keep: [(Node, Node)] = []
        for (k, v) in mapping {
            guard let key = k.string else {
                throw ConfigError(file: file, line: k.mark?.line, "keys must be strings")
            }
            if ignoredKeys.contains(key) {
                ignored.append((key, k.mark?.line))
                continue
            }
            guard known.contains(key) else {
                throw ConfigError(file: file, line: k.mark?.line, key: key, "unknown key\(Self.suggestion(key, in: known.union(ignoredKeys)))")
            }
            if let inner = sections[key], let sub = v.mapping {
                for (sk, _) in sub {
                    guard let name = sk.string, inner.contains(name) else {
                        throw ConfigError(file: file, line: sk.mark?.line, key: "\(key).\(sk.string ?? "?")",
                                          "unknown key\(Self.suggestion(sk.string ?? "", in: inner))")
                    }
                }
            }
            keep.append((k, v))
        }
        node = Node.mapping(Node.Mapping(keep))
    }

    /// Applies `--key value` pairs; values are read as YAML scalars (`true`, `3e-4`, `[a, b]`).
    public mutating func applyOverrides(_ overrides: [(key: String, value: String)], known: Set<String>) throws {
        guard var mapping = node.mapping else { return }
        for (key, value) in overrides {
            guard known.contains(key) else {
                throw ConfigError(file: "command line", key: key, "unknown option --\(key)\(Self.suggestion(key, in: known))")
            }
            let parsed = (try? Yams.compose(yaml: value)) ?? nil
            mapping[Node(key)] = parsed ?? Node(value)
            overridden.insert(key)
        }
        node = Node.mapping(mapping)
    }

    /// Decodes into `T`, turning a `DecodingError` into a located `ConfigError`.
    public func decode<T: Decodable>(_: T.Type) throws -> T {
        do { return try YAMLDecoder().decode(T.self, from: node) } catch let error as DecodingError {
            let (key, message): (String?, String) = {
                switch error {
                case let .typeMismatch(type, ctx): return (ctx.codingPath.first?.stringValue, "expected \(Self.typeName(type))")
                case let .valueNotFound(type, ctx): return (ctx.codingPath.first?.stringValue, "expected \(Self.typeName(type)), found null")
                case let .keyNotFound(k, ctx): return ((ctx.codingPath + [k]).map(\.stringValue).joined(separator: "."), "required key is missing")
                case let .dataCorrupted(ctx): return (ctx.codingPath.first?.stringValue, ctx.debugDescription)
                @unknown default: return (nil, "\(error)")
                }
            }()
            throw ConfigError(file: key.map(source(of:)) ?? file, line: key.flatMap(line(of:)), key: key, message)
        }
    }

    /// Splits `["--lr", "3e-4", "--max_steps=10"]` into key/value pairs
    /// (dashes in keys become underscores, so `--num-processes` is `num_processes`).
    public static func parseOverrides(_ arguments: [String]) throws -> [(key: String, value: String)] {
        var result: [(key: String, value: String)] = []
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            guard arg.hasPrefix("--"), arg.count > 2 else {
                throw ConfigError(file: "command line", "expected --key value, found \"\(arg)\"")
            }
            var key = String(arg.dropFirst(2))
            var value: String
            if let eq = key.firstIndex(of: "=") {
                value = String(key[key.index(after: eq)...])
                key = String(key[..<eq])
            } else {
                guard i + 1 < arguments.count else {
                    throw ConfigError(file: "command line", key: key, "--\(key) needs a value")
                }
                i += 1
                value = arguments[i]
            }
            result.append((key.replacingOccurrences(of: "-", with: "_"), value))
            i += 1
        }
        return result
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default: return "\(type)"
        }
    }

    /// " (did you mean "x"?)" for a near miss, by edit distance.
    static func suggestion(_ key: String, in known: Set<String>) -> String {
        var best: (name: String, distance: Int)?
        for candidate in known.sorted() {
            let d = editDistance(key, candidate)
            if best == nil || d < best!.distance { best = (candidate, d) }
        }
        guard let best, best.distance <= max(2, key.count / 3) else { return "" }
        return " (did you mean \"\(best.name)\"?)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _): return mark.line
        default: return nil
        }
    }

    static func summary(of error: YamlError) -> String {
        switch error {
        case let .scanner(_, problem, _, _), let .parser(_, problem, _, _): return problem
        default: return "\(error)"
        }
    }
}
