/// A spec string that does not parse, with the 1-based character position of the problem.
public struct DatasetSpecError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The whole string given.
    public var spec: String
    /// 1-based character position in `spec`.
    public var position: Int
    public var detail: String

    public var description: String {
        let caret = String(repeating: " ", count: max(0, position - 1)) + "^"
        return "Cannot parse dataset spec '\(spec)' at character \(position): \(detail).\n  \(spec)\n  \(caret)\n"
            + "Write PATH, or PATH[split:rows,...] with integer row counts (underscores allowed, e.g. "
            + "data.jsonl[train:1_000_000,test:1000]); join several with '+'."
    }
}

/// A limit on the rows of one split: `train:1_000` in `path[train:1_000]`.
public struct SplitLimit: Codable, Equatable, Sendable {
    public var split: String
    public var rows: Int

    public init(split: String, rows: Int) {
        self.split = split
        self.rows = rows
    }
}

/// One dataset reference as dLLM writes it on the command line: `path[train:1_000_000,test:1000]`.
///
/// Mirrors `dllm.utils.parse_spec` and the `re.split(r"[|+]", dataset_args)` in
/// `dllm.data.load_sft_dataset`/`load_pt_dataset`: specs are joined with `+` (or `|`); the
/// optional bracket holds comma-separated `key:value` entries; values matching
/// `\d(?:_?\d)*` are per-split row limits, other values are options (`field:data`,
/// `sample_by:paragraph`). dLLM has no percentages, so `train:10%` is an error here rather than
/// an option nobody reads; so are a malformed integer (`1__000`), a duplicate key, an empty path
/// and an unbalanced bracket.
public struct DatasetSpec: Codable, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var limits: [SplitLimit]
    public var options: [String: String]

    public init(path: String, limits: [SplitLimit] = [], options: [String: String] = [:]) {
        self.path = path
        self.limits = limits
        self.options = options
    }

    public var description: String {
        let entries = limits.map { "\($0.split):\($0.rows)" } + options.keys.sorted().map { "\($0):\(options[$0]!)" }
        return entries.isEmpty ? path : "\(path)[\(entries.joined(separator: ","))]"
    }

    /// Parses `a[train:10]+b`: one spec per `+`/`|`-separated part.
    public static func parseList(_ string: String) throws -> [DatasetSpec] {
        let chars = Array(string)
        var specs: [DatasetSpec] = []
        var start = 0
        var depth = 0
        for i in 0...chars.count {
            let atEnd = i == chars.count
            if !atEnd {
                if chars[i] == "[" { depth += 1 }
                if chars[i] == "]" { depth -= 1 }
            }
            if atEnd || (depth == 0 && (chars[i] == "+" || chars[i] == "|")) {
                specs.append(try parsePart(chars, start..<i, whole: string))
                start = i + 1
            }
        }
        return specs
    }

    /// Parses a single spec (no `+`).
    public static func parse(_ string: String) throws -> DatasetSpec {
        let chars = Array(string)
        return try parsePart(chars, 0..<chars.count, whole: string)
    }

    private static func parsePart(_ chars: [Character], _ range: Range<Int>, whole: String) throws -> DatasetSpec {
        func fail(_ at: Int, _ detail: String) -> DatasetSpecError {
            DatasetSpecError(spec: whole, position: at + 1, detail: detail)
        }
        var lo = range.lowerBound
        var hi = range.upperBound
        while lo < hi && chars[lo].isWhitespace { lo += 1 }
        while hi > lo && chars[hi - 1].isWhitespace { hi -= 1 }
        guard lo < hi else {
            throw fail(min(range.lowerBound, max(0, chars.count - 1)),
                       chars.isEmpty || chars.allSatisfy(\.isWhitespace) ? "the spec is empty" : "empty dataset spec between separators")
        }
        guard let open = chars[lo..<hi].firstIndex(of: "[") else {
            if let close = chars[lo..<hi].firstIndex(of: "]") { throw fail(close, "']' without a matching '['") }
            return DatasetSpec(path: String(chars[lo..<hi]))
        }
        var pathEnd = open
        while pathEnd > lo && chars[pathEnd - 1].isWhitespace { pathEnd -= 1 }
        guard pathEnd > lo else { throw fail(open, "the dataset path before '[' is empty") }
        guard chars[hi - 1] == "]" else {
            if let close = chars[(open + 1)..<hi].firstIndex(of: "]") {
                throw fail(close + 1, "text after the closing ']'")
            }
            throw fail(hi, "'[' at character \(open + 1) is never closed with ']'")
        }
        let contentRange = (open + 1)..<(hi - 1)
        if let nested = chars[contentRange].firstIndex(where: { $0 == "[" || $0 == "]" }) {
            throw fail(nested, "brackets cannot be nested")
        }
        var spec = DatasetSpec(path: String(chars[lo..<pathEnd]))
        var seen = Set<String>()
        var entryStart = contentRange.lowerBound
        for i in contentRange.lowerBound...contentRange.upperBound where i == contentRange.upperBound || chars[i] == "," {
            var a = entryStart
            var b = i
            entryStart = i + 1
            while a < b && chars[a].isWhitespace { a += 1 }
            while b > a && chars[b - 1].isWhitespace { b -= 1 }
            if a == b { continue }  // empty entries are skipped, as in parse_spec
            guard let colon = chars[a..<b].firstIndex(of: ":") else {
                throw fail(a, "entry '\(String(chars[a..<b]))' has no ':' (expected key:value, e.g. train:1000)")
            }
            var keyEnd = colon
            while keyEnd > a && chars[keyEnd - 1].isWhitespace { keyEnd -= 1 }
            var valueStart = colon + 1
            while valueStart < b && chars[valueStart].isWhitespace { valueStart += 1 }
            let key = String(chars[a..<keyEnd])
            let value = String(chars[valueStart..<b])
            guard !key.isEmpty else { throw fail(a, "an entry has an empty key before ':'") }
            guard !value.isEmpty else { throw fail(colon, "entry '\(key)' has an empty value after ':'") }
            guard seen.insert(key).inserted else { throw fail(a, "'\(key)' is given twice") }
            if let first = value.first, first.isNumber || first == "-" || first == "+" || first == "." {
                spec.limits.append(SplitLimit(split: key, rows: try parseCount(chars, valueStart..<b, fail: fail)))
            } else {
                spec.options[key] = value
            }
        }
        return spec
    }

    /// `\d(?:_?\d)*`, as in parse_spec; anything else that looks numeric is an error.
    private static func parseCount(
        _ chars: [Character], _ range: Range<Int>, fail: (Int, String) -> DatasetSpecError
    ) throws -> Int {
        var value = 0
        var previousUnderscore = false
        for i in range {
            let c = chars[i]
            if c == "_" {
                guard i > range.lowerBound, !previousUnderscore, i + 1 < range.upperBound else {
                    throw fail(i, "misplaced '_' in a row count (use it only between digits, e.g. 1_000)")
                }
                previousUnderscore = true
                continue
            }
            previousUnderscore = false
            if c == "%" {
                throw fail(i, "percentages are not supported (dLLM's parse_spec takes row counts); give a number of rows")
            }
            guard let digit = c.wholeNumberValue, c.isASCII else {
                throw fail(i, "'\(c)' in a row count: counts are non-negative integers such as 1000 or 1_000_000")
            }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(digit)
            guard !o1, !o2 else { throw fail(range.lowerBound, "row count too large") }
            value = sum
        }
        return value
    }
}
