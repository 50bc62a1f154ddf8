import DLLMProcess
import Foundation
import XCTest

/// `dllm` sets OpenBLAS's load-time settings and re-executes itself once
/// (Sources/dllm/BLASEnvironment.swift): its idle threads sleep at once unless the
/// environment says otherwise, and a value the user set is kept.
final class BLASEnvironmentTests: LaunchTestCase {
    func trainLog(_ changes: [String: String?]) throws -> String {
        var env = ProcessInfo.processInfo.environment
        env["DLLM_NUM_THREADS"] = "1"
        for (key, value) in changes { env[key] = value }
        let result = try ChildProcess.run([Self.dllm.path, "train", trainConfig.path, "--max_steps", "1",
                                           "--output_dir", work.appendingPathComponent("out").path],
                                          environment: env, mergingErrors: true)
        XCTAssertEqual(result.status, 0, result.output)
        return result.output
    }

    func testThreadTimeoutIsSetWhenTheEnvironmentLacksIt() throws {
        let log = try trainLog(["OPENBLAS_THREAD_TIMEOUT": nil, "DLLM_BLAS_ENV": nil])
        XCTAssertTrue(log.contains("OPENBLAS_THREAD_TIMEOUT 4"), log)
    }

    func testThreadTimeoutFromTheEnvironmentIsKept() throws {
        let log = try trainLog(["OPENBLAS_THREAD_TIMEOUT": "12", "DLLM_BLAS_ENV": nil])
        XCTAssertTrue(log.contains("OPENBLAS_THREAD_TIMEOUT 12"), log)
        XCTAssertFalse(log.contains("OPENBLAS_THREAD_TIMEOUT 4"), log)
    }
}
