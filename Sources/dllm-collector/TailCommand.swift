import ArgumentParser
import CZMQ
import DLLMJSON
import DLLMTelemetry
import Foundation

/// `dllm-collector tail`: a live table of a run, from the collector's PUB socket, or
/// from a run folder's `metrics.jsonl` (a finished run, or `--follow` a live one).
struct TailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print a compact live table of a run (step, loss, lr, grad norm, tokens/s, step time, comm share, slowest rank).",
        discussion: """
            dllm-collector tail                       every run, live, from tcp://127.0.0.1:5556
            dllm-collector tail --run llada-pt-01     one run, live; stops when it ends (or --follow to keep going)
            dllm-collector tail runs/llada-pt         a run folder's metrics.jsonl; --follow waits for more
            dllm-collector tail --json ...            the raw events, one JSON object per line
            """)

    @Argument(help: "A run folder (or its metrics.jsonl). Without it, subscribe to the collector.")
    var runDir: String?
    @Option(name: .customLong("run"), help: "Only this run.")
    var runID: String?
    @Flag(help: "Keep following: a file for appended events, the collector past the end of the run.")
    var follow = false
    @Flag(help: "Print the raw events as JSON lines instead of the table.")
    var json = false
    @Option(help: "The collector's PUB endpoint.")
    var address = ProcessInfo.processInfo.environment["DLLM_COLLECTOR_PUB"] ?? "tcp://127.0.0.1:5556"
    @Option(help: "Stop after this many seconds with nothing new.")
    var timeout: Double?

    func run() throws {
        if let runDir {
            try tailFile(runDir)
        } else {
            try tailSocket()
        }
    }

    /// One line, flushed at once (line buffering even into a pipe). `fflush(nil)` flushes every
    /// stream: naming C's `stdout` global is not concurrency-safe in Swift 6.
    private func out(_ line: String) { print(line); fflush(nil) }

    // MARK: From a file

    private func tailFile(_ path: String) throws {
        var reader = EventLogReader(runDirectoryOrFile: path)
        let formatter = TailFormatter()
        var states: [String: RunState] = [:]
        var printedHeader = false
        var lastProgress = Date()
        while true {
            let n = try reader.readNew { event, line in
                if json { out(String(decoding: line, as: UTF8.self)); return }
                if runID != nil && event.run != runID { return }
                let state = states[event.run] ?? RunState(id: event.run)
                states[event.run] = state
                let (rows, gap) = state.apply(event)
                if let gap { out(formatter.gap(gap, run: event.run, rank: event.rank)) }
                if let line = formatter.event(event) { out(line) }
                for row in rows {
                    if !printedHeader { out(formatter.header); printedHeader = true }
                    out(formatter.row(row))
                }
            }
            if n > 0 { lastProgress = Date() }
            let ended = !states.isEmpty && states.values.allSatisfy(\.allExited)
            if !follow || ended {
                defer { reportSkipped(reader) }
                if !json {
                    for state in states.values {
                        for row in state.flushRows() {
                            if !printedHeader { out(formatter.header); printedHeader = true }
                            out(formatter.row(row))
                        }
                        let s = state.summary(endedBy: state.allExited ? "exit" : "log-end", lossCurve: nil)
                        out(formatter.summary(s))
                    }
                }
                return
            }
            if let timeout, Date().timeIntervalSince(lastProgress) > timeout { reportSkipped(reader); return }
            usleep(200_000)
        }
    }

    /// Lines that are not valid events are never shown; their count is (on stderr).
    private func reportSkipped(_ reader: EventLogReader) {
        guard reader.skippedLines > 0 else { return }
        FileHandle.standardError.write(Data("tail: \(reader.skippedLines) line(s) of \(reader.url.path) are not valid events and were skipped\n".utf8))
    }

    // MARK: From the collector

    private func tailSocket() throws {
        let context = ZMQContext()
        let socket = try ZMQSocket(context, type: ZMQ_SUB)
        socket.set(ZMQ_LINGER, Int32(0))
        socket.set(ZMQ_SUBSCRIBE, bytes: runID.map { Array("\($0)/".utf8) } ?? [])
        if let token = ProcessInfo.processInfo.environment["DLLM_COLLECTOR_TOKEN"], !token.isEmpty {
            SubscriberAuthentication.present(token, on: socket)
        }
        try socket.connect(address)
        let formatter = TailFormatter(showRun: runID == nil)
        let message = ZMQMessage()
        var lastSeq: [String: Int] = [:]
        var printedHeader = false
        var lastProgress = Date()
        if !json { FileHandle.standardError.write(Data("tail: listening on \(address)\(runID.map { " for run \($0)" } ?? "")\n".utf8)) }
        while true {
            guard socket.waitReadable(milliseconds: 200) else {
                if let timeout, Date().timeIntervalSince(lastProgress) > timeout { return }
                continue
            }
            guard socket.receive(message) else { continue }
            let topic = String(decoding: message.bytes, as: UTF8.self)
            guard message.more, socket.receive(message) else { continue }
            lastProgress = Date()
            let kind = topic.split(separator: "/").last.map(String.init) ?? ""
            let payload = Data(message.bytes)
            switch kind {
            case "row":
                guard !json, let row = CollectorMessages.decodeRow(payload) else { continue }
                if !printedHeader { out(formatter.header); printedHeader = true }
                let runID = topic.split(separator: "/").dropLast().joined(separator: "/")
                out(formatter.row(row, run: runID))
            case "summary":
                if !json, let inner = (try? JSONParser.parse(payload))?["summary"],
                   let summary = try? JSONValueDecoder().decode(RunSummary.self, from: inner) {
                    out(formatter.summary(summary))
                }
                if !follow { return }
            default:
                if json { out(String(decoding: payload, as: UTF8.self)); continue }
                var validator = EventValidator(maxMessageBytes: Int.max)
                guard case .success(let accepted) = payload.withUnsafeBytes({ validator.validate($0) }) else { continue }
                let event = accepted.event
                let key = "\(event.run)/\(event.rank)"
                if let last = lastSeq[key], event.seq > last + 1 {
                    out(formatter.gap(SequenceGap(from: last + 1, to: event.seq - 1), run: event.run, rank: event.rank))
                }
                lastSeq[key] = event.seq
                if let line = formatter.event(event) { out(line) }
            }
        }
    }
}
