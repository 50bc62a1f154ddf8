import ArgumentParser
import DLLMLaunch
import Foundation

/// `dllm-launch agent --log-dir DIR [--tee] -- dllm train …`: what mpirun/srun start as
/// each rank (see `RankAgent`). Not for direct use.
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dllm-launch agent",
        abstract: "Supervise one rank (started by dllm-launch through mpirun or srun).")

    @Option(name: .customLong("log-dir"), help: "Where rank-R.log and the pid/exit records go.") var logDir: String
    @Flag(help: "Copy this rank's output to the console, prefixed by its rank.") var tee = false
    @Option(name: .customLong("kill-grace"), help: "Seconds between passing SIGTERM on and SIGKILL.") var killGrace: Double = 30
    @Argument(parsing: .postTerminator, help: "The rank's command.") var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the rank's command after --") }
    }

    func run() throws {
        let agent = RankAgent(logDirectory: URL(fileURLWithPath: logDir), tee: tee, command: command, killGrace: killGrace)
        throw ExitCode(agent.run())
    }
}
