// dllm-launch: the coordinator (`dllm-launch [options] CONFIG [--key value …]`), and the
// per-rank agent that mpirun/srun start (`dllm-launch agent … -- dllm train …`).
if CommandLine.arguments.dropFirst().first == "agent" {
    AgentCommand.main(Array(CommandLine.arguments.dropFirst(2)))
} else {
    LaunchCommand.main()
}
