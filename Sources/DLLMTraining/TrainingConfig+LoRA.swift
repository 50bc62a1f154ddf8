import DLLMConfig
import DLLMModels

/// dLLM's `lora: true` with PEFT's `LoraConfig` option names, in the flat training config.
extension TrainingConfig {
    enum LoRAKeys: String, CodingKey { case lora }

    /// `lora` and PEFT's option keys (`r`, `lora_alpha`, `lora_dropout`, `target_modules`,
    /// `modules_to_save`, `use_rslora`).
    public static var loraKeys: Set<String> {
        Set(LoRAConfiguration.CodingKeys.allCases.map(\.rawValue)).union([LoRAKeys.lora.rawValue])
    }

    /// The LoRA options when `lora: true`, else nil.
    static func decodeLoRA(from decoder: Decoder) throws -> LoRAConfiguration? {
        let c = try decoder.container(keyedBy: LoRAKeys.self)
        guard try c.decodeIfPresent(Bool.self, forKey: .lora) == true else { return nil }
        return try LoRAConfiguration(from: decoder)
    }

    /// Refuses LoRA options without `lora: true` (they would do nothing) and invalid values, naming the key.
    func validateLoRA(file: FlatYAMLConfig) throws {
        func fail(_ key: String, _ message: String) -> ConfigError {
            ConfigError(file: file.source(of: key), line: file.line(of: key), key: key, message)
        }
        guard let lora else {
            let options = LoRAConfiguration.CodingKeys.allCases.map(\.rawValue)
            if let key = file.keys.first(where: options.contains) {
                throw fail(key, "is a LoRA option, and lora is not true: set lora: true to train adapters, or remove the key")
            }
            return
        }
        if let (key, message) = lora.problem() { throw fail(key.rawValue, message) }
        if objective == "editflow" {
            throw fail("lora", "adapters are not wired to the Edit Flows heads yet; train objective editflow without lora")
        }
    }
}
