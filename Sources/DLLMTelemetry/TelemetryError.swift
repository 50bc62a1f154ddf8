import Foundation

/// What can go wrong setting telemetry up. Sending itself never throws: a message
/// that cannot be queued is counted as dropped, never reported as an error.
public enum TelemetryError: Error, CustomStringConvertible, Equatable {
    /// A ZeroMQ call failed; `call` names it, `reason` is `zmq_strerror`'s text.
    case zeroMQ(call: String, endpoint: String, reason: String)
    /// An address that is not a ZeroMQ endpoint (`tcp://host:port`, `ipc://path`).
    case badAddress(String)
    /// The HTTP server could not listen on `address`.
    case listen(address: String, reason: String)
    /// A run id the wire format cannot carry.
    case badRunID(String)
    /// A file or folder of a run could not be written or read.
    case file(path: String, reason: String)
    /// A command-line or environment value that makes no sense.
    case badOption(name: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .zeroMQ(let call, let endpoint, let reason):
            var hint = ""
            if call == "zmq_bind" {
                hint = " (is another collector already bound there? pick another --port, or 0 for any free port)"
            }
            return "ZeroMQ \(call)(\(endpoint)) failed: \(reason)\(hint)"
        case .listen(let address, let reason):
            return "cannot serve HTTP on \(address): \(reason) (is the port taken? pick another --http-port, or 0 for any free port)"
        case .badAddress(let address):
            return "\"\(address)\" is not a ZeroMQ endpoint: write it as tcp://HOST:PORT (e.g. tcp://127.0.0.1:5555) or ipc:///path"
        case .badRunID(let id):
            return "run id \"\(id)\" is not allowed: use 1–128 characters from A–Z a–z 0–9 . _ - : (set DLLM_RUN_ID)"
        case .file(let path, let reason):
            return "\(path): \(reason)"
        case .badOption(let name, let value, let expected):
            return "\(name)=\"\(value)\": expected \(expected)"
        }
    }
}
