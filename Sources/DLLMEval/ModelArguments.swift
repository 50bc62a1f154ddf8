import DLLMSampling
import Foundation

/// lm-eval's `--model NAME --model_args key=value,…` as dLLM and LLaDA users type them,
/// resolved to the model path and the scoring (autoregressive, or LLaDA's Monte Carlo).
///
/// Backends: `hf`/`huggingface` (exact causal log-likelihood); `llada`, `llada_dist`
/// (LLaDA's own harness name), `mdlm`, `a2d_mdlm` (masked diffusion, Monte Carlo). `--model PATH`
/// is a shorthand whose scoring follows the model (diffusion when it has a mask token).
/// Every key keeps the meaning LLaDA's `eval_llada.py` / dLLM's `LLaDAEvalHarness` give it;
/// a key this project does not implement is refused by name.
public struct EvalModelArguments: Equatable, Sendable {
    public enum Scoring: String, Sendable {
        case ar, diffusion
    }

    /// The backend as typed (`hf`, `llada`, …), or nil for `--model PATH`.
    public var backend: String?
    public var path: String
    /// nil: from the model (a mask token means diffusion).
    public var scoring: Scoring?
    /// `mc_num`, LLaDA's `batch_size` (the Monte Carlo mini-batch), `cfg`, `shift`, `is_check_greedy`.
    public var monteCarlo: MonteCarloSettings
    /// `mask_id`: overrides the model's mask token.
    public var maskID: Int32?
    /// `max_length`: the most tokens of one sequence (the model's positions at most).
    public var maxLength: Int?
    /// The `--model_args` string as given (recorded in the results).
    public var raw: String
    /// The diffusion sampler's settings for `generate_until` (`steps`, `gen_length`, …).
    public var generation = DiffusionGenerationSettings()

    public static let arBackends = ["hf", "huggingface"]
    public static let diffusionBackends = ["llada", "llada_dist", "mdlm", "a2d_mdlm"]
    static let notImplementedBackends = ["dream", "bd3lm", "a2d_bd3lm", "edlm", "vllm", "sglang", "openai-completions",
                                         "local-completions", "hf-multimodal", "mamba_ssm"]
    /// dLLM's sampler arguments not implemented here (they steer Dream's or dLLM's other samplers).
    static let generationKeys = ["logits_eos_inf", "confidence_eos_eot_inf", "suppress_tokens", "begin_suppress_tokens",
                                 "alg", "alg_temp", "top_p", "top_k", "escape_until"]

    /// Parses `--model`, `--model_args` and the `--batch_size` flag (nil when not given; lm-eval
    /// hands it to the backend as `batch_size`, which LLaDA's harness uses as its Monte Carlo
    /// mini-batch, so giving it in both places is refused as lm-eval's duplicate keyword is).
    public static func parse(model: String, modelArgs: String?, batchSize: Int?) throws -> EvalModelArguments {
        var pairs: [(String, String)] = []
        for item in (modelArgs ?? "").split(separator: ",") where !item.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw EvalError.invalidOption(name: "--model_args", detail: "'\(item)' is not key=value")
            }
            guard !pairs.contains(where: { $0.0 == parts[0] }) else {
                throw EvalError.invalidOption(name: "--model_args", detail: "'\(parts[0])' is given twice")
            }
            pairs.append((parts[0], Self.unquoted(parts[1])))
        }
        var args = EvalModelArguments(backend: nil, path: model, scoring: nil,
                                      monteCarlo: MonteCarloSettings(mcNum: 128, miniBatch: batchSize ?? 1),
                                      maskID: nil, maxLength: nil, raw: modelArgs ?? "")
        if arBackends.contains(model) {
            args.backend = model
            args.scoring = .ar
        } else if diffusionBackends.contains(model) {
            args.backend = model
            args.scoring = .diffusion
        } else if notImplementedBackends.contains(model) {
            throw EvalError.unsupportedOption(name: "--model \(model)",
                                              detail: "implemented backends: \((arBackends + diffusionBackends).joined(separator: ", ")), or a model path")
        }
        var pretrained: String?
        for (key, value) in pairs {
            let name = "model argument '\(key)'"
            func int() throws -> Int {
                guard let v = Int(value) else { throw EvalError.invalidOption(name: name, detail: "'\(value)' is not an integer") }
                return v
            }
            func diffusionOnly() throws {
                if args.scoring == .ar {
                    throw EvalError.unsupportedOption(name: name, detail: "only diffusion backends (\(diffusionBackends.joined(separator: ", "))) take it")
                }
            }
            switch key {
            case "pretrained", "model_path":
                pretrained = value
            case "max_length":
                let v = try int()
                guard v >= 2 else { throw EvalError.invalidOption(name: name, detail: "must be at least 2") }
                args.maxLength = v
            case "dtype":
                guard ["auto", "float32", "float", "torch.float32"].contains(value) else {
                    throw EvalError.unsupportedOption(name: "\(name) = \(value)", detail: "dllm eval computes in float32")
                }
            case "device":
                guard value == "cpu" else { throw EvalError.unsupportedOption(name: "\(name) = \(value)", detail: "dllm evaluates on the CPU") }
            case "mc_num":
                try diffusionOnly()
                args.monteCarlo.mcNum = try int()
            case "batch_size":
                try diffusionOnly()
                if batchSize != nil {
                    throw EvalError.invalidOption(name: name, detail: "--batch_size gives it already (lm-eval passes the flag as batch_size)")
                }
                args.monteCarlo.miniBatch = try int()
            case "cfg", "cfg_scale":
                try diffusionOnly()
                guard let v = Double(value), v >= 0, v.isFinite else {
                    throw EvalError.invalidOption(name: name, detail: "'\(value)' is not a non-negative number")
                }
                args.monteCarlo.cfg = v
            case "is_check_greedy":
                try diffusionOnly()
                args.monteCarlo.checkGreedy = try Self.bool(value, name: name)
            case "shift", "right_shift_logits":
                try diffusionOnly()
                args.monteCarlo.shift = try Self.bool(value, name: name)
            case "mask_id":
                try diffusionOnly()
                guard let v = Int32(value), v >= 0 else { throw EvalError.invalidOption(name: name, detail: "'\(value)' is not a token id") }
                args.maskID = v
            case "steps", "gen_length", "max_new_tokens", "block_length", "block_size":
                try diffusionOnly()
                let v = try int()
                guard v >= 1 else { throw EvalError.invalidOption(name: name, detail: "must be at least 1") }
                switch key {
                case "steps": args.generation.steps = v
                case "gen_length", "max_new_tokens": args.generation.genLength = v
                default: args.generation.blockLength = v
                }
            case "remasking":
                try diffusionOnly()
                guard let r = Remasking(rawValue: value) else {
                    throw EvalError.invalidOption(name: name, detail: "'\(value)' is not one of \(Remasking.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                args.generation.remasking = r
            case "threshold":
                try diffusionOnly()
                guard let v = Double(value), v > 0, v <= 1 else { throw EvalError.invalidOption(name: name, detail: "'\(value)' is not in (0, 1]") }
                args.generation.threshold = v
            case "temperature":
                try diffusionOnly()
                guard let v = Double(value), v >= 0, v.isFinite else { throw EvalError.invalidOption(name: name, detail: "'\(value)' is not a number ≥ 0") }
                args.generation.temperature = v
            case "use_cache":
                try diffusionOnly()
                if try Self.bool(value, name: name), args.generation.cache == .none { args.generation.cache = .prefix }
            case "dual_cache":
                try diffusionOnly()
                if try Self.bool(value, name: name) { args.generation.cache = .dual }
            case _ where generationKeys.contains(key):
                throw EvalError.unsupportedOption(name: name, detail: "a sampler argument dllm eval does not implement (its MDLM sampler takes steps, gen_length, block_length, remasking, threshold, temperature, cfg, use_cache, dual_cache)")
            default:
                throw EvalError.unsupportedOption(name: name, detail: "not an argument dllm eval implements")
            }
        }
        if args.backend != nil {
            guard let pretrained else { throw EvalError.invalidOption(name: "--model \(model)", detail: "needs --model_args pretrained=PATH") }
            args.path = pretrained
        } else if let pretrained, pretrained != model {
            throw EvalError.invalidOption(name: "--model_args pretrained", detail: "differs from --model \(model)")
        }
        if args.scoring == .diffusion { try args.checkMonteCarlo() }
        return args
    }

    /// LLaDA's `assert mc_num % batch_size == 0` (diffusion scoring only; `--batch_size` of an
    /// autoregressive model is its forward batch).
    public func checkMonteCarlo() throws {
        let mc = monteCarlo
        guard mc.mcNum >= 1, mc.miniBatch >= 1, mc.mcNum % mc.miniBatch == 0 else {
            throw EvalError.invalidOption(name: "mc_num \(mc.mcNum), batch_size \(mc.miniBatch)",
                                          detail: "mc_num must be a positive multiple of the Monte Carlo batch size (as LLaDA asserts)")
        }
    }

    static func bool(_ value: String, name: String) throws -> Bool {
        switch value.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw EvalError.invalidOption(name: name, detail: "'\(value)' is not True or False")
        }
    }

    /// `model_path='X'` as LLaDA's scripts quote it.
    static func unquoted(_ s: String) -> String {
        if s.count >= 2, let f = s.first, f == s.last, f == "'" || f == "\"" { return String(s.dropFirst().dropLast()) }
        return s
    }
}
