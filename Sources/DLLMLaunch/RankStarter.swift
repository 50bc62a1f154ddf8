import DLLMConfig
import DLLMProcess
import Foundation

/// The command line that starts every rank: OpenMPI's `mpirun` on one machine, over a
/// hostfile, or inside a Slurm allocation; or Slurm's own `srun --mpi=pmix`. Each rank
/// is `dllm-launch agent … -- dllm train CONFIG …` (see `RankAgent`).
public enum RankStarter {
    public enum Tool: String, Sendable { case mpirun, srun }

    /// `auto` is srun inside an allocation when its PMIx plugin is available, else mpirun.
    public static func choose(_ requested: RankStarterKind, slurm: SlurmAllocation?, srunSupportsPMIx: () -> Bool) throws -> Tool {
        switch requested {
        case .mpirun: return .mpirun
        case .srun:
            guard slurm != nil else {
                throw LaunchError.badOption(name: "--launcher", value: "srun", expected: "a Slurm allocation (sbatch or salloc); outside one use mpirun")
            }
            return .srun
        case .auto:
            return slurm != nil && srunSupportsPMIx() ? .srun : .mpirun
        }
    }

    /// True when `srun --mpi=list` names a PMIx plugin.
    public static func srunSupportsPMIx() -> Bool {
        guard let srun = ChildProcess.which("srun") else { return false }
        let (status, output) = capture([srun, "--mpi=list"])
        return status == 0 && output.contains("pmix")
    }

    /// Environment names handed to remote ranks explicitly (`mpirun -x`): the project's own,
    /// the thread counts, OpenBLAS's load-time settings (`OPENBLAS_CORETYPE`,
    /// `OPENBLAS_THREAD_TIMEOUT`, …: a value the user chose reaches every rank) and the paths.
    public static func exportedNames(_ env: [String: String]) -> [String] {
        env.keys.filter { $0.hasPrefix("DLLM_") || $0 == MixedPrecision.environmentName || $0.hasPrefix("OPENBLAS_") || $0 == "OMP_NUM_THREADS" || $0 == "PATH" || $0 == "LD_LIBRARY_PATH" }.sorted()
    }

    public static func mpirunArguments(mpirun: String, plan: LaunchPlan, rank: [String], environment: [String: String],
                                       hostfile: String?, isRoot: Bool) -> [String] {
        var args = [mpirun]
        if isRoot { args.append("--allow-run-as-root") }
        // Ranks run their own compute threads: never pin a rank to one core.
        args += ["--bind-to", "none", "-np", "\(plan.worldSize)"]
        if plan.ranksPerMachine > plan.coresPerMachine || plan.ranksPerMachine * plan.threadsPerRank > plan.coresPerMachine {
            args.append("--oversubscribe")
        }
        if let hostfile { args += ["--hostfile", hostfile] }
        if plan.numMachines > 1 { args += ["--map-by", "ppr:\(plan.ranksPerMachine):node"] }
        if let network = plan.options.network {
            // Rank traffic (BTL) and OpenMPI's own control channel (OOB) on the chosen network only.
            args += ["--mca", "btl_tcp_if_include", network.mpiValue, "--mca", "oob_tcp_if_include", network.mpiValue]
        }
        if plan.numMachines > 1 && plan.options.hangTimeout > 0 {
            // TCP keepalive on OpenMPI's control channel: mpirun and every remote daemon notice a
            // lost peer (a partition, a frozen host) within about 2/3 of the hang timeout and end the job.
            let time = max(1, Int(plan.options.hangTimeout / 3)), interval = max(1, Int(plan.options.hangTimeout / 9))
            args += ["--mca", "oob_tcp_keepalive_time", "\(time)", "--mca", "oob_tcp_keepalive_intvl", "\(interval)",
                     "--mca", "oob_tcp_keepalive_probes", "3"]
        }
        for name in exportedNames(environment) { args += ["-x", name] }
        if let extra = environment["DLLM_MPIRUN_ARGS"] { args += extra.split(separator: " ").map(String.init) }
        return args + rank
    }

    public static func srunArguments(srun: String, plan: LaunchPlan, rank: [String], environment: [String: String]) -> [String] {
        var args = [srun, "--mpi=pmix", "--kill-on-bad-exit=1", "--ntasks=\(plan.worldSize)", "--nodes=\(plan.numMachines)",
                    "--ntasks-per-node=\(plan.ranksPerMachine)", "--cpu-bind=none"]
        if let extra = environment["DLLM_SRUN_ARGS"] { args += extra.split(separator: " ").map(String.init) }
        return args + rank
    }

    /// Runs a short command and returns its status and combined output.
    public static func capture(_ arguments: [String]) -> (Int32, String) {
        do {
            let result = try ChildProcess.run(arguments, mergingErrors: true)
            return (result.status, result.output)
        } catch {
            return (127, "\(error)")
        }
    }
}
