/// Errors a user can cause with sampling parameters or inputs, each naming the
/// parameter (in the command line's spelling) and what to change.
public enum SamplingError: Error, CustomStringConvertible, Equatable {
    /// `steps`, `gen_length`, `block_length`, ... must be at least 1.
    case notPositive(parameter: String, value: Int)
    /// `gen_length` must divide by `block_length`, `steps` by the number of blocks (LLaDA asserts both).
    case notDivisible(parameter: String, value: Int, divisor: String, divisorValue: Int)
    /// The canvas (prompt plus generated tokens) does not fit the model's positions.
    case promptTooLong(promptTokens: Int, genLength: Int, maxPositions: Int)
    /// Diffusion sampling needs a mask token (config `mask_token_id` or tokenizer `mask_token`).
    case noMaskToken(model: String)
    /// A value out of its range (temperature < 0, threshold outside (0, 1], unknown remasking, …).
    case invalidValue(parameter: String, value: String, reason: String)
    /// Nothing to sample from: no prompts, or an infill text without a mask.
    case emptyInput(parameter: String, reason: String)
    /// A bad field in line `line` of a batch-generation JSONL file.
    case badRequest(line: Int, field: String, reason: String)

    public var description: String {
        switch self {
        case let .notPositive(parameter, value):
            return "\(parameter) = \(value): must be at least 1."
        case let .notDivisible(parameter, value, divisor, divisorValue):
            return "\(parameter) = \(value) is not divisible by \(divisor) = \(divisorValue) (LLaDA's generate() requires it); "
                + "choose \(parameter) as a multiple of \(divisorValue)."
        case let .promptTooLong(promptTokens, genLength, maxPositions):
            return "prompt: \(promptTokens) tokens + gen_length \(genLength) = \(promptTokens + genLength) positions "
                + "exceeds the model's maximum of \(maxPositions); shorten the prompt or lower gen_length."
        case let .noMaskToken(model):
            return "\(model): no mask token (neither config.json mask_token_id nor tokenizer_config.json mask_token); "
                + "diffusion sampling needs one (use --mode ar for an autoregressive model)."
        case let .invalidValue(parameter, value, reason):
            return "\(parameter) = \(value): \(reason)."
        case let .emptyInput(parameter, reason):
            return "\(parameter): \(reason)."
        case let .badRequest(line, field, reason):
            return "input line \(line), field \"\(field)\": \(reason)."
        }
    }
}
