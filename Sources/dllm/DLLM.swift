import ArgumentParser

/// `dllm`: the command line for training and sampling diffusion language models.
@main
struct DLLM: ParsableCommand {
    static func main() {
        BLASEnvironment.reexecIfBeneficial()
        Self.main(nil)
    }

    static let configuration = CommandConfiguration(
        commandName: "dllm",
        abstract: "Train and sample diffusion language models on CPU clusters.",
        subcommands: [TrainCommand.self, GenerateCommand.self, ChatCommand.self, TokenizerCommand.self, DataCommand.self,
                      PrepareCommand.self, CheckpointCommand.self, ConvertCommand.self, BenchCommand.self,
                      EvalCommand.self])
}
