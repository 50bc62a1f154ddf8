import Foundation

/// Compute threads per rank, so that ranks × threads never oversubscribe a machine's cores:
/// cores per node / ranks per node, at least 1. An explicit choice (the
/// `--num_cpu_threads_per_process` flag, then `DLLM_NUM_THREADS` in the launcher's
/// environment) wins; inside Slurm the cores are the allocation's (`--cpus-per-task`,
/// else `SLURM_CPUS_ON_NODE`), not the machine's.
public enum ThreadBudget {
    public static func threadsPerRank(explicit: Int?, environment env: [String: String], slurm: SlurmAllocation?,
                                      ranksPerMachine: Int, coresPerMachine: Int) -> Int {
        if let explicit { return max(1, explicit) }
        if let fromEnv = env["DLLM_NUM_THREADS"].flatMap(Int.init), fromEnv > 0 { return fromEnv }
        if let perTask = slurm?.cpusPerTask, perTask > 0 { return perTask }
        return max(1, coresPerMachine / max(1, ranksPerMachine))
    }

    /// The cores this launcher may use on its machine: Slurm's count inside an allocation,
    /// else the online processors.
    public static func coresPerMachine(slurm: SlurmAllocation?) -> Int {
        if let cpus = slurm?.cpusOnNode, cpus > 0 { return cpus }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }
}
