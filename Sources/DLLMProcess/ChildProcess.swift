import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How a child process ended.
public enum Termination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// The shell's convention: the exit code, or 128 + the signal number.
    public var exitCode: Int32 {
        switch self {
        case let .exited(code): return code
        case let .signaled(sig): return 128 + sig
        }
    }

    public var succeeded: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case let .exited(code): return "exited with code \(code)"
        case let .signaled(sig): return "was killed by signal \(sig) (\(Signals.name(sig)))"
        }
    }
}

/// Signal names for messages.
public enum Signals {
    public static func name(_ sig: Int32) -> String {
        let names: [Int32: String] = [SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
                                      SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1",
                                      SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
                                      SIGXCPU: "SIGXCPU"]
        return names[sig] ?? "signal \(sig)"
    }
}

/// glibc's `posix_spawn_file_actions_addchdir_np` (glibc 2.29 and later), looked up at run
/// time because Swift's Glibc module does not declare it (it sits behind `_GNU_SOURCE`).
private typealias SpawnAddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
private let spawnAddChdir: SpawnAddChdir? = dlsym(nil, "posix_spawn_file_actions_addchdir_np")
    .map { unsafeBitCast($0, to: SpawnAddChdir.self) }

/// A child started with `posix_spawnp`: default signal dispositions and an empty mask
/// whatever the parent ignores, optionally its own process group (so a terminal's
/// Ctrl-C reaches only the launcher, which decides what the job gets), stdin from
/// /dev/null (or a given descriptor), stdout and stderr to a given descriptor or
/// inherited.
///
/// The one process runner of the package (`run` below captures a short command's
/// output). It stays hand-written rather than Foundation's `Process` or
/// swift-subprocess because `dllm-launch`'s supervision needs exactly this: a
/// non-blocking `waitpid` poll from its own loop, signals to the child or its whole
/// process group, and signal dispositions reset in the child (a launcher that
/// ignores SIGINT must not pass that on to the ranks). swift-subprocess 1.0.2's API
/// is `async` only, which none of the callers (fetching, the launcher's loop, tests)
/// are, and `Process` offers neither process groups nor the signal reset.
///
/// Sendable: `pid` and `program` are immutable; `finished` lives in a `Mutex`.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    public let program: String
    /// How the child ended, once a `waitpid` has reaped it (reaping happens once).
    private let finished = Mutex<Termination?>(nil)

    /// - Parameters:
    ///   - output: where stdout (and stderr, unless `errors` is given) goes; inherited when nil.
    ///   - errors: where stderr goes, when it must be kept apart from `output`.
    ///   - input: where stdin comes from; /dev/null when nil.
    ///   - directory: the child's working directory; the parent's when nil.
    public init(arguments: [String], environment: [String: String], newProcessGroup: Bool = false, output: Int32? = nil,
                errors: Int32? = nil, input: Int32? = nil, directory: String? = nil) throws {
        precondition(!arguments.isEmpty)
        program = arguments[0]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let input {
            posix_spawn_file_actions_adddup2(&actions, input, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if let output {
            posix_spawn_file_actions_adddup2(&actions, output, 1)
            posix_spawn_file_actions_adddup2(&actions, errors ?? output, 2)
        } else if let errors {
            posix_spawn_file_actions_adddup2(&actions, errors, 2)
        }
        if let directory {
            guard let addChdir = spawnAddChdir else {
                throw ProcessError.cannotStart(program: arguments[0], reason: "this C library cannot start a child in another directory")
            }
            let status = addChdir(&actions, directory)
            guard status == 0 else { throw ProcessError.cannotStart(program: arguments[0], reason: String(cString: strerror(status))) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        if newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE, SIGQUIT] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let status = posix_spawnp(&child, arguments[0], &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw ProcessError.cannotStart(program: arguments[0], reason: String(cString: strerror(status)))
        }
        pid = child
    }

    /// Non-blocking: how the child ended, or nil while it runs.
    public func poll() -> Termination? {
        finished.withLock { finished in
            if let finished { return finished }
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            guard r == pid else { return nil }
            finished = Self.decode(status)
            return finished
        }
    }

    /// Blocks until the child ends.
    public func wait() -> Termination {
        while true {
            if let t = poll() { return t }
            usleep(20_000)
        }
    }

    /// Waits at most `seconds`; nil if the child still runs.
    public func wait(seconds: Double) -> Termination? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let t = poll() { return t }
            usleep(20_000)
        }
        return poll()
    }

    /// Waits at most `seconds`; a child still running then is sent `sig` and waited for to its
    /// end. `interrupted` tells whether it had to be sent: a hang guard for callers (tests, a
    /// launcher stopping a job), not a measure of speed.
    public func wait(seconds: Double, thenSignal sig: Int32) -> (termination: Termination, interrupted: Bool) {
        if let termination = wait(seconds: seconds) { return (termination, false) }
        signal(sig)
        return (wait(), true)
    }

    public func signal(_ sig: Int32) {
        if poll() == nil { kill(pid, sig) }
    }

    /// Signals the child's process group (when it leads one).
    public func signalGroup(_ sig: Int32) {
        if poll() == nil { kill(-pid, sig) }
    }

    static func decode(_ status: Int32) -> Termination {
        // WIFSIGNALED / WEXITSTATUS are macros: the bit layout is Linux's.
        let sig = status & 0x7f
        if sig == 0 { return .exited((status >> 8) & 0xff) }
        return .signaled(sig)
    }

    /// The absolute path of `name` on PATH, or nil.
    public static func which(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for dir in (path ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The directory holding the running executable (through symlinks, so a `dllm-launch`
    /// linked into /usr/local/bin finds the `dllm` built beside it).
    public static var executableDirectory: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    }
}

/// Reads a descriptor line by line on its own thread until end of file. `onLine` runs
/// on that thread, hence `@Sendable`.
public final class LineReader: Sendable {
    private let done = DispatchSemaphore(value: 0)

    public init(fd: Int32, onLine: @escaping @Sendable (String) -> Void) {
        let thread = Thread { [done] in
            var pending = Data()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending.append(contentsOf: buffer[0..<n])
                while let newline = pending.firstIndex(of: 10) {
                    onLine(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            if !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
            close(fd)
            done.signal()
        }
        thread.start()
    }

    /// Waits for end of file at most `seconds`; true if it came.
    @discardableResult
    public func finish(within seconds: Double) -> Bool {
        done.wait(timeout: .now() + seconds) == .success
    }
}

/// A pipe whose write end goes to a child and whose read end stays here.
public struct OutputPipe {
    public let read: Int32
    public let write: Int32

    public init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ProcessError.cannotStart(program: "pipe", reason: String(cString: strerror(errno))) }
        // Neither end leaks into children other than through dup2.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        read = fds[0]
        write = fds[1]
    }
}
