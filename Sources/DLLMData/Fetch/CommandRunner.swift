import DLLMProcess
import Foundation

/// Runs the ordinary package clients (`pip`, `apt-get`, `dpkg-deb`, `tar`, `unzip`) as child
/// processes, through DLLMProcess's `ChildProcess.run`.
enum CommandRunner {
    /// The path to run for `tool`, or nil: a name with a slash is a path, as in a shell (relative
    /// ones to the working directory: `--cache data` gives `data/kjv-bible/…/bible`); a bare name
    /// is looked up on `PATH`.
    static func find(_ tool: String) -> String? {
        if tool.contains("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `tool args` in `directory`, returning standard output; throws with the combined
    /// output when the status is not 0.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String], in directory: String? = nil, purpose: String,
                    install: String) throws -> Data {
        guard let executable = find(tool) else { throw FetchError.toolMissing(tool: tool, purpose: purpose, install: install) }
        let command = ([tool] + arguments).joined(separator: " ")
        let result: CommandResult
        do {
            result = try ChildProcess.run([executable] + arguments, directory: directory)
        } catch {
            throw FetchError.commandFailed(command: command, status: -1, output: "\(error)")
        }
        let outputData = result.standardOutput
        guard result.termination.succeeded else {
            let text = String(decoding: result.standardError.suffix(4000), as: UTF8.self)
                + String(decoding: outputData.suffix(2000), as: UTF8.self)
            throw FetchError.commandFailed(command: command, status: result.status, output: text)
        }
        return outputData
    }
}
