/// lm-eval's results table (`lm_eval.utils.make_table`, written by pytablewriter's
/// `MarkdownTableWriter`): one row per metric, stderr beside it, numbers right-aligned,
/// headers centred.
public enum ResultsTable {
    public struct Row {
        public var task: String
        public var version: String
        public var filter = "none"
        public var nShot = "0"
        public var metric: String
        public var higherIsBetter = "↑"
        public var value: Double
        public var stderr: Double?
    }

    /// `title` heads the first column: "Tasks", or "Groups" for lm-eval's group table.
    public static func markdown(_ rows: [Row], title: String = "Tasks") -> String {
        let headers = [title, "Version", "Filter", "n-shot", "Metric", "", "Value", "", "Stderr"]
        var cells: [[String]] = []
        var previousTask = ""
        for row in rows {
            let first = row.task != previousTask
            previousTask = row.task
            cells.append([first ? row.task : "", first ? row.version : "", row.filter, row.nShot, row.metric,
                          row.higherIsBetter, format4(row.value), row.stderr == nil ? "" : "±",
                          row.stderr.map(format4) ?? "   N/A"])
        }
        // pytablewriter re-reads the "%.4f" strings as numbers and prints a column with the
        // most decimals any of its values needs (0.4200 and 0.4800 print as 0.42 and 0.48).
        for column in [6, 8] { trimDecimals(&cells, column: column) }
        let rightAligned: Set<Int> = [1, 3, 6, 8]
        let widths = headers.indices.map { c in max(3, headers[c].count, cells.map { $0[c].count }.max() ?? 0) }
        var lines = ["|" + headers.indices.map { center(headers[$0], widths[$0]) }.joined(separator: "|") + "|"]
        lines.append("|" + headers.indices.map { c in
            rightAligned.contains(c) ? String(repeating: "-", count: widths[c] - 1) + ":" : String(repeating: "-", count: widths[c])
        }.joined(separator: "|") + "|")
        for row in cells {
            lines.append("|" + row.indices.map { c in
                let pad = String(repeating: " ", count: widths[c] - row[c].count)
                return rightAligned.contains(c) ? pad + row[c] : row[c] + pad
            }.joined(separator: "|") + "|")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Drops the trailing zeros a whole column does not need from its "%.4f" numbers.
    static func trimDecimals(_ cells: inout [[String]], column: Int) {
        func decimals(_ s: String) -> Int? {
            guard Double(s) != nil, let dot = s.firstIndex(of: ".") else { return nil }
            let fraction = s[s.index(after: dot)...]
            return fraction.count - fraction.reversed().prefix { $0 == "0" }.count
        }
        let needed = cells.compactMap { decimals($0[column]) }.max() ?? 4
        for r in cells.indices {
            let s = cells[r][column]
            guard decimals(s) != nil, let dot = s.firstIndex(of: ".") else { continue }
            let fraction = s.distance(from: s.index(after: dot), to: s.endIndex)
            cells[r][column] = String(s.dropLast(fraction - needed + (needed == 0 ? 1 : 0)))
        }
    }

    /// Python's `f"{v:.4f}"`.
    static func format4(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        let scaled = (abs(v) * 10_000).rounded(.toNearestOrEven)
        let whole = Int(scaled) / 10_000
        let frac = Int(scaled) % 10_000
        let digits = String(frac)
        return (v < 0 && scaled > 0 ? "-" : "") + "\(whole)." + String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// Python's `str.center`.
    static func center(_ s: String, _ width: Int) -> String {
        let margin = width - s.count
        guard margin > 0 else { return s }
        let left = margin / 2 + (margin & width & 1)
        return String(repeating: " ", count: left) + s + String(repeating: " ", count: margin - left)
    }

    /// How lm-eval prints a version: 1.0 as "1".
    static func version(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
    }
}
