import Foundation

/// The collectives a parallel strategy needs, over Float buffers (parameters,
/// gradients) and Double scalars (losses, norms). Blocking forms return when the
/// result is in place; `start…` forms return a request to `wait` on, so
/// communication can overlap the backward pass (DDP buckets, FSDP prefetch).
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var worldSize: Int { get }
    /// This process's index among the ranks on its node.
    var localRank: Int { get }
    var localSize: Int { get }
    var host: String { get }

    /// In-place sum over ranks.
    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int)
    func startAllReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) -> CommunicationRequest
    func allReduceSum(_ values: [Double]) -> [Double]
    /// As `startAllReduceSum`, with the values travelling (and summed) as `wire` says: in
    /// bfloat16, each rank rounds its values before sending and every partial sum is rounded
    /// again (DeepSpeed's `communication_data_type: bf16`); the result is widened back in place.
    func startAllReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int, wire: WirePrecision) -> CommunicationRequest
    /// `send` holds `worldSize × countPerRank` values; rank r receives the sum of every rank's r-th slice.
    func reduceScatterSum(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int)
    func startReduceScatterSum(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int) -> CommunicationRequest
    /// As `startReduceScatterSum`, with the values travelling as `wire` says (see the all-reduce).
    func startReduceScatterSum(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int,
                               wire: WirePrecision) -> CommunicationRequest
    /// `receive` gets every rank's `countPerRank` values, in rank order.
    func allGather(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int)
    func startAllGather(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int) -> CommunicationRequest
    /// `root` receives every rank's `count` values (rank r sends `counts[r]`), in rank
    /// order, into `receive`, which only `root` reads (MPI_Gatherv). Used to stream a
    /// sharded tensor to the rank that writes it.
    func gather(_ send: UnsafePointer<Float>, count: Int, _ receive: UnsafeMutablePointer<Float>?, counts: [Int], root: Int)
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int)
    func barrier()
    /// Ends the whole job after printing `message` (no rank is left waiting in a collective).
    func abort(_ message: String, code: Int32) -> Never
    /// Bytes this rank has sent through collectives, by the standard algorithms' accounting.
    var bytesSent: Int { get }
}

/// The element type gradients travel in between ranks: DeepSpeed's `communication_data_type`
/// (`fp32`, or `bf16`, which halves the bytes on the wire; its sums are rounded to bfloat16).
public enum WirePrecision: String, Sendable, Codable, CaseIterable {
    case fp32, bf16

    /// Bytes per element on the wire.
    public var elementBytes: Int { self == .fp32 ? 4 : 2 }
}

/// A pending non-blocking collective.
public protocol CommunicationRequest: AnyObject {
    func wait()
    /// Drives progress; true once complete.
    func test() -> Bool
}

/// A request that completed when it was made (single process, or a blocking fallback).
public final class CompletedRequest: CommunicationRequest {
    public init() {}
    public func wait() {}
    public func test() -> Bool { true }
}

/// World size 1: every collective is the identity (or a copy).
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var worldSize: Int { 1 }
    public var localRank: Int { 0 }
    public var localSize: Int { 1 }
    public var host: String { ProcessInfo.processInfo.hostName }
    public var bytesSent: Int { 0 }
    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
    public func startAllReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) -> CommunicationRequest { CompletedRequest() }
    /// One process: nothing travels, so nothing is rounded.
    public func startAllReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int, wire: WirePrecision) -> CommunicationRequest {
        CompletedRequest()
    }
    public func allReduceSum(_ values: [Double]) -> [Double] { values }
    public func reduceScatterSum(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int) {
        if UnsafeRawPointer(send) != UnsafeRawPointer(receive) { receive.update(from: send, count: countPerRank) }
    }
    public func startReduceScatterSum(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int) -> CommunicationRequest {
        reduceScatterSum(send, receive, countPerRank: countPerRank)
        return CompletedRequest()
    }
    public func startReduceScatterSum(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int,
                                      wire: WirePrecision) -> CommunicationRequest {
        startReduceScatterSum(send, receive, countPerRank: countPerRank)
    }
    public func allGather(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int) {
        if UnsafeRawPointer(send) != UnsafeRawPointer(receive) { receive.update(from: send, count: countPerRank) }
    }
    public func startAllGather(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int) -> CommunicationRequest {
        allGather(send, receive, countPerRank: countPerRank)
        return CompletedRequest()
    }
    public func gather(_ send: UnsafePointer<Float>, count: Int, _ receive: UnsafeMutablePointer<Float>?, counts: [Int], root: Int) {
        if let receive, UnsafeRawPointer(send) != UnsafeRawPointer(receive) { receive.update(from: send, count: count) }
    }
    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) {}
    public func barrier() {}
    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("[dllm] rank 0: \(message)\n".utf8))
        exit(code)
    }
}

/// Where this process sits, from the environment OpenMPI and Slurm set
/// (before, or without, initialising MPI).
public struct RankEnvironment: Sendable, Equatable {
    public var rank: Int
    public var worldSize: Int
    public var localRank: Int
    public var localSize: Int

    public static func current(_ env: [String: String] = ProcessInfo.processInfo.environment) -> RankEnvironment {
        func int(_ keys: [String], _ fallback: Int) -> Int {
            for k in keys { if let v = env[k], let n = Int(v) { return n } }
            return fallback
        }
        return RankEnvironment(
            rank: int(["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"], 0),
            worldSize: int(["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"], 1),
            localRank: int(["OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"], 0),
            localSize: int(["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"], 1))
    }

    /// True when a launcher (mpirun, srun) started this process as one of several ranks.
    public var isDistributed: Bool { worldSize > 1 }

    /// True when an MPI launcher started this process, even as a single rank.
    public static func launchedByMPI(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"].contains { env[$0] != nil }
    }
}
