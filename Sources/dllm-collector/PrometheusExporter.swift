import DLLMTelemetry
import Foundation
import Prometheus
import Synchronization

/// Renders a `CollectorStatus` in the Prometheus text format (swift-prometheus):
/// the collector's own counters, and per run and per rank the latest metrics.
///
/// Counters mirror the collector's cumulative counts, so each scrape increments
/// them by what changed since the previous one.
final class PrometheusExporter: Sendable {
    /// Scrapes may come concurrently: one renders at a time.
    private let metrics = Mutex(Metrics())

    func render(_ status: CollectorStatus) -> [UInt8] { metrics.withLock { $0.render(status) } }
}

/// The registry and the metrics made so far (only used inside the exporter's `Mutex`).
private struct Metrics {
    let registry = PrometheusCollectorRegistry()
    var counters: [String: (counter: Counter, value: Int)] = [:]
    var gauges: [String: Gauge] = [:]

    mutating func render(_ status: CollectorStatus) -> [UInt8] {
        for (kind, count) in status.accepted {
            counter("dllm_collector_events_total", [("kind", kind)], count, "Events accepted and stored, by kind.")
        }
        for (reason, count) in status.rejected {
            counter("dllm_collector_rejected_total", [("reason", reason)], count, "Messages refused, by reason.")
        }
        counter("dllm_collector_written_bytes_total", [], status.bytesWritten, "Bytes appended to metrics.jsonl files.")
        gauge("dllm_collector_runs", [], Double(status.runs.count), "Runs this collector has seen.")

        for run in status.runs {
            let r = [("run", run.run)]
            gauge("dllm_run_finished", r, run.finished ? 1 : 0, "1 once the run ended and its summary is written.")
            gauge("dllm_run_world_size", r, run.worldSize.map(Double.init), "Ranks in the run.")
            counter("dllm_run_missing_events_total", r, run.missing, "Sequence numbers never received, over all ranks.")
            if let row = run.lastRow {
                gauge("dllm_run_step", r, Double(row.step), "Latest aggregated step.")
                gauge("dllm_run_loss", r, row.loss, "Mean loss over ranks at the latest step.")
                gauge("dllm_run_learning_rate", r, row.learningRate, "Learning rate at the latest step.")
                gauge("dllm_run_grad_norm", r, row.gradNorm, "Mean gradient norm at the latest step.")
                gauge("dllm_run_tokens_per_second", r, row.tokensPerSecond, "Tokens per second summed over ranks.")
                gauge("dllm_run_step_seconds_max", r, row.stepTimeMax, "Slowest rank's step time.")
                gauge("dllm_run_step_seconds_min", r, row.stepTimeMin, "Fastest rank's step time.")
                gauge("dllm_run_communication_share", r, row.communicationShare, "Communication time over step time.")
                gauge("dllm_run_slowest_rank", r, row.slowestRank.map(Double.init), "Rank with the longest step time.")
            }
            for rank in run.ranks {
                let labels = r + [("rank", String(rank.rank))]
                counter("dllm_rank_events_total", labels, rank.events, "Events received from the rank.")
                counter("dllm_rank_missing_events_total", labels, rank.missing, "The rank's sequence numbers never received.")
                counter("dllm_rank_dropped_events_total", labels, rank.droppedReported, "Events the rank reported dropping (queue full).")
            }
            for latest in run.latest {
                let labels = r + [("rank", String(latest.rank))]
                gauge("dllm_rank_step", labels, Double(latest.step), "Latest step of the rank.")
                gauge("dllm_rank_loss", labels, latest.loss, "Loss of the rank's latest step.")
                gauge("dllm_rank_step_seconds", labels, latest.stepTime, "Step time of the rank's latest step.")
                gauge("dllm_rank_tokens_per_second", labels, latest.tokensPerSecond, "Tokens per second of the rank.")
                gauge("dllm_rank_communication_seconds", labels, latest.communicationTime, "Communication time of the latest step.")
                gauge("dllm_rank_data_seconds", labels, latest.dataTime, "Data-loading time of the latest step.")
                gauge("dllm_rank_resident_bytes", labels, latest.residentBytes.map(Double.init), "Resident memory of the rank.")
                gauge("dllm_rank_optimizer_state_bytes", labels, latest.optimizerStateBytes.map(Double.init), "Optimizer state held by the rank.")
            }
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }

    /// The full metric name with no unit suffix added (the names carry theirs).
    private func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    private func key(_ name: String, _ labels: [(String, String)]) -> String {
        name + "{" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    private mutating func counter(_ name: String, _ labels: [(String, String)], _ value: Int, _ help: String) {
        let k = key(name, labels)
        let entry = counters[k] ?? (registry.makeCounter(descriptor: descriptor(name, help), labels: labels), 0)
        if value > entry.value { entry.counter.increment(by: Int64(value - entry.value)) }
        counters[k] = (entry.counter, max(value, entry.value))
    }

    private mutating func gauge(_ name: String, _ labels: [(String, String)], _ value: Double?, _ help: String) {
        guard let value, value.isFinite else { return }
        let k = key(name, labels)
        let g = gauges[k] ?? registry.makeGauge(descriptor: descriptor(name, help), labels: labels)
        gauges[k] = g
        g.set(value)
    }
}
