import ArgumentParser
import DLLMSampling
import Foundation

extension SamplingOptions {
    var editFlowConfig: EditFlowSamplerConfig {
        EditFlowSamplerConfig(tau: tau, maskLength: maskLength, temperature: temperature)
    }
}

/// `dllm chat --sampler editflow --visualize`: the answer canvas after every τ-leap step, its
/// length shown, so it can be seen growing (insertions) and shrinking (deletions). On a terminal it
/// redraws in place (masks dim); otherwise one plain line per step, masks as `_`.
final class EditFlowCanvasView {
    let generator: TextGenerator
    let ansi: Bool
    /// Draws and erases the frames (the mdlm canvas's terminal handling).
    let frames: CanvasView
    var previousLength: Int?

    init(generator: TextGenerator, ansi: Bool) {
        self.generator = generator
        self.ansi = ansi
        frames = CanvasView(generator: generator, ansi: ansi)
    }

    func show(step: Int, tokens: [Int32]) {
        var body = ""
        var run: [Int32] = []
        func flush() {
            if !run.isEmpty { body += frames.text(run); run = [] }
        }
        for id in tokens {
            if id == generator.maskID {
                flush()
                body += ansi ? "\u{1B}[2m░\u{1B}[0m" : "_"
            } else {
                run.append(id)
            }
        }
        flush()
        let change = previousLength.map { tokens.count - $0 } ?? 0
        previousLength = tokens.count
        let trend = change > 0 ? " +\(change)" : change < 0 ? " \(change)" : ""
        frames.draw(header: "[step \(step), \(tokens.count) tokens\(trend)] ", body: body)
    }

    func clear() { frames.clear() }
}
