// swift-tools-version:6.2
// dllm: training and sampling diffusion language models on CPU clusters.
// One target per concern; C libraries are wrapped as system-library targets
// (apt providers listed), everything else is Swift.
import PackageDescription

import Foundation

// Release builds target Haswell (x86-64-v3: AVX2 + FMA, every x86 server since 2013) so the
// kernels' loops vectorise 8-wide; DLLM_TARGET_CPU overrides it ("native", or
// "generic" for the compiler's default).
#if arch(x86_64)
let defaultCPU = "haswell"
#else
let defaultCPU = "generic"
#endif
let targetCPU = ProcessInfo.processInfo.environment["DLLM_TARGET_CPU"] ?? defaultCPU
let cpuFlags = targetCPU == "generic" ? [] : ["-target-cpu", targetCPU]

// Release builds are SwiftPM's -O with whole-module optimisation: every check stays
// (overflow, bounds, `precondition`), which matters most for the parsers of untrusted
// input (safetensors, GGUF, JSON, tokenizer files, Arrow, YAML).
let optimized: [SwiftSetting] = cpuFlags.isEmpty ? [] : [.unsafeFlags(cpuFlags, .when(configuration: .release))]
// No target builds with -Ounchecked: `dllm bench train-step` (release) showed no
// difference beyond noise between -Ounchecked and -O on the numeric kernels (about 75 %
// of a step is OpenBLAS sgemm, which the flag does not touch); docs/benchmarks.md
// ("Build flags") has the same-session figures. DLLM_UNCHECKED_KERNELS=1 builds
// DLLMCompute and DLLMOptim with -Ounchecked, to repeat that measurement.
let uncheckedKernels = ProcessInfo.processInfo.environment["DLLM_UNCHECKED_KERNELS"] == "1"
let kernels: [SwiftSetting] = uncheckedKernels
    ? [.unsafeFlags(["-Ounchecked"] + cpuFlags, .when(configuration: .release))] : optimized
// unsafeFlags and library products: since SwiftPM 6.2 a package whose manifest declares
// tools version 6.2 or later may use unsafeFlags and still be a versioned dependency of
// another package (checked with Swift 6.3.1: the same manifest at tools version 6.0 is
// refused with "contains unsafe build flags"). Hence the tools version above.

let package = Package(
    name: "dllm",
    platforms: [.macOS(.v15)],  // Synchronization (Mutex, Atomic) needs macOS 15
    products: [
        .executable(name: "dllm", targets: ["dllm"]),
        .executable(name: "dllm-launch", targets: ["dllm-launch"]),
        .library(name: "DLLMCompute", targets: ["DLLMCompute"]),
        .library(name: "DLLMModels", targets: ["DLLMModels"]),
        .library(name: "DLLMCheckpoint", targets: ["DLLMCheckpoint"]),
        .library(name: "DLLMOptim", targets: ["DLLMOptim"]),
        .library(name: "DLLMTokenizers", targets: ["DLLMTokenizers"]),
        .library(name: "DLLMData", targets: ["DLLMData"]),
        .library(name: "DLLMTelemetry", targets: ["DLLMTelemetry"]),
        .executable(name: "dllm-collector", targets: ["dllm-collector"]),
        .library(name: "DLLMSampling", targets: ["DLLMSampling"]),
        .library(name: "DLLMGGUF", targets: ["DLLMGGUF"]),
        .library(name: "DLLMJinja", targets: ["DLLMJinja"]),
        .library(name: "DLLMImport", targets: ["DLLMImport"]),
        .library(name: "DLLMJSON", targets: ["DLLMJSON"]),
        .library(name: "DLLMEval", targets: ["DLLMEval"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // The Prometheus text format of the collector's /metrics. (Its HTTP server is its
        // own, BoundedHTTPServer: FlyingFox 0.27 had no bound on header size or connections.)
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // SHA-256 of fetched packages (DLLMData).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // `Heap` for the BPE merge queues (DLLMTokenizers).
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // MARK: C system libraries
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        // libzmq.pc carries an -isystem flag SwiftPM rejects, so no pkgConfig here.
        .systemLibrary(name: "CZMQ", providers: [.apt(["libzmq3-dev"])]),
        // zlib, for the tests only (inflating PNG screenshots).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Quantized (ggml block format) dot-product kernels, scalar/AVX2/AVX-512 chosen at run time.
        .target(name: "CQuantKernels", cSettings: [.unsafeFlags(["-O3"])]),
        // bfloat16 matrix products with float32 accumulation (AVX512_BF16), for `bf16: true`.
        .target(name: "CBFloat16", cSettings: [.unsafeFlags(["-O3"])]),

        // MARK: Swift libraries
        // The seeded SplitMix64 generator every source of randomness draws from (data order,
        // initialisation, masking noise, sampling).
        .target(name: "DLLMRandom", dependencies: [.product(name: "RealModule", package: "swift-numerics")]),
        .target(
            name: "DLLMCompute",
            dependencies: ["CBLAS", "CBFloat16", "DLLMRandom", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: kernels),
        .target(
            name: "DLLMOptim",
            dependencies: ["DLLMCompute", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: kernels),
        // The one JSON reader/writer (ordered values, located errors, Decodable bridge). Reads
        // untrusted input, so it keeps its checks.
        .target(name: "DLLMJSON"),
        .target(name: "DLLMCheckpoint", dependencies: ["DLLMJSON"], swiftSettings: optimized),
        .target(
            name: "DLLMModels",
            dependencies: ["DLLMCompute", "DLLMCheckpoint", "DLLMOptim", "CQuantKernels", "DLLMJSON", "DLLMRandom", "DLLMGGUF"],
            swiftSettings: optimized),
        .target(name: "DLLMTokenizers", dependencies: ["DLLMJSON", "DLLMJinja", .product(name: "HeapModule", package: "swift-collections")],
                swiftSettings: optimized),
        // GGUF files (llama.cpp): metadata, tensor infos, dequantisation. Reads untrusted input.
        .target(name: "DLLMGGUF", dependencies: ["DLLMCheckpoint"]),
        // Jinja chat templates.
        .target(name: "DLLMJinja", dependencies: ["DLLMJSON"]),
        // GGUF (and other foreign formats) to Hugging Face model folders and models in memory.
        .target(name: "DLLMImport", dependencies: ["DLLMGGUF", "DLLMModels", "DLLMTokenizers", "DLLMCheckpoint", "DLLMCompute", "DLLMJSON", "DLLMRandom"],
                swiftSettings: optimized),
        // lm-eval-compatible evaluation: declarative tasks, loglikelihood requests, AR scoring, metrics.
        .target(name: "DLLMEval", dependencies: ["DLLMModels", "DLLMTokenizers", "DLLMData", "DLLMCompute", "DLLMJSON", "DLLMSampling"],
                swiftSettings: optimized),
        .target(name: "DLLMDistributed", dependencies: ["CMPI", "DLLMCompute", "DLLMModels", "DLLMOptim", "DLLMCheckpoint", "DLLMJSON"],
                swiftSettings: optimized),
        .target(name: "DLLMConfig", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "DLLMData", dependencies: ["DLLMRandom", "DLLMTokenizers", "DLLMProcess", "DLLMGGUF", "DLLMJSON",
                                                 .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: optimized),
        // Child processes (posix_spawn): the one runner the launcher, the data fetcher, the
        // benchmarks and the tests share.
        .target(name: "DLLMProcess"),
        // The launcher's logic (no MPI: it starts ranks through mpirun/srun and supervises them).
        .target(name: "DLLMLaunch", dependencies: ["DLLMConfig", "DLLMProcess", "DLLMJSON"]),
        .target(
            name: "DLLMSampling",
            dependencies: ["DLLMCompute", "DLLMModels", "DLLMTokenizers", "DLLMImport", "DLLMGGUF", "DLLMJSON"],
            swiftSettings: optimized),
        .target(
            name: "DLLMTraining",
            dependencies: ["DLLMCompute", "DLLMModels", "DLLMOptim", "DLLMCheckpoint", "DLLMConfig", "DLLMTokenizers", "DLLMData",
                           "DLLMDistributed", "DLLMRandom", "DLLMJSON", "DLLMImport", "DLLMGGUF"],
            swiftSettings: optimized),
        // Telemetry: wire format, publisher, collector core (ZeroMQ only; no HTTP here, so
        // `dllm` links none of the collector's server dependencies). Optimised in debug
        // builds too: a send's latency and the collector's throughput are part of its
        // contract, and the tests measure them on debug builds.
        .target(name: "DLLMTelemetry", dependencies: ["CZMQ", "DLLMJSON"],
                swiftSettings: optimized + [.unsafeFlags(["-O"], .when(configuration: .debug))]),

        // MARK: Programs
        .executableTarget(
            name: "dllm",
            dependencies: [
                "DLLMCompute", "DLLMModels", "DLLMCheckpoint", "DLLMOptim", "DLLMTokenizers", "DLLMData", "DLLMTraining", "DLLMDistributed", "DLLMConfig",
                "DLLMTelemetry", "DLLMSampling", "DLLMGGUF", "DLLMImport", "DLLMProcess", "DLLMJSON", "DLLMEval", "DLLMRandom",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimized),
        .executableTarget(
            name: "dllm-collector",
            dependencies: [
                "DLLMTelemetry", "DLLMJSON", "CZMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: optimized),
        .executableTarget(
            name: "dllm-launch",
            dependencies: ["DLLMLaunch", "DLLMConfig", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // MARK: Tests
        .testTarget(name: "DLLMComputeTests", dependencies: ["DLLMCompute"]),
        .testTarget(name: "DLLMJSONTests", dependencies: ["DLLMJSON"]),
        .testTarget(name: "DLLMCheckpointTests", dependencies: ["DLLMCheckpoint"], exclude: ["Fixtures"]),
        .testTarget(name: "DLLMModelsTests", dependencies: ["DLLMModels", "DLLMCompute", "DLLMCheckpoint", "DLLMOptim", "CQuantKernels", "DLLMRandom", "DLLMGGUF"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "DLLMTokenizersTests", dependencies: ["DLLMTokenizers", "DLLMJSON"], exclude: ["Fixtures"]),
        .testTarget(name: "DLLMTrainingTests", dependencies: ["DLLMTraining", "DLLMModels", "DLLMCompute", "DLLMConfig", "DLLMCheckpoint",
                                                       "DLLMData", "DLLMTokenizers", "DLLMDistributed", "DLLMImport", "DLLMGGUF"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "DLLMSamplingTests", dependencies: ["DLLMSampling", "DLLMModels", "DLLMCompute", "DLLMData", "DLLMTokenizers", "DLLMRandom"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "DLLMDataTests", dependencies: ["DLLMData", "DLLMTokenizers"], exclude: ["Fixtures"]),
        .testTarget(name: "DLLMDistributedTests", dependencies: ["DLLMCheckpoint", "DLLMProcess", "dllm"], exclude: ["Fixtures"]),
        .testTarget(name: "DLLMLaunchTests", dependencies: ["DLLMLaunch", "DLLMProcess", "DLLMConfig", "DLLMCheckpoint", "dllm", "dllm-launch"]),
        .testTarget(name: "DLLMTelemetryTests", dependencies: ["DLLMTelemetry", "DLLMProcess", "dllm-collector", "dllm", "dllm-launch", "CZlib"]),
        .testTarget(name: "DLLMGGUFTests", dependencies: ["DLLMGGUF"], exclude: ["Fixtures"]),
        .testTarget(name: "DLLMJinjaTests", dependencies: ["DLLMJinja"], exclude: ["Fixtures"]),
        .testTarget(name: "DLLMImportTests", dependencies: ["DLLMImport", "DLLMGGUF", "DLLMModels", "DLLMTokenizers", "DLLMCompute",
                                                       "DLLMCheckpoint", "DLLMSampling", "DLLMJSON", "DLLMEval"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "DLLMEvalTests", dependencies: ["DLLMEval", "DLLMSampling", "DLLMData", "DLLMModels"],
                    exclude: ["Fixtures"]),
        // Bounded random-mutation fuzzing of the parsers of untrusted input (seeds: the other targets' fixtures).
        .testTarget(name: "DLLMFuzzTests", dependencies: ["DLLMJSON", "DLLMGGUF", "DLLMCheckpoint", "DLLMRandom", "DLLMTelemetry"]),
        .testTarget(name: "SystemLibrariesTests", dependencies: ["CBLAS", "CMPI", "CZMQ"]),
    ],
    swiftLanguageModes: [.v6]
)
