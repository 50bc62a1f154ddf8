import DLLMJSON
/// Adds special tokens around encoded sequences (the Rust crate's `processors`).
public protocol PostProcessor {
    /// Mirrors `PostProcessor::process`: `pair` is the second sequence, if any.
    func process(_ ids: [UInt32], pair: [UInt32]?, addSpecialTokens: Bool) -> [UInt32]
}

/// The `"type"` strings of `tokenizer.json` post-processors handled here.
public enum PostProcessorType: String {
    case templateProcessing = "TemplateProcessing"
    case byteLevel = "ByteLevel"
    case sequence = "Sequence"
}

enum PostProcessorFactory {
    static func make(_ json: JSONObject) throws -> PostProcessor {
        let typeName = try json.type()
        guard let type = PostProcessorType(rawValue: typeName) else {
            throw TokenizerError.unsupportedComponent(kind: "post-processor", type: typeName, file: json.file)
        }
        switch type {
        case .templateProcessing: return try TemplateProcessing(json: json)
        case .byteLevel: return ByteLevelPostProcessor()
        case .sequence: return SequencePostProcessor(processors: try json.objects("processors").map(make))
        }
    }
}

/// `processors::byte_level::ByteLevel` only trims offsets; ids pass unchanged.
public struct ByteLevelPostProcessor: PostProcessor {
    public func process(_ ids: [UInt32], pair: [UInt32]?, addSpecialTokens: Bool) -> [UInt32] {
        ids + (pair ?? [])
    }
}

/// `processors::template::TemplateProcessing`: `single` and `pair` templates
/// made of `SpecialToken` and `Sequence` (`A`/`B`) pieces.
public struct TemplateProcessing: PostProcessor {
    public enum Piece: Equatable {
        case sequence(String)
        case special(String)
    }
    public let single: [Piece]
    public let pair: [Piece]
    public let specialTokens: [String: [UInt32]]

    init(json: JSONObject) throws {
        func pieces(_ key: String) throws -> [Piece] {
            try json.array(key).map { item in
                if let id = item["Sequence"]?["id"]?.stringValue { return .sequence(id) }
                if let id = item["SpecialToken"]?["id"]?.stringValue { return .special(id) }
                throw TokenizerError.malformedJSON(file: json.file, detail: "TemplateProcessing.\(key) piece is neither Sequence nor SpecialToken")
            }
        }
        single = try pieces("single")
        pair = try pieces("pair")
        var specials: [String: [UInt32]] = [:]
        for (name, value) in json["special_tokens"]?.objectMembers ?? [] {
            guard let ids = value["ids"]?.arrayValue else {
                throw TokenizerError.malformedJSON(file: json.file, detail: "special token '\(name)' lacks ids")
            }
            specials[name] = ids.compactMap { $0.doubleValue.flatMap { UInt32(exactly: $0.rounded(.towardZero)) } }
        }
        specialTokens = specials
    }

    public func process(_ ids: [UInt32], pair second: [UInt32]?, addSpecialTokens: Bool) -> [UInt32] {
        guard addSpecialTokens else { return ids + (second ?? []) }
        var out: [UInt32] = []
        for piece in (second == nil ? single : pair) {
            switch piece {
            case .sequence(let name): out += (name == "A" ? ids : (second ?? []))
            case .special(let name): out += specialTokens[name] ?? []
            }
        }
        return out
    }
}

/// `processors::sequence::Sequence`: applies processors in order; the first
/// joins a pair, later ones see one sequence.
public struct SequencePostProcessor: PostProcessor {
    public let processors: [PostProcessor]
    public func process(_ ids: [UInt32], pair: [UInt32]?, addSpecialTokens: Bool) -> [UInt32] {
        // ByteLevel processors only touch offsets; the first template joins the pair.
        var current = ids
        var second = pair
        for p in processors where !(p is ByteLevelPostProcessor) {
            current = p.process(current, pair: second, addSpecialTokens: addSpecialTokens)
            second = nil
        }
        return current + (second ?? [])
    }
}
