import DLLMCheckpoint
import DLLMCompute
import DLLMJSON
import Foundation

/// An adapter folder in PEFT's layout (`PeftModel.save_pretrained`): `adapter_config.json` and
/// `adapter_model.safetensors` (F32, tensors `base_model.model.<module>.lora_A.weight` (r, in) and
/// `….lora_B.weight` (out, r)), loadable with `PeftModel.from_pretrained(base, folder)`.
public enum LoRAAdapterFolder {
    public static let configFileName = "adapter_config.json"
    public static let weightsFileName = "adapter_model.safetensors"

    /// True when `folder` holds an adapter config.
    public static func isAdapter(_ folder: URL) -> Bool {
        FileManager.default.fileExists(atPath: folder.appendingPathComponent(configFileName).path)
    }

    /// `adapter_config.json` with PEFT 0.21's `LoraConfig` fields (an `all-linear` target is
    /// written expanded to the module names, as PEFT saves it).
    public static func configJSON<S>(_ adapters: LoRAAdapters<S>, baseModel: String) -> JSONValue {
        let c = adapters.configuration
        let targets: JSONValue
        switch c.targetModules {
        case .pattern(let text): targets = .string(text)
        case .names(let list): targets = .array(Array(Set(list)).sorted().map(JSONValue.string))
        case .allLinear:
            let short = Set(adapters.modules.map { String($0.split(separator: ".").last!) })
            targets = .array(short.sorted().map(JSONValue.string))
        }
        let members: [(key: String, value: JSONValue)] = [
            ("alpha_pattern", .object([])), ("auto_mapping", .null), ("base_model_name_or_path", .string(baseModel)),
            ("bias", .string("none")), ("fan_in_fan_out", .bool(false)), ("inference_mode", .bool(true)),
            ("init_lora_weights", .bool(true)), ("layers_pattern", .null), ("layers_to_transform", .null),
            ("lora_alpha", c.loraAlpha == c.loraAlpha.rounded() ? .integer(Int64(c.loraAlpha)) : .double(c.loraAlpha)),
            ("lora_bias", .bool(false)), ("lora_dropout", .double(c.loraDropout)),
            ("modules_to_save", c.modulesToSave.isEmpty ? .null : .array(c.modulesToSave.map(JSONValue.string))),
            ("peft_type", .string("LORA")), ("r", .integer(Int64(c.r))), ("rank_pattern", .object([])),
            ("revision", .null), ("target_modules", targets), ("task_type", .string("CAUSAL_LM")),
            ("use_dora", .bool(false)), ("use_rslora", .bool(c.useRSLoRA)),
        ]
        return .object(members)
    }

    /// Writes `adapter_config.json` into `folder` (atomically).
    public static func writeConfig<S>(_ adapters: LoRAAdapters<S>, baseModel: String, to folder: URL) throws {
        let text = JSONWriter.bytes(configJSON(adapters, baseModel: baseModel), style: .indented(2), sortedKeys: true)
        try AtomicFile.write(Data(text + [0x0A]), to: folder.appendingPathComponent(configFileName))
    }

    /// Writes both files of an adapter folder (each atomically), creating `folder`.
    public static func save<S>(_ adapters: LoRAAdapters<S>, baseModel: String, to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        for slot in adapters.layout.slots {
            try writer.add(slot.name, shape: slot.shape,
                           values: UnsafeBufferPointer(start: adapters.parameters.pointer + slot.offset, count: slot.count), as: .F32)
        }
        try writer.write(to: folder.appendingPathComponent(weightsFileName))
        try writeConfig(adapters, baseModel: baseModel, to: folder)
    }

    /// The adapter configuration of `folder`'s `adapter_config.json`.
    public static func configuration(of folder: URL) throws -> (configuration: LoRAConfiguration, baseModel: String?) {
        let url = folder.appendingPathComponent(configFileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw LoRAError.badAdapter(path: folder.path, reason: "no \(configFileName)")
        }
        let json: JSONValue
        do { json = try JSONParser.parse(data) } catch { throw LoRAError.badAdapter(path: url.path, reason: "\(error)") }
        if let type = json["peft_type"]?.stringValue, type != "LORA" {
            throw LoRAError.badAdapter(path: url.path, reason: "peft_type \(type) is not LORA")
        }
        if json["fan_in_fan_out"]?.boolValue == true {
            throw LoRAError.badAdapter(path: url.path, reason: "fan_in_fan_out true (GPT-2 Conv1D layout) is not supported")
        }
        if let bias = json["bias"]?.stringValue, bias != "none" {
            throw LoRAError.badAdapter(path: url.path, reason: "bias \"\(bias)\": only bias \"none\" is supported")
        }
        if json["use_dora"]?.boolValue == true { throw LoRAError.badAdapter(path: url.path, reason: "DoRA adapters are not supported") }
        var configuration: LoRAConfiguration
        do { configuration = try JSONValueDecoder().decode(LoRAConfiguration.self, from: json) } catch {
            throw LoRAError.badAdapter(path: url.path, reason: "\(error)")
        }
        if json["modules_to_save"]?.isNull ?? true { configuration.modulesToSave = [] }
        if let (key, message) = configuration.problem() {
            throw LoRAError.badAdapter(path: url.path, reason: "\(key.rawValue): \(message)")
        }
        return (configuration, json["base_model_name_or_path"]?.stringValue)
    }

    /// Reads `folder`'s adapters for `base`, checking every tensor's name and shape; inference
    /// only, so dropout is off.
    public static func load<S>(_ folder: URL, for base: LlamaModel<S>) throws -> LoRAAdapters<S> {
        let (configuration, _) = try configuration(of: folder)
        let adapters = try LoRAAdapters<S>(spec: base.spec, configuration: configuration, seed: 0)
        adapters.training = false
        let url = folder.appendingPathComponent(weightsFileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw LoRAError.badAdapter(path: folder.path, reason: "no \(weightsFileName)")
        }
        let file = try SafeTensorsFile(contentsOf: url)
        try read(file, into: adapters, path: url.path)
        return adapters
    }

    /// Every adapter tensor from `file` (names and shapes exactly those the configuration implies).
    public static func read<S>(_ file: SafeTensorsFile, into adapters: LoRAAdapters<S>, path: String) throws {
        let layout = adapters.layout
        for name in file.tensorNames where layout.slot(name) == nil {
            throw LoRAError.badAdapter(path: path, reason: "tensor \(name) is not an adapter of a targeted module of this model")
        }
        for slot in layout.slots {
            guard let info = file.info(slot.name) else { throw LoRAError.badAdapter(path: path, reason: "missing tensor \(slot.name)") }
            guard info.shape == slot.shape else {
                throw LoRAError.badAdapter(path: path, reason: "tensor \(slot.name) has shape \(info.shape), expected \(slot.shape)")
            }
            try file.read(slot.name, into: UnsafeMutableBufferPointer(start: adapters.parameters.pointer + slot.offset, count: slot.count))
        }
    }
}
