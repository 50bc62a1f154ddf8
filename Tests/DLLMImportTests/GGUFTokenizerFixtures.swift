import DLLMGGUF
import DLLMJSON
@testable import DLLMImport
@testable import DLLMTokenizers
import Foundation
import XCTest

/// The fixtures written by Fixtures/generate_gguf_tokenizer_fixtures.py.
enum GGUFTokenizerFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A fixture file parsed with DLLMJSON as the tokenizer loader reads it (Foundation's drops a leading U+FEFF in strings).
    static func json(_ name: String) throws -> [String: Any] {
        let path = root.appendingPathComponent(name).path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.fileNotFound(path: path)
        }
        return any(try JSONParser.parse(data, options: JSONFile.options)) as! [String: Any]
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

    /// `{"key": [kind, value]}` (kinds "string", "strings", "int32s", "float32s", "uint32", "bool") as GGUF metadata.
    static func metadata(_ entries: [String: Any]) -> GGUFMetadata {
        var m = GGUFMetadata()
        for key in entries.keys.sorted() {
            let pair = entries[key] as! [Any]
            let kind = pair[0] as! String
            let value: GGUFValue
            switch kind {
            case "string": value = .string(pair[1] as! String)
            case "strings": value = .array((pair[1] as! [Any]).map { .string($0 as! String) })
            case "int32s": value = .array((pair[1] as! [Any]).map { .int32(($0 as! NSNumber).int32Value) })
            case "float32s": value = .array((pair[1] as! [Any]).map { .float32(($0 as! NSNumber).floatValue) })
            case "uint32": value = .uint32((pair[1] as! NSNumber).uint32Value)
            case "bool": value = .bool(pair[1] as! Bool)
            default: fatalError("fixture kind \(kind)")
            }
            m.append(key, value)
        }
        return m
    }

    static func ids(_ value: Any) -> [UInt32] { (value as! [Any]).map { ($0 as! NSNumber).uint32Value } }
}

/// Checks an imported tokenizer against a fixture record (`tokenizer_record` and
/// `saved_files` of the generator): ids, decodings, special ids, config.
func checkAgainstTransformers(_ imported: ImportedTokenizer, record: [String: Any], label: String,
                              file: StaticString = #filePath, line: UInt = #line) throws {
    let tok = try imported.makeTokenizer()
    let texts = record["texts"] as! [String]
    let ids = record["ids"] as! [Any]
    let decoded = record["decoded"] as! [Any]
    let decodedSkip = record["decoded_skip_special"] as! [Any]
    XCTAssertGreaterThan(texts.count, 50, "\(label): fixture size", file: file, line: line)
    var mismatches = 0
    for (i, text) in texts.enumerated() {
        let want = GGUFTokenizerFixtures.ids(ids[i])
        let got = tok.encode(text)
        if got != want {
            mismatches += 1
            if mismatches <= 3 {
                XCTFail("\(label) text \(i) \(text.debugDescription): ids \(got), transformers \(want)", file: file, line: line)
            }
            continue
        }
        let wantDecoded = decoded[i] as? String ?? text
        let gotDecoded = tok.decode(got)
        XCTAssert(gotDecoded.utf8.elementsEqual(wantDecoded.utf8),
                  "\(label) text \(i): decode \(gotDecoded.debugDescription), transformers \(wantDecoded.debugDescription)",
                  file: file, line: line)
        let wantSkip = decodedSkip[i] as? String ?? text
        let gotSkip = tok.decode(got, skipSpecialTokens: true)
        XCTAssert(gotSkip.utf8.elementsEqual(wantSkip.utf8),
                  "\(label) text \(i): decode(skipSpecialTokens) \(gotSkip.debugDescription), transformers \(wantSkip.debugDescription)",
                  file: file, line: line)
    }
    XCTAssertEqual(mismatches, 0, "\(label): texts whose ids differ from transformers'", file: file, line: line)

    let special = record["special_ids"] as! [String: Any]
    func id(_ key: String) -> UInt32? { (special[key] as? NSNumber)?.uint32Value }
    XCTAssertEqual(imported.bosToken?.id, id("bos_token_id"), "\(label): bos id", file: file, line: line)
    XCTAssertEqual(imported.eosToken?.id, id("eos_token_id"), "\(label): eos id", file: file, line: line)
    XCTAssertEqual(imported.padToken?.id, id("pad_token_id"), "\(label): pad id", file: file, line: line)
    XCTAssertEqual(imported.unkToken?.id, id("unk_token_id"), "\(label): unk id", file: file, line: line)
    let vocabSize = (record["vocab_size"] as! NSNumber).intValue
    XCTAssertEqual(imported.vocabularySize, vocabSize, "\(label): len(tokenizer)", file: file, line: line)
    XCTAssertEqual(tok.vocabSize, vocabSize, "\(label): Tokenizer.vocabSize", file: file, line: line)

    // tokenizer.json: every section equal to transformers' (vocabulary and merges by count;
    // their content is what the ids above test).
    var ours = try GGUFTokenizerFixtures.any(JSONParser.parse(Data(imported.tokenizerJSON.utf8), options: JSONFile.options)) as! [String: Any]
    var model = ours["model"] as! [String: Any]
    model["vocab"] = NSNumber(value: (model["vocab"] as! [String: Any]).count)
    model["merges"] = NSNumber(value: (model["merges"] as! [Any]).count)
    ours["model"] = model
    let theirs = record["tokenizer_json"] as! [String: Any]
    XCTAssertEqual(Set(ours.keys), Set(theirs.keys), "\(label): tokenizer.json keys", file: file, line: line)
    for (key, value) in theirs {
        XCTAssert(NSDictionary(dictionary: ["v": ours[key] ?? NSNull()]).isEqual(to: ["v": value]),
                  "\(label): tokenizer.json \(key): \(ours[key] ?? "absent") vs transformers' \(value)", file: file, line: line)
    }

    // tokenizer_config.json: transformers' keys and values, plus the chat template it
    // writes beside (chat_template.jinja) and the importer keeps inline.
    let config = try GGUFTokenizerFixtures.any(JSONParser.parse(Data(imported.tokenizerConfigJSON.utf8), options: JSONFile.options)) as! [String: Any]
    var want = record["tokenizer_config"] as! [String: Any]
    if let template = record["chat_template"] as? String { want["chat_template"] = template }
    XCTAssertEqual(Set(config.keys), Set(want.keys), "\(label): tokenizer_config keys", file: file, line: line)
    for (key, value) in want {
        XCTAssertEqual(config[key].map { "\($0)" }, "\(value)", "\(label): tokenizer_config[\(key)]", file: file, line: line)
    }
}
