import Foundation

/// Converts the King James Bible as printed by Debian's `bible` program
/// (`bible -l 100000 gen1:1-rev22:21`) into one JSONL row per chapter.
///
/// The program prints a `Book N` heading before most chapters and each verse as
/// `  V text` on one line (with `-l 100000` no verse is wrapped). A verse numbered 1 starts a new
/// chapter even where the heading is omitted. Verse numbers are dropped and verses joined by
/// newlines; the text is otherwise unchanged. The last book (Revelation) is the `test` split.
public enum BibleConverter {
    public struct Chapter: Equatable, Sendable {
        public var book: String
        public var chapter: Int
        public var verses: [String]
    }

    public static func chapters(fromBibleOutput text: String, file: String = "bible output") throws -> [Chapter] {
        var chapters: [Chapter] = []
        var book: String? = nil
        var pendingHeading: (String, Int)? = nil
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            if line.first?.isWhitespace == false {
                // Heading: "Genesis 1", "1 Samuel 3", "Song of Solomon 2".
                guard let space = line.lastIndex(of: " "), let number = Int(line[line.index(after: space)...]) else {
                    throw FetchError.unexpectedContent(file: file, detail: "line \(index + 1) '\(line)' is not a 'Book N' heading")
                }
                pendingHeading = (String(line[..<space]), number)
                continue
            }
            let trimmed = line.drop { $0 == " " }
            guard let space = trimmed.firstIndex(of: " "), let verse = Int(trimmed[..<space]) else {
                throw FetchError.unexpectedContent(file: file, detail: "line \(index + 1) is not a numbered verse")
            }
            let verseText = String(trimmed[trimmed.index(after: space)...]).trimmingCharacters(in: .whitespaces)
            if pendingHeading != nil || verse == 1 || chapters.isEmpty {
                if let (name, number) = pendingHeading {
                    book = name
                    chapters.append(Chapter(book: name, chapter: number, verses: []))
                } else if let current = book, let last = chapters.last {
                    chapters.append(Chapter(book: current, chapter: last.chapter + 1, verses: []))
                } else {
                    throw FetchError.unexpectedContent(file: file, detail: "line \(index + 1): a verse before any book heading")
                }
                pendingHeading = nil
            }
            chapters[chapters.count - 1].verses.append(verseText)
        }
        return chapters
    }

    public static func write(_ chapters: [Chapter], to directory: String) throws -> [FetchedFile] {
        var train = JSONLinesWriter()
        var test = JSONLinesWriter()
        let heldOut = chapters.last?.book
        for c in chapters {
            let row: [(String, JSONLinesWriter.Value)] = [
                ("text", .string(c.verses.joined(separator: "\n"))), ("book", .string(c.book)), ("chapter", .int(c.chapter)),
            ]
            if c.book == heldOut { test.append(row) } else { train.append(row) }
        }
        try train.write(to: directory + "/train.jsonl")
        try test.write(to: directory + "/test.jsonl")
        return [FetchedFile(path: "train.jsonl", rows: train.rows, bytes: train.bytes, note: "one row per chapter"),
                FetchedFile(path: "test.jsonl", rows: test.rows, bytes: test.bytes, note: "held out: \(heldOut ?? "-")")]
    }
}
