import Foundation

/// Which linear layers get adapters, as PEFT's `LoraConfig.target_modules` takes them.
public enum LoRATargets: Sendable, Equatable, Codable {
    /// `all-linear`: every linear layer except the output head (PEFT `INCLUDE_LINEAR_LAYERS_SHORTHAND`).
    case allLinear
    /// Module names: a module matches when its full name equals one or ends with `.` + one
    /// (mirrors PEFT `check_target_module_exists` for a list).
    case names([String])
    /// A regular expression matched against the whole module name (PEFT's `re.fullmatch` for a string).
    case pattern(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let list = try? c.decode([String].self) { self = .names(list); return }
        let text = try c.decode(String.self)
        self = text == "all-linear" ? .allLinear : .pattern(text)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .allLinear: try c.encode("all-linear")
        case .names(let list): try c.encode(list)
        case .pattern(let text): try c.encode(text)
        }
    }

    /// True when the linear layer `module` (full name, e.g. `model.layers.0.self_attn.q_proj`) is targeted.
    /// `all-linear` is resolved by the caller, which knows which layer is the output head.
    public func matches(_ module: String) throws -> Bool {
        switch self {
        case .allLinear: return true
        case .names(let list): return list.contains { module == $0 || module.hasSuffix("." + $0) }
        case .pattern(let text): return module.wholeMatch(of: try Self.regex(text)) != nil
        }
    }

    static func regex(_ text: String) throws -> Regex<AnyRegexOutput> {
        do { return try Regex(text) } catch { throw LoRAError.badTargetPattern(text, reason: "\(error)") }
    }
}

/// LoRA's options with PEFT's names and dLLM's defaults (`r` 32, `lora_alpha` 64, `lora_dropout` 0.05):
/// Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models"; rank-stabilised scaling
/// α/√r from Kalajdzievski 2023 ("rsLoRA"). Mirrors PEFT `LoraConfig`.
public struct LoRAConfiguration: Sendable, Equatable, Codable {
    public var r: Int = 32
    public var loraAlpha: Double = 64
    public var loraDropout: Double = 0.05
    public var targetModules: LoRATargets = .allLinear
    /// Modules trained in full beside the adapters (PEFT `modules_to_save`): the token embedding
    /// and the output head (``LoRASavedModules``).
    public var modulesToSave: [String] = []
    public var useRSLoRA: Bool = false

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case r, loraAlpha = "lora_alpha", loraDropout = "lora_dropout", targetModules = "target_modules"
        case modulesToSave = "modules_to_save", useRSLoRA = "use_rslora"
    }

    public init(r: Int = 32, loraAlpha: Double = 64, loraDropout: Double = 0.05, targetModules: LoRATargets = .allLinear,
                modulesToSave: [String] = [], useRSLoRA: Bool = false) {
        self.r = r
        self.loraAlpha = loraAlpha
        self.loraDropout = loraDropout
        self.targetModules = targetModules
        self.modulesToSave = modulesToSave
        self.useRSLoRA = useRSLoRA
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LoRAConfiguration()
        r = try c.decodeIfPresent(Int.self, forKey: .r) ?? d.r
        loraAlpha = try c.decodeIfPresent(Double.self, forKey: .loraAlpha) ?? d.loraAlpha
        loraDropout = try c.decodeIfPresent(Double.self, forKey: .loraDropout) ?? d.loraDropout
        targetModules = try c.decodeIfPresent(LoRATargets.self, forKey: .targetModules) ?? d.targetModules
        if let list = try? c.decodeIfPresent([String].self, forKey: .modulesToSave) {
            modulesToSave = list
        } else {
            modulesToSave = try c.decodeIfPresent(String.self, forKey: .modulesToSave).map { [$0] } ?? []
        }
        useRSLoRA = try c.decodeIfPresent(Bool.self, forKey: .useRSLoRA) ?? d.useRSLoRA
    }

    /// The adapter's output scale: α/r, or α/√r with rsLoRA (PEFT `LoraLayer.update_layer`).
    public var scale: Double { useRSLoRA ? loraAlpha / Double(r).squareRoot() : loraAlpha / Double(r) }

    /// The first invalid option, as (key, what is wrong), or nil.
    public func problem() -> (key: CodingKeys, message: String)? {
        if r < 1 { return (.r, "must be at least 1") }
        if !loraAlpha.isFinite || loraAlpha <= 0 { return (.loraAlpha, "must be a positive number") }
        if !loraDropout.isFinite || !(0..<1).contains(loraDropout) { return (.loraDropout, "must be in [0, 1)") }
        switch targetModules {
        case .names(let list) where list.isEmpty: return (.targetModules, "names no module; use all-linear, a list of names such as q_proj, or a regular expression")
        case .pattern(let text):
            if (try? LoRATargets.regex(text)) == nil { return (.targetModules, "\"\(text)\" is not a regular expression (nor all-linear)") }
        default: break
        }
        return nil
    }
}

/// LoRA mistakes a user must fix.
public enum LoRAError: Error, CustomStringConvertible {
    case badTargetPattern(String, reason: String)
    case noTargets(LoRATargets, model: String)
    case unknownModuleToSave(String, available: [String])
    case badAdapter(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badTargetPattern(text, reason): return "target_modules: \"\(text)\" is not a regular expression: \(reason)"
        case let .noTargets(targets, model):
            return "target_modules: \(targets) matches no linear layer of \(model) (names look like q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)"
        case let .unknownModuleToSave(name, available):
            return "modules_to_save: \"\(name)\" names no module dllm can train in full beside the adapters (or names block layers too); "
                + "the token embedding and the output head can, by these names: \(available.joined(separator: ", ")); or remove the entry"
        case let .badAdapter(path, reason): return "\(path): not a usable LoRA adapter: \(reason)"
        }
    }
}
