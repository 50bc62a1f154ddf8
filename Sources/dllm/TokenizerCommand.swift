import ArgumentParser
import DLLMData
import DLLMJSON
import DLLMModels
import DLLMTokenizers
import Foundation

/// `dllm tokenizer …`: encode, decode, benchmark and train byte-level BPE tokenizers.
struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Encode, decode, benchmark and train byte-level BPE tokenizers.",
        subcommands: [Encode.self, Decode.self, Bench.self, Train.self])

    /// Reads all of standard input as text.
    static func readStdin() -> String {
        String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    }

    static func load(_ path: String) throws -> Tokenizer {
        do { return try Tokenizer.load(from: path) } catch let e as TokenizerError {
            throw ValidationError(e.description)
        }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read text on stdin and print its token ids, space separated.")
        @Option(help: "tokenizer.json, or a model folder holding it (or vocab.json + merges.txt).")
        var tokenizer: String
        @Flag(name: .customLong("no-special-tokens"), help: "Do not add the post-processor's special tokens.")
        var noSpecialTokens = false

        func run() throws {
            let tok = try TokenizerCommand.load(tokenizer)
            let ids = tok.encode(TokenizerCommand.readStdin(), addSpecialTokens: !noSpecialTokens)
            print(ids.map(String.init).joined(separator: " "))
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read token ids (whitespace or comma separated) on stdin and print the text.")
        @Option(help: "tokenizer.json, or a model folder holding it (or vocab.json + merges.txt).")
        var tokenizer: String
        @Flag(help: "Leave out special tokens.")
        var skipSpecialTokens = false

        func run() throws {
            let tok = try TokenizerCommand.load(tokenizer)
            var ids: [Int64] = []
            for field in TokenizerCommand.readStdin().split(whereSeparator: { $0.isWhitespace || $0 == "," || $0 == "[" || $0 == "]" }) {
                guard let id = Int64(field) else {
                    throw ValidationError(TokenizerError.invalidInput(detail: "'\(field)' is not a token id").description)
                }
                ids.append(id)
            }
            // An id the tokenizer does not know is an error naming it, not a silent gap in the text.
            do { try tok.checkIDs(ids) } catch { throw ValidationError("\(error)") }
            print(tok.decode(ids.map { UInt32($0) }, skipSpecialTokens: skipSpecialTokens), terminator: "")
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure single-threaded encode throughput on text files (one encode call per file).")
        @Option(help: "tokenizer.json, or a model folder holding it.")
        var tokenizer: String
        @Option(help: "Timed passes over the files; the best is reported.")
        var repeats = 3
        @Argument(help: "Text files to encode.")
        var files: [String]

        func run() throws {
            let tok = try TokenizerCommand.load(tokenizer)
            let texts = try files.map { path -> String in
                guard let d = FileManager.default.contents(atPath: path) else {
                    throw ValidationError("bench: cannot read '\(path)'")
                }
                return String(decoding: d, as: UTF8.self)
            }
            let bytes = texts.reduce(0) { $0 + $1.utf8.count }
            var best = Double.infinity
            var tokens = 0
            for pass in 0...repeats {
                let fresh = try TokenizerCommand.load(tokenizer)  // cold cache each pass
                let start = DispatchTime.now().uptimeNanoseconds
                var count = 0
                for t in texts { count += fresh.encode(t, addSpecialTokens: false).count }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                tokens = count
                if pass > 0 { best = min(best, seconds) }  // pass 0 warms up
            }
            _ = tok
            let mb = Double(bytes) / 1e6
            print(String(format: "swift dllm: %d bytes, %d tokens, %.3f s, %.2f MB/s, %.0f tokens/s",
                         bytes, tokens, best, mb / best, Double(tokens) / best))
        }
    }
}

extension TokenizerCommand {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Learn a byte-level BPE (GPT-2 style) from text files and write DIR/tokenizer.json.")
        @Option(help: "Target vocabulary size, special tokens and the 256 byte characters included.")
        var vocabSize: Int
        @Option(help: "Folder to write tokenizer.json and tokenizer_config.json into.")
        var output: String
        @Option(help: "Minimum pair frequency for a merge.")
        var minFrequency = 0
        @Option(name: .customLong("special-token"), help: "A special token (repeatable), ids from 0 in order.")
        var specialTokens: [String] = []
        @Option(name: .customLong("eos-token"), help: "End-of-text token: added as special and named eos_token (and pad) in tokenizer_config.json.")
        var eosToken: String?
        @Option(name: .customLong("mask-token"), help: "Diffusion mask token: added as special and named mask_token.")
        var maskToken: String?
        @Option(name: .customLong("text-field"), help: "Field holding the text in .jsonl/.json corpora.")
        var textField = "text"
        @Argument(help: "Corpus files: plain text, or .jsonl/.json rows whose --text-field is used.")
        var corpus: [String]

        func run() throws {
            var specials = specialTokens
            for t in [eosToken, maskToken].compactMap({ $0 }) where !specials.contains(t) { specials.append(t) }
            let trainer = BPETrainer(vocabSize: vocabSize, minFrequency: minFrequency, specialTokens: specials)
            do {
                for file in corpus {
                    if file.hasSuffix(".jsonl") || file.hasSuffix(".json") {
                        let data = try DatasetLoader.load(file)
                        for split in data.splitNames {
                            for row in try data.split(split).rows { trainer.feed(text: try row.string(textField)) }
                        }
                    } else {
                        try trainer.feed(files: [file])
                    }
                }
                let result = try trainer.train()
                try result.save(to: output)
                try nameSpecialTokens()
                print("trained \(result.vocab.count) tokens, \(result.merges.count) merges -> \(output)/tokenizer.json")
            } catch let e as TokenizerError {
                throw ValidationError(e.description)
            }
        }

        /// Records which special token is EOS/pad and which is the mask, as HF's
        /// `tokenizer_config.json` does, so training and sampling find them.
        func nameSpecialTokens() throws {
            let url = URL(fileURLWithPath: output).appendingPathComponent("tokenizer_config.json")
            var config = try ConfigJSON.parse(Data(contentsOf: url), path: url.path)
            guard config.objectMembers != nil else { return }
            if let eosToken { config["eos_token"] = .string(eosToken); config["pad_token"] = .string(eosToken) }
            if let maskToken { config["mask_token"] = .string(maskToken) }
            try ConfigJSON.text(config).write(to: url, options: .atomic)
        }
    }
}
