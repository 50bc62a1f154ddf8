import DLLMCompute

/// PEFT's `modules_to_save` for a LLaMA-family model: each listed module is trained in full, as a
/// copy of the base's weights made when the adapters are created (PEFT `ModulesToSaveWrapper`: the
/// original stays frozen, the copy is used in its place), and is saved in full in
/// `adapter_model.safetensors` as `base_model.model.<module>.weight` (PEFT 0.21 drops
/// `modules_to_save.default` from the name). The token embedding and the output head can be listed.
/// A name matches as in `target_modules` lists: the full module name, or its last parts after a dot
/// (`embed_tokens` → `model.embed_tokens`, `lm_head`; LLaDA: `wte` → `model.transformer.wte`, `ff_out`).
/// With tied embeddings the copy replaces only the listed side (PEFT with `ensure_weight_tying` false):
/// listing `embed_tokens` trains the input embedding while the head keeps reading the frozen table.
struct LoRASavedModules {
    /// The module names (without `.weight`) of the embedding and head, when listed.
    var embedding: String?, head: String?

    init(spec: LlamaSpec, names: [String]) throws {
        let embeddingModule = Self.module(spec.names.embedding), headModule = Self.module(spec.names.head)
        let blockModules = (0..<spec.layers).flatMap { l in LlamaLinear.allCases.map { spec.moduleName($0, layer: l) } }
        for name in names {
            func matches(_ module: String) -> Bool { module == name || module.hasSuffix("." + name) }
            if blockModules.contains(where: matches) {
                // PEFT would copy those block layers too (LLaDA's `ff_out` names the head and every down projection).
                throw LoRAError.unknownModuleToSave(name, available: [embeddingModule, headModule])
            } else if matches(embeddingModule) {
                embedding = embeddingModule
            } else if matches(headModule) {
                head = headModule
            } else {
                throw LoRAError.unknownModuleToSave(name, available: [embeddingModule, headModule])
            }
        }
    }

    static func module(_ weightName: String) -> String {
        weightName.hasSuffix(".weight") ? String(weightName.dropLast(".weight".count)) : weightName
    }

    /// The saved tensor's name: `base_model.model.<module>.weight`.
    static func parameterName(module: String) -> String { "base_model.model.\(module).weight" }
}

extension LoRAAdapters {
    /// The trainable copies (`modules_to_save`) start as the base's weights: the fp32 table, or the
    /// frozen quantised one dequantised.
    func copySavedModules(from base: LlamaModel<S>) {
        let count = base.spec.vocab * base.spec.hidden
        for (copy, offset, frozen) in [(embeddingCopy, base.offsets.embedding, base.frozenBase?.embedding),
                                       (headCopy, base.offsets.head, base.frozenBase?.head)] {
            guard let copy else { continue }
            if let frozen {
                frozen.dequantizeRows(0..<frozen.rows, into: mutableFloats(parameters.pointer + copy))
            } else {
                (parameters.pointer + copy).update(from: base.parameters.pointer + offset, count: count)
            }
        }
    }

    /// The embedding table the training forward looks tokens up in: the trainable copy when listed.
    var embeddingTable: UnsafePointer<S>? { embeddingCopy.map { UnsafePointer(parameters.pointer + $0) } }
    /// The output head the training forward multiplies by: the trainable copy when listed.
    var headMatrix: UnsafePointer<S>? { headCopy.map { UnsafePointer(parameters.pointer + $0) } }
}
