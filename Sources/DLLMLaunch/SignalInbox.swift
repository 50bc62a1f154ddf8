import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Signals received by this process, collected for a supervising loop to act on
/// (the default action of each listed signal is replaced: nothing dies of them).
///
/// The handlers are ordinary blocks on Dispatch's global queue (Dispatch delivers the
/// signal, not an async-signal-context handler), so taking a `Mutex` there is safe.
public final class SignalInbox: Sendable {
    private let received = Mutex<[Int32]>([])
    /// Only keeps the sources alive (Dispatch's source types are not `Sendable`, so
    /// they sit in a `Mutex`; nothing reads them after `init`).
    private let sources: Mutex<[any DispatchSourceSignal]>

    public init(_ signals: [Int32]) {
        sources = Mutex(signals.map { sig in
            Glibc.signal(sig, SIG_IGN)
            return DispatchSource.makeSignalSource(signal: sig, queue: .global())
        })
        sources.withLock { sources in
            for (sig, source) in zip(signals, sources) {
                source.setEventHandler { [weak self] in
                    self?.received.withLock { $0.append(sig) }
                }
                source.resume()
            }
        }
    }

    /// The signals received since the last call, oldest first.
    public func take() -> [Int32] {
        received.withLock { received in
            defer { received = [] }
            return received
        }
    }
}
