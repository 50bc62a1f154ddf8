import DLLMJSON
import Foundation

/// The collector's memory of where each run writes (`STATE/runs.json`), so a
/// restarted collector appends to the same `metrics.jsonl` before any start event.
struct RunIndex {
    let url: URL
    private var folders: [String: String] = [:]
    private var order: [String] = []
    static let limit = 1_000

    init(directory: URL) {
        url = directory.appendingPathComponent("runs.json")
        if let data = try? Data(contentsOf: url),
           let stored = try? JSONValueDecoder().decode(Stored.self, fromJSON: data) {
            for entry in stored.runs {
                folders[entry.run] = entry.dir
                order.append(entry.run)
            }
        }
    }

    subscript(run: String) -> String? {
        get { folders[run] }
        set {
            order.removeAll { $0 == run }
            folders[run] = newValue
            if newValue != nil { order.append(run) }
            while order.count > Self.limit { folders[order.removeFirst()] = nil }
        }
    }

    /// Writes the index atomically (temporary file, then rename).
    func save() throws {
        let stored = Stored(runs: order.compactMap { run in folders[run].map { Stored.Entry(run: run, dir: $0) } })
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(JSONValueEncoder().bytes(stored, style: .indented(2))).write(to: url, options: .atomic)
        } catch {
            throw TelemetryError.file(path: url.path, reason: "cannot save the run index (\(error.localizedDescription)); pass --state-dir to keep it elsewhere")
        }
    }

    struct Stored: Codable {
        struct Entry: Codable { var run: String; var dir: String }
        var runs: [Entry]
    }
}
