/// The Slurm allocation this launcher runs in (an `sbatch` script or `salloc` shell),
/// read from the variables Slurm sets.
public struct SlurmAllocation: Sendable, Equatable {
    public var jobID: String
    public var nodes: Int
    public var tasks: Int
    public var tasksPerNode: Int?
    public var cpusPerTask: Int?
    public var cpusOnNode: Int?
    public var nodeList: String?
    /// Set when this process is itself a task of a job step (then it must not start another).
    public var stepID: String?

    /// nil outside Slurm.
    public static func current(_ env: [String: String]) -> SlurmAllocation? {
        guard let job = env["SLURM_JOB_ID"] ?? env["SLURM_JOBID"] else { return nil }
        func int(_ key: String) -> Int? {
            // SLURM_TASKS_PER_NODE looks like "2(x3)" or "2,1": the first count is what a node runs.
            env[key].flatMap { Int($0.prefix { $0.isNumber }) }
        }
        let nodes = int("SLURM_JOB_NUM_NODES") ?? int("SLURM_NNODES") ?? 1
        let perNode = int("SLURM_NTASKS_PER_NODE") ?? int("SLURM_TASKS_PER_NODE")
        let tasks = int("SLURM_NTASKS") ?? int("SLURM_NPROCS") ?? (perNode.map { $0 * nodes } ?? nodes)
        return SlurmAllocation(jobID: job, nodes: nodes, tasks: tasks, tasksPerNode: perNode,
                               cpusPerTask: int("SLURM_CPUS_PER_TASK"), cpusOnNode: int("SLURM_CPUS_ON_NODE"),
                               nodeList: env["SLURM_JOB_NODELIST"] ?? env["SLURM_NODELIST"], stepID: env["SLURM_STEP_ID"] ?? env["SLURM_STEPID"])
    }
}
