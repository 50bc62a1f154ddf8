import Foundation

/// A task's `generation_kwargs` after lm-eval's `normalize_gen_kwargs` (`lm_eval/models/utils.py`):
/// the stop strings, the most tokens to generate, and greedy decoding (the only kind run here).
public struct GenerationKwargs: Equatable, Sendable {
    /// `until`: the text is cut before the first occurrence of each, in order.
    public var until: [String]
    /// `max_gen_toks` (aliases `max_new_tokens`, `max_tokens`, `max_completion_tokens`, in that
    /// priority); HFLM's default is 256.
    public var maxGenToks: Int

    public static let defaultMaxGenToks = 256

    public init(until: [String], maxGenToks: Int = GenerationKwargs.defaultMaxGenToks) {
        self.until = until
        self.maxGenToks = maxGenToks
    }

    /// lm-eval's `--gen_kwargs key=value,…` (`simple_parse_args_string`), applied over the task's
    /// kwargs as `set_config(key="generation_kwargs", update=True)` does: `until` (one string, as
    /// that syntax gives it), `max_gen_toks` and its aliases, `do_sample` (False only) and
    /// `temperature` (0 only). Any other key is refused by name.
    public func overridden(by text: String?) throws -> GenerationKwargs {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return self }
        var result = self
        var maxTokens: [String: Int] = [:]
        for item in text.split(separator: ",") where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            let value = parts.count == 2 ? EvalModelArguments.unquoted(parts[1].trimmingCharacters(in: .whitespaces)) : ""
            let name = "--gen_kwargs \(key)"
            guard parts.count == 2, !key.isEmpty else {
                throw EvalError.invalidOption(name: "--gen_kwargs", detail: "'\(item)' is not key=value")
            }
            switch key {
            case "until":
                result.until = [value]
            case "max_gen_toks", "max_new_tokens", "max_tokens", "max_completion_tokens":
                guard let n = Int(value), n >= 1 else { throw EvalError.invalidOption(name: name, detail: "'\(value)' is not a positive integer") }
                maxTokens[key] = n
            case "do_sample":
                guard try !EvalModelArguments.bool(value, name: name) else {
                    throw EvalError.unsupportedOption(name: "\(name)=\(value)", detail: "dllm eval generates greedily (do_sample=False)")
                }
            case "temperature":
                guard let t = Double(value) else { throw EvalError.invalidOption(name: name, detail: "'\(value)' is not a number") }
                guard t == 0 else { throw EvalError.unsupportedOption(name: "\(name)=\(value)", detail: "dllm eval generates greedily (temperature=0)") }
            default:
                throw EvalError.unsupportedOption(name: name, detail: "not a generation argument dllm eval implements (until, max_gen_toks, do_sample=False, temperature=0)")
            }
        }
        // normalize_gen_kwargs: the first given of max_gen_toks > max_new_tokens > max_tokens > max_completion_tokens.
        if let n = ["max_gen_toks", "max_new_tokens", "max_tokens", "max_completion_tokens"].lazy.compactMap({ maxTokens[$0] }).first {
            result.maxGenToks = n
        }
        return result
    }
}

/// lm-eval's `generate_until` request: `Instance(arguments=(context, generation_kwargs))`.
public struct GenerateUntilRequest: Equatable, Sendable {
    public var context: String
    public var kwargs: GenerationKwargs

    public init(context: String, kwargs: GenerationKwargs) {
        self.context = context
        self.kwargs = kwargs
    }
}
