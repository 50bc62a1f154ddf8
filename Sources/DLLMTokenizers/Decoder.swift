/// Turns token strings back into text (the Rust crate's `decoders` module).
public protocol TokenDecoder {
    /// Mirrors `Decoder::decode_chain`: maps the tokens to new pieces.
    func decodeChain(_ tokens: [String]) -> [String]
}

extension TokenDecoder {
    /// `Decoder::decode`: the chain's pieces joined.
    public func decode(_ tokens: [String]) -> String { decodeChain(tokens).joined() }
}

/// The `"type"` strings of `tokenizer.json` decoders handled here.
public enum DecoderType: String {
    case byteLevel = "ByteLevel"
    case sequence = "Sequence"
    case replace = "Replace"
    case byteFallback = "ByteFallback"
    case fuse = "Fuse"
    case strip = "Strip"
    case wordPiece = "WordPiece"
}

enum DecoderFactory {
    static func make(_ json: JSONObject) throws -> TokenDecoder {
        let typeName = try json.type()
        guard let type = DecoderType(rawValue: typeName) else {
            throw TokenizerError.unsupportedComponent(kind: "decoder", type: typeName, file: json.file)
        }
        switch type {
        case .byteLevel: return ByteLevelDecoder()
        case .sequence: return SequenceDecoder(decoders: try json.objects("decoders").map(make))
        case .replace: return try ReplaceDecoder(json: json)
        case .byteFallback: return ByteFallbackDecoder()
        case .fuse: return FuseDecoder()
        case .strip: return try StripDecoder(json: json)
        case .wordPiece: return WordPieceDecoder(prefix: json.optionalString("prefix") ?? "##", cleanup: json.bool("cleanup", default: true))
        }
    }
}

/// `decoders::byte_level::ByteLevel`: maps byte-level characters back to bytes
/// and decodes them as UTF-8, replacing invalid sequences with U+FFFD
/// (`String::from_utf8_lossy`). A token holding a character outside the
/// byte-level alphabet contributes its own UTF-8 bytes unchanged.
public struct ByteLevelDecoder: TokenDecoder {
    public init() {}

    public func decodeChain(_ tokens: [String]) -> [String] {
        var bytes: [UInt8] = []
        for t in tokens { bytes.append(contentsOf: Self.bytes(of: t)) }
        return [String(decoding: bytes, as: UTF8.self)]
    }

    /// The bytes one token stands for.
    static func bytes(of token: String) -> [UInt8] {
        ByteLevelAlphabet.decode(token) ?? Array(token.utf8)
    }
}

/// `decoders::sequence::Sequence`: applies decoders in order.
public struct SequenceDecoder: TokenDecoder {
    public let decoders: [TokenDecoder]
    public func decodeChain(_ tokens: [String]) -> [String] {
        decoders.reduce(tokens) { $1.decodeChain($0) }
    }
}
