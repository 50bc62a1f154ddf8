import DLLMJSON
import Foundation

extension BPETrainer.Result {
    /// Writes `DIR/tokenizer.json` in the Python `tokenizers` layout (GPT-2 style
    /// ByteLevel pipeline) and a `tokenizer_config.json` for `transformers`.
    public func save(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dir = URL(fileURLWithPath: directory)
        try tokenizerJSON().write(to: dir.appendingPathComponent("tokenizer.json"), atomically: true, encoding: .utf8)
        try configJSON().write(to: dir.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
    }

    /// The `tokenizer.json` text.
    public func tokenizerJSON() -> String {
        let byteLevel = #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#
        var s = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        s += specialTokens.map { t in
            "\n    {\"id\": \(vocab[t]!), \"content\": \(jsonString(t)), \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}"
        }.joined(separator: ",")
        s += specialTokens.isEmpty ? "],\n" : "\n  ],\n"
        s += "  \"normalizer\": null,\n"
        s += "  \"pre_tokenizer\": \(byteLevel),\n"
        s += "  \"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, \"use_regex\": true},\n"
        s += "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n"
        s += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
        s += "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
        s += "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n    \"vocab\": {"
        s += vocab.sorted { $0.value < $1.value }.map { "\n      \(jsonString($0.key)): \($0.value)" }.joined(separator: ",")
        s += "\n    },\n    \"merges\": ["
        s += merges.map { "\n      [\(jsonString($0.0)), \(jsonString($0.1))]" }.joined(separator: ",")
        s += "\n    ]\n  }\n}\n"
        return s
    }

    func configJSON() -> String {
        var s = "{\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\",\n  \"clean_up_tokenization_spaces\": false,\n"
        s += "  \"model_max_length\": 1000000000000000019884624838656,\n  \"added_tokens_decoder\": {"
        s += specialTokens.map { t in
            "\n    \"\(vocab[t]!)\": {\"content\": \(jsonString(t)), \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false, \"special\": true}"
        }.joined(separator: ",")
        s += specialTokens.isEmpty ? "}\n}\n" : "\n  }\n}\n"
        return s
    }
}

/// A JSON string literal, escaped as `serde_json` writes it (DLLMJSON's writer).
func jsonString(_ s: String) -> String {
    var out: [UInt8] = []
    JSONWriter.appendString(s, to: &out)
    return String(decoding: out, as: UTF8.self)
}
