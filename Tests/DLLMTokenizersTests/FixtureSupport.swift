import DLLMJSON
import Foundation
import XCTest
@testable import DLLMTokenizers

/// Access to the committed fixtures (written by Tests/Fixtures/generate_tokenizer_fixtures.py).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    static func data(_ name: String) throws -> Data {
        guard let d = FileManager.default.contents(atPath: path(name)) else {
            throw TokenizerError.fileNotFound(path: path(name))
        }
        return d
    }

    /// Parsed with the package's own parser: Foundation's drops a leading U+FEFF in strings.
    static func json(_ name: String) throws -> Any {
        any(try JSONParser.parse(data(name), options: JSONFile.options))
    }

    /// One JSON object per line.
    static func jsonLines(_ name: String) throws -> [[String: Any]] {
        let text = String(decoding: try data(name), as: UTF8.self)
        return try text.split(separator: "\n").map {
            any(try JSONParser.parse(Data($0.utf8), options: JSONFile.options)) as! [String: Any]
        }
    }

    static func any(_ v: JSONValue) -> Any {
        switch v {
        case .null: return NSNull()
        case .bool(let b): return b
        case .integer(let n): return NSNumber(value: n)
        case .bigInteger: return NSNumber(value: v.doubleValue!)
        case .double(let n): return NSNumber(value: n)
        case .string(let s): return s
        case .array(let a): return a.map(any)
        case .object(let o):
            var d: [String: Any] = [:]
            for (k, x) in o { d[k] = any(x) }
            return d
        }
    }

    static let texts: [String] = {
        (try! jsonLines("texts.jsonl")).map { $0["text"] as! String }
    }()

    static func ids(_ value: Any?) -> [UInt32]? {
        (value as? [Any])?.map { ($0 as! NSNumber).uint32Value }
    }

    static let gpt2: Tokenizer = try! Tokenizer.load(from: path("gpt2"))
    static let llama3Style: Tokenizer = try! Tokenizer.load(from: path("llama3-style"))
}

/// Compares encodings and decodings of many texts with the Python expectations,
/// failing with the first mismatching line only (a diff of thousands is noise).
func checkExpectations(_ tok: Tokenizer, texts: [String], rows: [[String: Any]], bos: UInt32?,
                       label: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(texts.count, rows.count, "\(label): fixture size", file: file, line: line)
    for (i, (text, row)) in zip(texts, rows).enumerated() {
        let want = Fixtures.ids(row["ids"])!
        let got = tok.encode(text)
        if got != want {
            return XCTFail("\(label) line \(i) \(text.debugDescription): encode gave \(got), Python \(want)", file: file, line: line)
        }
        let plainWant = Fixtures.ids(row["plain"]) ?? (bos != nil && want.first == bos ? Array(want.dropFirst()) : want)
        let plain = tok.encode(text, addSpecialTokens: false)
        if plain != plainWant {
            return XCTFail("\(label) line \(i) \(text.debugDescription): encode(addSpecialTokens: false) gave \(plain), Python \(plainWant)", file: file, line: line)
        }
        let decodedWant = row["decoded"] as? String ?? text
        let decoded = tok.decode(plain)
        if !decoded.utf8.elementsEqual(decodedWant.utf8) {
            return XCTFail("\(label) line \(i): decode gave \(decoded.debugDescription), Python \(decodedWant.debugDescription)", file: file, line: line)
        }
        let skipWant = row["decoded_skip"] as? String ?? decodedWant
        let skip = tok.decode(plain, skipSpecialTokens: true)
        if !skip.utf8.elementsEqual(skipWant.utf8) {
            return XCTFail("\(label) line \(i): decode(skipSpecialTokens) gave \(skip.debugDescription), Python \(skipWant.debugDescription)", file: file, line: line)
        }
    }
}
