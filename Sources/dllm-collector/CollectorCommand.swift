import ArgumentParser

/// `dllm-collector`: gathers every rank's telemetry (ZeroMQ PULL), stores it in each
/// run's `metrics.jsonl`, republishes it (PUB) for `tail`, and serves a dashboard and
/// Prometheus metrics over HTTP.
@main
struct CollectorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dllm-collector",
        abstract: "Collect, store and show the telemetry of dllm training runs.",
        discussion: """
            Ranks find the collector through DLLM_COLLECTOR=tcp://HOST:PORT (and DLLM_RUN_ID,
            DLLM_COLLECTOR_TOKEN). The wire format is described in docs/telemetry.md.
            """,
        subcommands: [RunCommand.self, TailCommand.self, PublishSyntheticCommand.self, BenchCommand.self],
        defaultSubcommand: RunCommand.self)
}
