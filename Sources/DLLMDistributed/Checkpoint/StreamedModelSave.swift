import DLLMCheckpoint
import DLLMCompute
import DLLMModels
import Foundation

/// A whole model's `model.safetensors` (and `config.json`, `generation_config.json`)
/// written by rank 0 without any rank holding a second copy of the parameters, and,
/// under FSDP, without any rank holding all of them: the header is laid out from the
/// parameter layout alone, then each tensor's values are appended in file order.
/// Where parameters are replicated (DDP, ZeRO-1/2, one process) rank 0 appends them
/// straight from `model.parameters`; FSDP's are gathered to rank 0 a window at a time
/// (`MPI_Gatherv` of each rank's owned part), so rank 0 holds one window beyond its
/// shard and the others send only their chunks.
///
/// The bytes equal those of `ModelFolder.save` for the same parameters (one F32
/// `model.safetensors`, metadata `format: pt`). PyTorch's `FULL_STATE_DICT` save with
/// `rank0_only` and `offload_to_cpu` plays the same part, a module at a time.
public enum StreamedModelSave {
    /// Largest piece of a tensor gathered at once: 16 MiB of F32, or
    /// `DLLM_SAVE_WINDOW_ELEMENTS` (the multi-rank tests cut tensors into many pieces).
    static var windowElements: Int {
        ProcessInfo.processInfo.environment["DLLM_SAVE_WINDOW_ELEMENTS"].flatMap(Int.init).map { max(1, $0) } ?? 1 << 22
    }

    /// One process's save of `model` (`dllm checkpoint consolidate`): no copy of the parameters.
    public static func write(model: any LanguageModel<Float>, config: [String: Any], to folder: URL) throws {
        try write(model: model, config: config, shard: nil, comm: SingleProcessCommunicator(), to: folder)
    }

    /// Collective: every rank calls it. `shard`: this rank's FSDP parameter chunks and the
    /// map laying them out, or nil when `model.parameters` holds every parameter on every
    /// rank (then only rank 0 does any work).
    static func write(model: any LanguageModel<Float>, config: [String: Any], shard: (values: Buffer<Float>, map: ShardMap)?,
                      comm: Communicator, to folder: URL) throws {
        let slots = model.layout.slots
        let writer = try SafeTensorsStreamWriter(tensors: slots.map { .init(name: $0.name, dtype: .F32, shape: $0.shape) },
                                                 metadata: ["format": "pt"])
        let pieces = TensorPieces(shard: shard, parameters: model.parameters, comm: comm)
        guard comm.rank == 0 else {
            // The other ranks take part in rank 0's gathers, tensor by tensor in the same order.
            if shard != nil { for index in writer.fileOrder { pieces.forEach(in: slots[index].range) { _ in } } }
            return
        }
        try ModelFolder.saveConfiguration(config, to: folder)
        try writer.write(to: folder.appendingPathComponent(SafeTensorsCheckpoint.singleFileName)) { index, sink in
            try pieces.forEach(in: slots[index].range) { try sink.append($0) }
        }
    }
}

/// A flat range of parameters, handed to rank 0 in consecutive pieces.
final class TensorPieces {
    let shard: (values: Buffer<Float>, map: ShardMap)?
    let parameters: Buffer<Float>
    let comm: Communicator
    let windowElements = StreamedModelSave.windowElements
    /// Rank 0's receive buffer for gathered pieces (pages touched only as far as the largest piece).
    let window: Buffer<Float>

    init(shard: (values: Buffer<Float>, map: ShardMap)?, parameters: Buffer<Float>, comm: Communicator) {
        self.shard = shard
        self.parameters = parameters
        self.comm = comm
        let receives = shard != nil && comm.rank == 0
        window = Buffer(count: receives ? min(parameters.count, windowElements) : 0)
    }

    /// Calls `body` on rank 0 with the values of `range`, in order, in pieces of at most
    /// `StreamedModelSave.windowElements`. With a shard every rank must call it with the
    /// same range (each piece is a gather of at most `windowElements`); without one only
    /// rank 0 does, and the one piece points into `parameters`.
    func forEach(in range: Range<Int>, _ body: (UnsafeBufferPointer<Float>) throws -> Void) rethrows {
        guard let shard else {
            return try body(UnsafeBufferPointer(start: parameters.pointer + range.lowerBound, count: range.count))
        }
        for seg in shard.map.segments where seg.range.overlaps(range) {
            let covered = max(seg.range.lowerBound, range.lowerBound)..<min(seg.range.upperBound, range.upperBound)
            for start in stride(from: covered.lowerBound, to: covered.upperBound, by: windowElements) {
                let piece = start..<min(covered.upperBound, start + windowElements)
                // Rank r owns a contiguous run of the segment, so the runs in rank order tile `piece`.
                let counts = (0..<comm.worldSize).map { seg.owned(by: $0).clamped(to: piece).count }
                let owned = seg.owned(by: comm.rank), mine = owned.clamped(to: piece)
                let send = shard.values.pointer + seg.shardOffset + (mine.isEmpty ? 0 : mine.lowerBound - owned.lowerBound)
                comm.gather(UnsafePointer(send), count: mine.count, comm.rank == 0 ? window.pointer : nil, counts: counts, root: 0)
                if comm.rank == 0 { try body(UnsafeBufferPointer(start: window.pointer, count: piece.count)) }
            }
        }
    }
}
