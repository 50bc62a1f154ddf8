import DLLMConfig
import DLLMModels

/// `load_in_4bit: true` (bitsandbytes NF4) and `base_quantization: q4_k | q8_0 | nf4 | gguf`: the
/// frozen base of a LoRA run kept quantised in memory (docs/qlora.md).
extension TrainingConfig {
    enum QuantizedBaseKeys: String, CodingKey, CaseIterable {
        case loadIn4bit = "load_in_4bit", baseQuantization = "base_quantization"
    }

    /// The keys asking for a quantised frozen base.
    public static var quantizedBaseKeys: Set<String> { Set(QuantizedBaseKeys.allCases.map(\.rawValue)) }

    /// The base format the keys ask for, nil for a float base; `gguf` is `.gguf`.
    public enum BaseQuantization: Equatable, Sendable {
        case quantize(FrozenQuantizedMatrix.QuantizeTarget)
        case gguf
    }

    static func decodeBaseQuantization(from decoder: Decoder) throws -> BaseQuantization? {
        let c = try decoder.container(keyedBy: QuantizedBaseKeys.self)
        let text = try c.decodeIfPresent(String.self, forKey: .baseQuantization)?.lowercased()
        let nf4 = try c.decodeIfPresent(Bool.self, forKey: .loadIn4bit) == true
        if nf4, let text, text != "nf4" {
            throw DecodingError.dataCorruptedError(forKey: .baseQuantization, in: c,
                                                   debugDescription: "\"\(text)\" contradicts load_in_4bit: true (NF4); keep one of the two keys")
        }
        switch text {
        case nil, "none", "f32", "float32": break
        case "gguf": return .gguf
        case let name?:
            guard let target = FrozenQuantizedMatrix.QuantizeTarget(rawValue: name) else {
                throw DecodingError.dataCorruptedError(forKey: .baseQuantization, in: c,
                                                       debugDescription: "\"\(name)\" is not one of q4_k, q8_0, nf4, gguf, none")
            }
            return .quantize(target)
        }
        if nf4 { return .quantize(.nf4) }
        return nil
    }

    /// Refuses a quantised base without LoRA (it cannot be trained), `gguf` (the trainer loads a
    /// model folder; a GGUF base is available through the API, `FrozenLlamaBase(quantizedWeights)`),
    /// naming the key.
    func validateBaseQuantization(file: FlatYAMLConfig) throws {
        guard let baseQuantization else { return }
        let key = file.keys.contains(QuantizedBaseKeys.baseQuantization.rawValue) ? QuantizedBaseKeys.baseQuantization.rawValue
            : QuantizedBaseKeys.loadIn4bit.rawValue
        func fail(_ message: String) -> ConfigError { ConfigError(file: file.source(of: key), line: file.line(of: key), key: key, message) }
        if lora == nil {
            let base = key == QuantizedBaseKeys.loadIn4bit.rawValue ? "a 4-bit (NF4) base" : "a quantised base"
            throw fail("is not supported without lora: true: \(base) is frozen and quantised, so it cannot be trained; "
                       + "set lora: true to train adapters over it, or remove the key to train a float32 base")
        }
        if baseQuantization == .gguf {
            throw fail("gguf is not supported by the trainer (it loads a model folder); quantise the folder's base with q4_k, q8_0 or nf4, "
                       + "or train over a GGUF through the API (FrozenLlamaBase(quantizedWeights))")
        }
    }
}
