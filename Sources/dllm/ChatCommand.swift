import ArgumentParser
import DLLMSampling
import DLLMTokenizers
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `dllm chat`: an interactive terminal chat through the model's chat template,
/// keeping the conversation's history; `--visualize` shows the diffusion canvas
/// filling in step by step.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with a model in the terminal (history kept; /reset clears it, /exit or Ctrl-D quits).",
        discussion: """
            Each turn renders the whole conversation with the folder's chat template and samples the answer \
            with the same options as dllm generate (--sampler mdlm or bd3lm for a diffusion model). --visualize redraws the answer after every diffusion step \
            (masks as ░, the step's new tokens highlighted) on a terminal, and prints one line per step otherwise.
            """)

    @OptionGroup var options: SamplingOptions
    @Option(help: "A system message opening the conversation.") var system: String?
    @Flag(help: "Show the canvas filling in step by step (mdlm sampler).") var visualize = false

    func validate() throws {
        if visualize && (options.sampler == .bd3lm || options.sampler == .dream) {
            throw ValidationError("--visualize shows the mdlm and editflow samplers' canvases; drop it with --sampler \(options.sampler.rawValue)")
        }
    }

    func run() throws {
        let generator = try options.load()
        let opening = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
        var messages = opening
        let terminal = isatty(STDOUT_FILENO) != 0
        print("dllm chat: \(options.model) (\(generator.modelType), \(generator.mode.rawValue)); /reset clears the history, /exit quits.")
        var turn: UInt64 = 0
        while true {
            print("> ", terminator: "")
            fflush(nil)
            guard let line = readLine() else { print(); break }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text == "/exit" || text == "/quit" { break }
            if text == "/reset" {
                messages = opening
                print("(history cleared)")
                continue
            }
            messages.append(ChatMessage(role: "user", content: text))
            do {
                let reply = try answer(generator, messages: messages, seed: options.seed &+ turn, terminal: terminal)
                messages.append(ChatMessage(role: "assistant", content: reply))
            } catch let e as SamplingError {
                messages.removeLast()
                print("error: \(e.description)")
            } catch let e as TokenizerError {
                throw ValidationError(e.description)
            }
            turn += 1
        }
    }

    /// Samples and prints one answer; returns its text for the history.
    func answer(_ generator: TextGenerator, messages: [ChatMessage], seed: UInt64, terminal: Bool) throws -> String {
        let ids = try generator.chatTokens(messages)
        let noise = CounterNoise(seed: seed)
        let text: String
        let stats: SamplingStats
        if options.sampler == .editflow {
            let view = visualize ? EditFlowCanvasView(generator: generator, ansi: terminal) : nil
            let answer = try generator.editFlowAnswer(prompt: ids, config: options.editFlowConfig, seed: seed) { step, tokens, promptLength in
                view?.show(step: step, tokens: Array(tokens[min(promptLength, tokens.count)...]))
            }
            view?.clear()
            print(generator.decodeAnswer(answer))
            fflush(nil)
            return generator.decodeAnswer(answer)
        }
        if generator.mode == .ar {
            let out = try generator.arSampler().generate(prompts: [ids], config: options.arConfig, noise: noise)
            text = generator.decodeAnswer(out.answers[0])
            stats = out.stats
        } else if options.sampler == .dream {
            let o = options
            let config = o.dreamConfig(steps: o.steps, genLength: o.genLength, temperature: o.temperature, topK: o.topK, topP: o.topP)
            let out = try generator.dreamSampler().generate(prompts: [ids], config: config, noise: noise)
            text = generator.decodeAnswer(out.answers[0])
            stats = out.stats
        } else if options.sampler == .bd3lm {
            let config = options.diffusionConfig
            let out = try generator.bd3lmSampler(stopAtEOS: config.stopAtEOS)
                .generate(prompts: [ids], config: BD3LMSamplerConfig(config), noise: noise)
            text = generator.decodeAnswer(out.answers[0])
            stats = out.stats
        } else {
            let view = visualize ? CanvasView(generator: generator, ansi: terminal) : nil
            let out = try generator.diffusionSampler().generate(prompts: [ids], config: options.diffusionConfig, noise: noise,
                                                              observer: view.map { v in { v.show($0) } })
            view?.clear()
            text = generator.decodeAnswer(out.answers[0])
            stats = out.stats
        }
        print(text)
        fflush(nil)
        if visualize || !terminal {
            log(String(format: "(%d model evaluations, %.1f tokens/s)", stats.modelEvaluations, stats.tokensPerSecond))
        }
        return text
    }
}

/// Draws row 0's answer region after each diffusion step: on a terminal it redraws in
/// place with ANSI escapes (masks dim, the step's commits highlighted); otherwise it
/// prints one plain line per step, masks as `_`.
final class CanvasView {
    let generator: TextGenerator
    let ansi: Bool
    var linesShown = 0

    init(generator: TextGenerator, ansi: Bool) {
        self.generator = generator
        self.ansi = ansi
    }

    /// Tokens as text, special tokens shown (an EOS in the answer is worth seeing).
    func text(_ ids: [Int32]) -> String { generator.tokenizer.decode(ids, skipSpecialTokens: false) }

    func show(_ event: MDLMStepEvent) {
        let canvas = event.canvas
        let answer = canvas.answers[0]
        let fresh = Set(event.committed[0])
        enum Kind: Equatable { case mask, fresh, old }
        var segments: [(Kind, [Int32])] = []
        for t in answer {
            let id = canvas[0, t]
            let kind: Kind = id == generator.maskID ? .mask : (fresh.contains(t) ? .fresh : .old)
            if let last = segments.last, last.0 == kind { segments[segments.count - 1].1.append(id) } else { segments.append((kind, [id])) }
        }
        var body = ""
        for (kind, ids) in segments {
            switch kind {
            case .mask: body += ansi ? "\u{1B}[2m" + String(repeating: "░", count: ids.count) + "\u{1B}[0m" : String(repeating: "_", count: ids.count)
            case .fresh: body += ansi ? "\u{1B}[1;33m" + text(ids) + "\u{1B}[0m" : text(ids)
            case .old: body += text(ids)
            }
        }
        draw(header: "[step \(event.step + 1), block \(event.block + 1)] ", body: body)
    }

    /// Prints one frame: redrawn in place on a terminal, one plain line per frame otherwise.
    /// The Edit Flows canvas (``EditFlowCanvasView``) draws through it too.
    func draw(header: String, body: String) {
        if !ansi {
            print(header + body.replacingOccurrences(of: "\n", with: "⏎"))
            fflush(nil)
            return
        }
        clear()
        let frame = header + body
        print(frame)
        fflush(nil)
        linesShown = Self.visibleLines(frame, columns: Self.columns())
    }

    /// Erases what the last `show` drew (terminal mode).
    func clear() {
        guard ansi, linesShown > 0 else { return }
        print("\u{1B}[\(linesShown)A\r\u{1B}[J", terminator: "")
        linesShown = 0
    }

    static func columns() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }

    /// Terminal rows `text` occupies (escape sequences take no width).
    static func visibleLines(_ text: String, columns: Int) -> Int {
        var plain = ""
        var inEscape = false
        for ch in text {
            if ch == "\u{1B}" { inEscape = true; continue }
            if inEscape { if ch.isLetter { inEscape = false }; continue }
            plain.append(ch)
        }
        return plain.split(separator: "\n", omittingEmptySubsequences: false)
            .reduce(0) { $0 + max(1, ($1.count + columns - 1) / columns) }
    }
}
