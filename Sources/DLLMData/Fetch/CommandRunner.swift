import Foundation

/// Runs the ordinary package clients (`pip`, `apt-get`, `dpkg-deb`, `tar`, `unzip`) as child
/// processes.
enum CommandRunner {
    /// The absolute path of `tool` on `PATH`, or nil.
    static func find(_ tool: String) -> String? {
        if tool.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let output = Pipe()
        // Standard error goes to a temporary file, so only one pipe needs draining.
        let errorPath = NSTemporaryDirectory() + "dllm-fetch-stderr-" + UUID().uuidString
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errorPath) }
        guard let errors = FileHandle(forWritingAtPath: errorPath) else {
            throw FetchError.cannotWrite(path: errorPath, reason: "cannot create a temporary file")
        }
        defer { try? errors.close() }
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw FetchError.commandFailed(command: ([tool] + arguments).joined(separator: " "), status: -1,
                                           output: error.localizedDescription)
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errorData = FileManager.default.contents(atPath: errorPath) ?? Data()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errorData.suffix(4000), as: UTF8.self) + String(decoding: outputData.suffix(2000), as: UTF8.self)
            throw FetchError.commandFailed(command: ([tool] + arguments).joined(separator: " "),
                                           status: process.terminationStatus, output: text)
        }
        return outputData
    }
}
