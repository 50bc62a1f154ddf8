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
}
