import Foundation

/// Chooses OpenBLAS's AVX-512 kernels on CPUs that have AVX-512.
///
/// Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) runs its AVX2 (Haswell) sgemm kernel on
/// this family of Xeons — by its own detection, and because this workplace's machines
/// export `OPENBLAS_CORETYPE=Haswell` — while its AVX-512 (SkylakeX) kernel is about
/// twice as fast here. OpenBLAS reads `OPENBLAS_CORETYPE` when the library loads,
/// before `main` runs, so when the CPU has AVX-512 and the core type is unset or
/// Haswell, `dllm` sets SkylakeX and re-executes itself once (same pid, arguments and
/// otherwise the same environment, so MPI launchers are unaffected). The choice is
/// printed by the commands that report speed; `DLLM_KEEP_BLAS_CORE=1` keeps the
/// environment's core type.
enum BLASCoreSelection {
    static let previousKey = "DLLM_BLAS_CORE_FROM"

    static func reexecIfBeneficial() {
        let env = ProcessInfo.processInfo.environment
        let current = env["OPENBLAS_CORETYPE"] ?? ""
        guard env["DLLM_KEEP_BLAS_CORE"] == nil, env[previousKey] == nil,
              current.isEmpty || current.lowercased() == "haswell",
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              flags.split(separator: " ").contains("avx512f") else { return }
        setenv(previousKey, current.isEmpty ? "unset" : current, 1)
        setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 1)
        var cArgs = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &cArgs)
        // exec failed: carry on with the kernels already loaded.
    }

    /// One line for logs and benchmarks.
    static var description: String {
        let env = ProcessInfo.processInfo.environment
        let core = env["OPENBLAS_CORETYPE"] ?? "detected"
        if let from = env[previousKey] {
            return "OpenBLAS core \(core) (OPENBLAS_CORETYPE was \(from); DLLM_KEEP_BLAS_CORE=1 keeps it)"
        }
        return "OpenBLAS core \(core)"
    }
}
