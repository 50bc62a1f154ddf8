import DLLMConfig
import Foundation

/// The training run's `output_dir` as the launcher sees it: where the rank logs go
/// and where complete checkpoints (a `checkpoint-STEP` folder holding
/// `trainer_state.json`, which `dllm train` writes last) are found for a resume.
public enum OutputDirectory {
    /// `output_dir` from the overrides (last one wins), else from the training config file.
    public static func find(trainingConfig: String, overrides: [String]) throws -> URL {
        let pairs: [(key: String, value: String)]
        do { pairs = try FlatYAMLConfig.parseOverrides(overrides) } catch {
            throw LaunchError.trainingConfig(path: "command line", reason: "\(error)")
        }
        if let value = pairs.last(where: { $0.key == "output_dir" })?.value { return absolute(value) }
        let file: FlatYAMLConfig
        do { file = try FlatYAMLConfig(contentsOf: trainingConfig) } catch { throw LaunchError.trainingConfig(path: trainingConfig, reason: "\(error)") }
        guard let entry = file.node.mapping?.first(where: { $0.key.string == "output_dir" }), let value = entry.value.string, !value.isEmpty else {
            throw LaunchError.trainingConfig(path: trainingConfig, reason: "no output_dir: set it in the file or pass --output_dir DIR (the rank logs go to output_dir/logs)")
        }
        return absolute(value)
    }

    /// Where an eval launch keeps its rank logs: eval's `--output_path` (last one wins, `--output_path X`
    /// or `--output_path=X`), else a new temporary folder.
    public static func forEval(_ arguments: [String]) throws -> URL {
        var path: String?
        for (i, arg) in arguments.enumerated() {
            if arg == "--output_path", i + 1 < arguments.count { path = arguments[i + 1] }
            if arg.hasPrefix("--output_path=") { path = String(arg.dropFirst("--output_path=".count)) }
        }
        if let path { return absolute(path) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-eval-launch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw LaunchError.badOption(name: "eval", value: folder.path, expected: "a writable temporary folder for the rank logs (\(error))")
        }
        return folder
    }

    static func absolute(_ path: String) -> URL {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)).standardizedFileURL
    }

    /// The newest complete `checkpoint-STEP` (not `checkpoint-final`), if any.
    public static func latestCheckpoint(in directory: URL) -> (step: Int, url: URL)? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)) else { return nil }
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("trainer_state.json").path) else { return nil }
            return (step, url)
        }.max { $0.0 < $1.0 }.map { (step: $0.0, url: $0.1) }
    }

    /// True when the overrides already choose a checkpoint to resume from.
    public static func resumeChosen(_ overrides: [String]) -> Bool {
        ((try? FlatYAMLConfig.parseOverrides(overrides)) ?? []).contains { $0.key == "resume_from_checkpoint" }
    }

    /// The overrides with `--resume_from_checkpoint true` in place of any earlier choice.
    public static func resumingLatest(_ overrides: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < overrides.count {
            let arg = overrides[i]
            let key = arg.dropFirst(2).split(separator: "=", maxSplits: 1).first.map { $0.replacingOccurrences(of: "-", with: "_") }
            if arg.hasPrefix("--"), key == "resume_from_checkpoint" {
                i += arg.contains("=") ? 1 : 2
                continue
            }
            out.append(arg)
            i += 1
        }
        return out + ["--resume_from_checkpoint", "true"]
    }
}

extension OutputDirectory {
    /// `checkpoint-final` when complete.
    public static func finalCheckpoint(in directory: URL) -> URL? {
        let url = directory.appendingPathComponent("checkpoint-final")
        return FileManager.default.fileExists(atPath: url.appendingPathComponent("trainer_state.json").path) ? url : nil
    }
}
