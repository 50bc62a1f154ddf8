import Synchronization

/// A graceful-stop request: set from a signal source's handler (a Dispatch queue thread),
/// read by the training loop between steps. An `Atomic` so the write is seen by the
/// loop's thread (release/acquire), not a plain `Bool` raced on.
public final class StopRequest: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public var isRequested: Bool {
        get { flag.load(ordering: .acquiring) }
        set { flag.store(newValue, ordering: .releasing) }
    }

    /// Asks for a stop; true only for the call that made the request (a rank under
    /// `dllm-launch` gets the stop twice: mpirun signals the agent's whole process group,
    /// and the agent passes the signal on), so the handler logs it once.
    public func request() -> Bool {
        !flag.exchange(true, ordering: .acquiringAndReleasing)
    }
}
