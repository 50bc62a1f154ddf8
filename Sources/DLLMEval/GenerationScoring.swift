import Foundation

/// Post-processing and scoring of `generate_until` answers as lm-eval does it: cutting a
/// generation at its stop strings, the `regex` + `take_first` filters, and `exact_match`.
/// Patterns run through ICU (`NSRegularExpression`); those used here (GSM8K's) mean the same
/// in Python's `re`.
public enum GenerationScoring {
    /// lm-eval `HFLM.generate_until`'s post-processing: for each stop string in order, keep
    /// what precedes its first occurrence (`s.split(term)[0]`, empty terms skipped).
    public static func cut(_ text: String, at until: [String]) -> String {
        var s = text
        for term in until where !term.isEmpty {
            if let range = s.range(of: term) { s = String(s[..<range.lowerBound]) }
        }
        return s
    }

    static func regex(_ pattern: String) -> NSRegularExpression {
        do { return try NSRegularExpression(pattern: pattern) } catch {
            preconditionFailure("built-in pattern \(pattern) does not compile: \(error)")
        }
    }

    /// `re.sub(pattern, "", text)`: every non-overlapping match removed.
    static func removeMatches(of pattern: NSRegularExpression, in text: String) -> String {
        pattern.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "")
    }
}

/// Mirrors lm-eval `filters/extraction.py` `RegexFilter` followed by `take_first`: `re.findall`
/// on the answer; the match at `groupSelect` (negative counts from the end, as a Python index);
/// with several groups, its first non-empty group; stripped. No match: `fallback`.
public struct RegexExtractFilter: Sendable {
    public var name: String
    public var pattern: String
    public var groupSelect: Int
    public var fallback: String

    public init(name: String, pattern: String, groupSelect: Int = 0, fallback: String = "[invalid]") {
        self.name = name
        self.pattern = pattern
        self.groupSelect = groupSelect
        self.fallback = fallback
    }

    public func apply(_ response: String) -> String {
        let regex = GenerationScoring.regex(pattern)
        let matches = regex.matches(in: response, range: NSRange(response.startIndex..., in: response))
        guard !matches.isEmpty else { return fallback }
        let index = groupSelect < 0 ? matches.count + groupSelect : groupSelect
        guard matches.indices.contains(index) else { return fallback }  // Python would raise IndexError
        let match = matches[index]
        func group(_ g: Int) -> String {
            let range = match.range(at: g)
            guard range.location != NSNotFound, let r = Range(range, in: response) else { return "" }
            return String(response[r])
        }
        let groups = regex.numberOfCaptureGroups
        let text: String
        switch groups {
        case 0: text = group(0)
        case 1: text = group(1)
        default:
            guard let first = (1...groups).map(group).first(where: { !$0.isEmpty }) else { return fallback }
            text = first
        }
        return pythonStrip(text)
    }
}

/// Mirrors lm-eval `api/metrics.py` `exact_match_hf_evaluate` for one prediction: each of
/// `regexesToIgnore` removed from both strings in order, then lower-cased (`ignoreCase`),
/// punctuation (`string.punctuation`) deleted (`ignorePunctuation`); 1 when equal.
public struct ExactMatch: Sendable {
    public var regexesToIgnore: [String]
    public var ignoreCase: Bool
    public var ignorePunctuation: Bool

    public init(regexesToIgnore: [String] = [], ignoreCase: Bool = false, ignorePunctuation: Bool = false) {
        self.regexesToIgnore = regexesToIgnore
        self.ignoreCase = ignoreCase
        self.ignorePunctuation = ignorePunctuation
    }

    func normalized(_ text: String) -> String {
        var s = text
        for pattern in regexesToIgnore { s = GenerationScoring.removeMatches(of: GenerationScoring.regex(pattern), in: s) }
        if ignoreCase { s = s.lowercased() }
        if ignorePunctuation {
            let punctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)
            s = String(String.UnicodeScalarView(s.unicodeScalars.filter { !punctuation.contains($0) }))
        }
        return s
    }

    public func score(prediction: String, reference: String) -> Double {
        normalized(prediction) == normalized(reference) ? 1 : 0
    }
}

/// lm-eval `lm_eval/tasks/gsm8k/gsm8k.yaml` (version 3.0): its stop strings, filters and metric.
public enum GSM8KScoring {
    public static let until = ["Question:", "</s>", "<|im_end|>"]
    /// `strict-match`: the number after "#### "; `flexible-extract`: the last number-like run.
    public static let filters = [
        RegexExtractFilter(name: "strict-match", pattern: "#### (\\-?[0-9\\.\\,]+)"),
        RegexExtractFilter(name: "flexible-extract", pattern: "(-?[$0-9.,]{2,})|(-?[0-9]+)", groupSelect: -1),
    ]
    public static let exactMatch = ExactMatch(regexesToIgnore: [",", "\\$", "(?s).*#### ", "\\.$"], ignoreCase: true)
}
