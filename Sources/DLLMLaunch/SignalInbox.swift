import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Signals received by this process, collected for a supervising loop to act on
/// (the default action of each listed signal is replaced: nothing dies of them).
public final class SignalInbox: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [Int32] = []
    private var sources: [DispatchSourceSignal] = []

    public init(_ signals: [Int32]) {
        for sig in signals {
            Glibc.signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.lock.lock()
                self.received.append(sig)
                self.lock.unlock()
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The signals received since the last call, oldest first.
    public func take() -> [Int32] {
        lock.lock()
        defer { lock.unlock() }
        let out = received
        received = []
        return out
    }
}
