import Foundation
import Yams

/// accelerate's `mixed_precision` (launch config key, `--mixed_precision` flag,
/// `ACCELERATE_MIXED_PRECISION` in the ranks' environment). HF Trainer reads that variable
/// when the training config sets neither `bf16` nor `fp16` (`TrainingArguments.__post_init__`),
/// so `mixed_precision: bf16` in a launch config trains in bf16 just as `bf16: true` does.
/// fp16 and fp8 are GPU formats and are refused where they are read.
public enum MixedPrecision: String, Sendable, CaseIterable {
    case no, bf16

    /// The environment variable accelerate sets for its processes.
    public static let environmentName = "ACCELERATE_MIXED_PRECISION"

    /// A value as written in a flag or the environment; nil with the reason otherwise.
    public static func parse(_ text: String) -> Result<MixedPrecision, MixedPrecisionError> {
        let value = text.lowercased()
        if let known = MixedPrecision(rawValue: value) { return .success(known) }
        if ["false", "fp32", "none"].contains(value) { return .success(.no) }
        if ["fp16", "fp8"].contains(value) {
            return .failure(MixedPrecisionError("\(text) is a GPU format; on CPU use bf16 or no"))
        }
        return .failure(MixedPrecisionError("\(text) is not one of no, bf16"))
    }

    /// A YAML value: YAML 1.1 reads an unquoted `no` as false, which means the same.
    static func parse(_ node: Node) -> Result<MixedPrecision, MixedPrecisionError> {
        if node.bool == false { return .success(.no) }
        return parse(node.string ?? "\(node)")
    }
}

public struct MixedPrecisionError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}
