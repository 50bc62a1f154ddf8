import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A finished short command: how it ended and what it printed.
public struct CommandResult: Sendable {
    public let termination: Termination
    public let standardOutput: Data
    /// Empty when stderr was merged into stdout.
    public let standardError: Data

    /// The shell's exit status (128 + signal when killed).
    public var status: Int32 { termination.exitCode }
    public var output: String { String(decoding: standardOutput, as: UTF8.self) }
    public var errors: String { String(decoding: standardError, as: UTF8.self) }
}

extension ChildProcess {
    /// Runs `arguments` (the program is looked up on PATH) to its end and returns its
    /// output. stdout and stderr are read on separate threads, so a chatty child never
    /// blocks on a full pipe; `input` is written to its stdin (which is /dev/null when nil).
    ///
    /// - Parameters:
    ///   - environment: the child's environment; this process's when nil.
    ///   - mergingErrors: stderr into the same pipe as stdout (interleaved as printed).
    public static func run(_ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
                           input: Data? = nil, mergingErrors: Bool = false) throws -> CommandResult {
        let out = try OutputPipe()
        let err = mergingErrors ? nil : try OutputPipe()
        // stdin from a deleted temporary file, not a pipe: a child that exits without
        // reading it cannot raise SIGPIPE here.
        var stdin: Int32?
        if let input {
            let path = NSTemporaryDirectory() + "dllm-stdin-" + UUID().uuidString
            guard FileManager.default.createFile(atPath: path, contents: input) else {
                throw ProcessError.cannotStart(program: arguments[0], reason: "cannot write its input to \(path)")
            }
            stdin = open(path, O_RDONLY | O_CLOEXEC)
            unlink(path)
        }
        defer { if let stdin, stdin >= 0 { close(stdin) } }
        let child: ChildProcess
        do {
            child = try ChildProcess(arguments: arguments, environment: environment ?? ProcessInfo.processInfo.environment,
                                     output: out.write, errors: err?.write, input: stdin, directory: directory)
        } catch {
            for fd in [out.read, out.write, err?.read, err?.write].compactMap({ $0 }) { close(fd) }
            throw error
        }
        close(out.write)
        if let err { close(err.write) }
        let errors = err.map { DrainedDescriptor($0.read) }
        let output = DrainedDescriptor.readToEnd(out.read)
        close(out.read)
        let termination = child.wait()
        return CommandResult(termination: termination, standardOutput: output, standardError: errors?.finish() ?? Data())
    }
}

/// A descriptor read to its end on a thread of its own: the thread stores what it read,
/// then signals `done`; `finish` waits for the signal, then takes the data.
final class DrainedDescriptor: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let data = Mutex(Data())

    init(_ fd: Int32) {
        let thread = Thread { [self] in
            let read = Self.readToEnd(fd)
            data.withLock { $0 = read }
            close(fd)
            done.signal()
        }
        thread.start()
    }

    func finish() -> Data {
        done.wait()
        return data.withLock { $0 }
    }

    static func readToEnd(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return data
    }
}
