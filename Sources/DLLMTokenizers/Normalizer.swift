import Foundation

/// A text normalizer, the first stage of the pipeline.
///
/// Mirrors the Rust crate's `normalizers` module; only what byte-level BPE
/// and BERT WordPiece tokenizers use is provided.
public protocol Normalizer {
    func normalize(_ text: String) -> String
}

/// The `"type"` strings of `tokenizer.json` normalizers handled here.
public enum NormalizerType: String {
    case nfc = "NFC"
    case sequence = "Sequence"
    case bert = "BertNormalizer"
}

enum NormalizerFactory {
    /// Builds the normalizer described by `json` (a `tokenizer.json` `normalizer` value).
    static func make(_ json: JSONObject) throws -> Normalizer {
        let typeName = try json.type()
        guard let type = NormalizerType(rawValue: typeName) else {
            throw TokenizerError.unsupportedComponent(kind: "normalizer", type: typeName, file: json.file)
        }
        switch type {
        case .nfc:
            return NFCNormalizer()
        case .sequence:
            return SequenceNormalizer(normalizers: try json.objects("normalizers").map(make))
        case .bert:
            return BertNormalizer(json: json)
        }
    }
}

/// Unicode canonical composition (`normalizers::unicode::NFC`).
public struct NFCNormalizer: Normalizer {
    public init() {}
    public func normalize(_ text: String) -> String {
        // ASCII text is already in NFC.
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text }
        return text.precomposedStringWithCanonicalMapping
    }
}

/// Applies normalizers in order (`normalizers::utils::Sequence`).
public struct SequenceNormalizer: Normalizer {
    public let normalizers: [Normalizer]
    public func normalize(_ text: String) -> String {
        normalizers.reduce(text) { $1.normalize($0) }
    }
}
