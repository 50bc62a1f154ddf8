import Foundation

/// Sets the two OpenBLAS settings that it reads only when the library loads, before
/// `main` runs, then re-executes `dllm` once with them (same pid, arguments and otherwise
/// the same environment, so MPI launchers are unaffected):
///
/// - **Kernel family.** Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) runs its AVX2 (Haswell)
///   sgemm kernel on this family of Xeons — by its own detection, and because this
///   workplace's machines export `OPENBLAS_CORETYPE=Haswell` — while its AVX-512 (SkylakeX)
///   kernel is about twice as fast here. When the CPU has AVX-512 and the core type is unset
///   or Haswell, `OPENBLAS_CORETYPE=SKYLAKEX`. `DLLM_KEEP_BLAS_CORE=1` keeps the environment's.
/// - **Idle spinning.** After a GEMM, OpenBLAS's worker threads spin on `sched_yield` for
///   2^28 cycles (about 0.1 s) before they sleep (`blas_thread_server` in its
///   `driver/others/blas_server.c`; `OPENBLAS_THREAD_TIMEOUT` is the exponent, 4…30). The
///   compute core runs its own kernels (SwiGLU, attention, softmax) on libdispatch's
///   threads between GEMMs, and on a machine with as many cores as threads the spinning
///   workers take their cores: on 2 cores, half the CPU time went to `sched_yield` in a
///   HellaSwag evaluation. Unless the environment sets it, `OPENBLAS_THREAD_TIMEOUT` is
///   `threadTimeout`, so idle workers sleep almost at once. Measured in docs/benchmarks.md
///   ("OpenBLAS idle threads").
///
/// The choices are printed by the commands that report speed.
enum BLASEnvironment {
    /// Set before the re-execution; its presence stops a second one.
    static let marker = "DLLM_BLAS_ENV"
    static let previousCoreKey = "DLLM_BLAS_CORE_FROM"
    /// `OPENBLAS_THREAD_TIMEOUT`'s exponent when the environment does not set one.
    static let threadTimeout = "4"

    static func reexecIfBeneficial() {
        let env = ProcessInfo.processInfo.environment
        guard env[marker] == nil else { return }
        var changed = false
        let current = env["OPENBLAS_CORETYPE"] ?? ""
        if env["DLLM_KEEP_BLAS_CORE"] == nil, current.isEmpty || current.lowercased() == "haswell", cpuHasAVX512() {
            setenv(previousCoreKey, current.isEmpty ? "unset" : current, 1)
            setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 1)
            changed = true
        }
        if env["OPENBLAS_THREAD_TIMEOUT"] == nil {
            setenv("OPENBLAS_THREAD_TIMEOUT", threadTimeout, 1)
            changed = true
        }
        guard changed else { return }
        setenv(marker, "1", 1)
        var cArgs = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &cArgs)
        // exec failed: carry on with the settings already loaded.
    }

    static func cpuHasAVX512() -> Bool {
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        return flags.split(separator: " ").contains("avx512f")
    }

    /// One line for logs and benchmarks.
    static var description: String {
        let env = ProcessInfo.processInfo.environment
        let core = env["OPENBLAS_CORETYPE"] ?? "detected"
        var line = "OpenBLAS core \(core)"
        if let from = env[previousCoreKey] { line += " (OPENBLAS_CORETYPE was \(from); DLLM_KEEP_BLAS_CORE=1 keeps it)" }
        line += ", OPENBLAS_THREAD_TIMEOUT \(env["OPENBLAS_THREAD_TIMEOUT"] ?? "unset (2^28 cycles)")"
        return line
    }
}
