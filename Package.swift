// swift-tools-version:6.0
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

let optimized: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"] + cpuFlags, .when(configuration: .release)),
]

let package = Package(
    name: "dllm",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dllm", targets: ["dllm"]),
        .library(name: "DLLMCompute", targets: ["DLLMCompute"]),
        .library(name: "DLLMModels", targets: ["DLLMModels"]),
        .library(name: "DLLMCheckpoint", targets: ["DLLMCheckpoint"]),
        .library(name: "DLLMOptim", targets: ["DLLMOptim"]),
        .library(name: "DLLMTokenizers", targets: ["DLLMTokenizers"]),
        .library(name: "DLLMData", targets: ["DLLMData"]),
        .library(name: "DLLMSampling", targets: ["DLLMSampling"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // MARK: C system libraries
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        // libzmq.pc carries an -isystem flag SwiftPM rejects, so no pkgConfig here.
        .systemLibrary(name: "CZMQ", providers: [.apt(["libzmq3-dev"])]),

        // MARK: Swift libraries
        .target(
            name: "DLLMCompute",
            dependencies: ["CBLAS", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: optimized),
        .target(
            name: "DLLMOptim",
            dependencies: ["DLLMCompute", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: optimized),
        .target(name: "DLLMCheckpoint", swiftSettings: optimized),
        .target(
            name: "DLLMModels",
            dependencies: ["DLLMCompute", "DLLMCheckpoint", "DLLMOptim"],
            swiftSettings: optimized),
        .target(name: "DLLMTokenizers", swiftSettings: optimized),
        .target(name: "DLLMConfig", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "DLLMData", dependencies: ["DLLMCompute", "DLLMTokenizers"], swiftSettings: optimized),
        .target(
            name: "DLLMSampling",
            dependencies: ["DLLMCompute", "DLLMModels", "DLLMData", "DLLMTokenizers"],
            swiftSettings: optimized),
        .target(
            name: "DLLMTraining",
            dependencies: ["DLLMCompute", "DLLMModels", "DLLMOptim", "DLLMCheckpoint", "DLLMConfig", "DLLMTokenizers", "DLLMData"],
            swiftSettings: optimized),

        // MARK: Programs
        .executableTarget(
            name: "dllm",
            dependencies: [
                "DLLMCompute", "DLLMModels", "DLLMCheckpoint", "DLLMOptim", "DLLMTokenizers", "DLLMData", "DLLMTraining", "DLLMSampling",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimized),

        // MARK: Tests
        .testTarget(name: "DLLMComputeTests", dependencies: ["DLLMCompute"]),
        .testTarget(name: "DLLMCheckpointTests", dependencies: ["DLLMCheckpoint"], exclude: ["Fixtures"]),
        .testTarget(name: "DLLMModelsTests", dependencies: ["DLLMModels", "DLLMCompute", "DLLMCheckpoint", "DLLMOptim"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "DLLMTokenizersTests", dependencies: ["DLLMTokenizers"], exclude: ["Fixtures"]),
        .testTarget(name: "DLLMTrainingTests", dependencies: ["DLLMTraining", "DLLMModels", "DLLMCompute", "DLLMConfig", "DLLMCheckpoint"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "DLLMSamplingTests", dependencies: ["DLLMSampling", "DLLMModels", "DLLMCompute", "DLLMData", "DLLMTokenizers"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "DLLMDataTests", dependencies: ["DLLMData", "DLLMTokenizers"], exclude: ["Fixtures"]),
        .testTarget(name: "SystemLibrariesTests", dependencies: ["CBLAS", "CMPI", "CZMQ"]),
    ],
    swiftLanguageModes: [.v5]
)
