import CMPI
import DLLMCheckpoint
import Foundation

/// OpenMPI behind `Communicator`. MPI is initialised with thread support
/// (`MPI_THREAD_SERIALIZED` at least: the compute threads never call MPI, the
/// training thread does); errors return codes instead of aborting silently, and
/// any failure ends the job through `MPI_Abort`, naming the rank and the cause.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let worldSize: Int
    public let localRank: Int
    public let localSize: Int
    public let host: String
    public private(set) var bytesSent = 0
    let world: MPI_Comm

    /// Initialises MPI (once per process). A singleton start (no mpirun) is world size 1.
    public init() {
        var provided: Int32 = 0
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            MPI_Init_thread(nil, nil, dllm_mpi_thread_serialized(), &provided)
        }
        world = dllm_mpi_comm_world()
        MPI_Comm_set_errhandler(world, dllm_mpi_errors_return())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(world, &r)
        MPI_Comm_size(world, &s)
        rank = Int(r)
        worldSize = Int(s)
        let env = RankEnvironment.current()
        localRank = env.localRank
        localSize = env.localSize
        var name = [CChar](repeating: 0, count: Int(MPI_MAX_PROCESSOR_NAME))
        var length: Int32 = 0
        MPI_Get_processor_name(&name, &length)
        host = String(cString: name)
    }

    /// Finalises MPI; call once at normal exit.
    public func finalize() {
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
    }

    func check(_ code: Int32, _ what: String) {
        guard code != dllm_mpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING))
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        abort("MPI error in \(what): \(String(cString: text))", code: 3)
    }

    /// Ring all-reduce sends 2·(N−1)/N of the buffer; reduce-scatter and all-gather (N−1)/N each.
    func account(_ count: Int, factor: Double, elementBytes: Int = 4) {
        bytesSent += Int(Double(count * elementBytes) * factor * Double(worldSize - 1) / Double(worldSize))
    }

    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        account(count, factor: 2)
        check(MPI_Allreduce(dllm_mpi_in_place(), buffer, Int32(count), dllm_mpi_float(), dllm_mpi_sum(), world), "MPI_Allreduce")
    }

    public func startAllReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) -> CommunicationRequest {
        account(count, factor: 2)
        let request = MPIRequest(owner: self, what: "MPI_Iallreduce")
        check(MPI_Iallreduce(dllm_mpi_in_place(), buffer, Int32(count), dllm_mpi_float(), dllm_mpi_sum(), world, &request.handle), "MPI_Iallreduce")
        return request
    }

    public func startAllReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int, wire: WirePrecision) -> CommunicationRequest {
        guard wire == .bf16 else { return startAllReduceSum(buffer, count: count) }
        account(count, factor: 2, elementBytes: 2)
        let (request, narrow, _) = bf16Request("MPI_Iallreduce (bf16)", sending: buffer, count: count, receiving: count, into: buffer)
        check(MPI_Iallreduce(dllm_mpi_in_place(), narrow, Int32(count), dllm_mpi_uint16(), BFloat16Wire.sum, world, &request.handle),
              "MPI_Iallreduce (bf16)")
        return request
    }

    /// A bf16 collective's buffers and request: `count` floats from `source` rounded into a
    /// send buffer (also the result for an in-place all-reduce), a `receiving`-element result
    /// buffer when it differs, and on completion the result widened into `destination` and
    /// both buffers freed.
    func bf16Request(_ what: String, sending source: UnsafePointer<Float>, count: Int, receiving: Int,
                     into destination: UnsafeMutablePointer<Float>, separateResult: Bool = false)
        -> (MPIRequest, send: UnsafeMutablePointer<UInt16>, result: UnsafeMutablePointer<UInt16>) {
        let send = UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, count))  // (count) bf16 bits
        let result = separateResult ? UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, receiving)) : send
        HalfPrecision.convertFloatToBF16(source, send, count: count)
        let request = MPIRequest(owner: self, what: what)
        request.whenDone = {
            HalfPrecision.convertBF16ToFloat(result, destination, count: receiving)
            if result != send { result.deallocate() }
            send.deallocate()
        }
        return (request, send, result)
    }

    public func allReduceSum(_ values: [Double]) -> [Double] {
        var v = values
        check(MPI_Allreduce(dllm_mpi_in_place(), &v, Int32(v.count), dllm_mpi_double(), dllm_mpi_sum(), world), "MPI_Allreduce")
        return v
    }

    public func reduceScatterSum(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int) {
        account(countPerRank * worldSize, factor: 1)
        check(MPI_Reduce_scatter_block(send, receive, Int32(countPerRank), dllm_mpi_float(), dllm_mpi_sum(), world), "MPI_Reduce_scatter_block")
    }

    public func startReduceScatterSum(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int) -> CommunicationRequest {
        account(countPerRank * worldSize, factor: 1)
        let request = MPIRequest(owner: self, what: "MPI_Ireduce_scatter_block")
        check(MPI_Ireduce_scatter_block(send, receive, Int32(countPerRank), dllm_mpi_float(), dllm_mpi_sum(), world, &request.handle),
              "MPI_Ireduce_scatter_block")
        return request
    }

    public func startReduceScatterSum(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int,
                                      wire: WirePrecision) -> CommunicationRequest {
        guard wire == .bf16 else { return startReduceScatterSum(send, receive, countPerRank: countPerRank) }
        let total = countPerRank * worldSize
        account(total, factor: 1, elementBytes: 2)
        let (request, narrowSend, narrowReceive) = bf16Request("MPI_Ireduce_scatter_block (bf16)", sending: send, count: total,
                                                               receiving: countPerRank, into: receive, separateResult: true)
        check(MPI_Ireduce_scatter_block(narrowSend, narrowReceive, Int32(countPerRank), dllm_mpi_uint16(), BFloat16Wire.sum, world,
                                        &request.handle), "MPI_Ireduce_scatter_block (bf16)")
        return request
    }

    public func allGather(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int) {
        account(countPerRank * worldSize, factor: 1)
        let inPlace = Int(bitPattern: send) == Int(bitPattern: receive) + rank * countPerRank * MemoryLayout<Float>.stride
        check(MPI_Allgather(inPlace ? dllm_mpi_in_place() : UnsafeMutableRawPointer(mutating: send), Int32(countPerRank), dllm_mpi_float(),
                            receive, Int32(countPerRank), dllm_mpi_float(), world), "MPI_Allgather")
    }

    public func startAllGather(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, countPerRank: Int) -> CommunicationRequest {
        account(countPerRank * worldSize, factor: 1)
        let request = MPIRequest(owner: self, what: "MPI_Iallgather")
        let inPlace = Int(bitPattern: send) == Int(bitPattern: receive) + rank * countPerRank * MemoryLayout<Float>.stride
        check(MPI_Iallgather(inPlace ? dllm_mpi_in_place() : UnsafeMutableRawPointer(mutating: send), Int32(countPerRank), dllm_mpi_float(),
                             receive, Int32(countPerRank), dllm_mpi_float(), world, &request.handle), "MPI_Iallgather")
        return request
    }

    public func gather(_ send: UnsafePointer<Float>, count: Int, _ receive: UnsafeMutablePointer<Float>?, counts: [Int], root: Int) {
        precondition(counts.count == worldSize && counts[rank] == count, "gather: counts must list every rank's count")
        bytesSent += rank == root ? 0 : count * 4
        let receiveCounts = counts.map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: worldSize)
        for r in 1..<max(1, worldSize) { displacements[r] = displacements[r - 1] + receiveCounts[r - 1] }
        check(MPI_Gatherv(UnsafeRawPointer(send), Int32(count), dllm_mpi_float(), receive.map { UnsafeMutableRawPointer($0) },
                          receiveCounts, displacements, dllm_mpi_float(), Int32(root), world), "MPI_Gatherv")
    }

    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) {
        check(MPI_Bcast(buffer, Int32(bytes), dllm_mpi_byte(), Int32(root), world), "MPI_Bcast")
    }

    public func barrier() { check(MPI_Barrier(world), "MPI_Barrier") }

    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("[dllm] rank \(rank) on \(host): \(message); aborting the job\n".utf8))
        MPI_Abort(world, code)
        exit(code)
    }
}

final class MPIRequest: CommunicationRequest {
    var handle: MPI_Request? = dllm_mpi_request_null()
    let owner: MPICommunicator
    let what: String
    var done = false
    /// Runs once, when the collective has completed (a bf16 wire widens its result here).
    var whenDone: (() -> Void)?

    init(owner: MPICommunicator, what: String) {
        self.owner = owner
        self.what = what
    }

    func wait() {
        guard !done else { return }
        owner.check(MPI_Wait(&handle, dllm_mpi_status_ignore()), what)
        finish()
    }

    private func finish() {
        done = true
        whenDone?()
        whenDone = nil
    }

    func test() -> Bool {
        guard !done else { return true }
        var flag: Int32 = 0
        owner.check(MPI_Test(&handle, &flag, dllm_mpi_status_ignore()), what)
        if flag != 0 { finish() }
        return done
    }
}
