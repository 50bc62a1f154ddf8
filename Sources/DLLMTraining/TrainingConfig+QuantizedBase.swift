import DLLMConfig
import DLLMModels

/// `load_in_4bit: true` (bitsandbytes NF4) and `base_quantization: q4_k | q8_0 | nf4 | gguf`: the
/// frozen base of a LoRA run kept quantised in memory (docs/qlora.md); `gguf` keeps a `.gguf`
/// model's own blocks, and a `.gguf` `model_name_or_path` implies it.
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

    /// True when `model_name_or_path` names a `.gguf` file: its quantised matrices are the frozen
    /// base of a LoRA run as they are (`base_quantization: gguf`, implied by the path).
    public var modelIsGGUF: Bool { modelNameOrPath.lowercased().hasSuffix(".gguf") }

    /// The base format a run uses: `base_quantization`/`load_in_4bit`, or `gguf` for a `.gguf` model.
    public var effectiveBaseQuantization: BaseQuantization? { modelIsGGUF ? .gguf : baseQuantization }

    /// Why a `.gguf` model is refused without `lora: true`.
    static let ggufNeedsLoRA = "is a GGUF file, whose quantised matrices train only as a frozen LoRA base: set lora: true to train adapters "
        + "over it (base_quantization: gguf is then implied), or convert it to a float32 folder with `dllm convert gguf FILE DIR` for a full fine-tune"

    /// Refuses a quantised base without LoRA (it cannot be trained), a `.gguf` model without LoRA,
    /// `gguf` for a model that is not a `.gguf` file, and q4_k/q8_0/nf4 over a `.gguf` file (its
    /// matrices are quantised already), naming the key.
    func validateBaseQuantization(file: FlatYAMLConfig) throws {
        if modelIsGGUF && lora == nil {
            let key = CodingKeys.modelNameOrPath.rawValue
            throw ConfigError(file: file.source(of: key), line: file.line(of: key), key: key, Self.ggufNeedsLoRA)
        }
        guard let baseQuantization else { return }
        let key = file.keys.contains(QuantizedBaseKeys.baseQuantization.rawValue) ? QuantizedBaseKeys.baseQuantization.rawValue
            : QuantizedBaseKeys.loadIn4bit.rawValue
        func fail(_ message: String) -> ConfigError { ConfigError(file: file.source(of: key), line: file.line(of: key), key: key, message) }
        if lora == nil {
            let base = key == QuantizedBaseKeys.loadIn4bit.rawValue ? "a 4-bit (NF4) base" : "a quantised base"
            throw fail("is not supported without lora: true: \(base) is frozen and quantised, so it cannot be trained; "
                       + "set lora: true to train adapters over it, or remove the key to train a float32 base")
        }
        if baseQuantization == .gguf && !modelIsGGUF {
            throw fail("gguf keeps a GGUF file's quantised matrices as the base: model_name_or_path must name a .gguf file (it names \(modelNameOrPath)); "
                       + "to quantise a model folder's base use q4_k, q8_0 or nf4")
        }
        if case .quantize(let target) = baseQuantization, modelIsGGUF {
            throw fail("\(target.rawValue) would quantise a base that the GGUF file \(modelNameOrPath) holds quantised already; "
                       + "its blocks are used as they are: set base_quantization: gguf or remove the key")
        }
    }
}
