import Foundation

/// Zero-filled memory for the large buffers a step streams through (parameters, gradients, AdamW
/// moments, activations, packed bf16 operands). On Linux a request of at least 2 MiB is mapped
/// from the kernel on its own, aligned to 2 MiB and advised for transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`, Documentation/admin-guide/mm/transhuge.rst: Debian's default
/// `enabled` mode is `madvise`, so without the advice every buffer stays on 4 KiB pages). A product
/// or a transposing pack then takes one TLB entry per 2 MiB instead of one per 4 KiB page
/// (docs/benchmarks.md, "Huge pages for training buffers"). Untouched pages still cost no
/// resident memory, as with `calloc`. Smaller requests and other systems get ordinary zeroed
/// memory; where THP is off the mapping simply stays on base pages.
public struct HugePageMemory {
    public let pointer: UnsafeMutableRawPointer
    /// Bytes of the private mapping behind `pointer`, or 0 when it came from `calloc`.
    let mappedBytes: Int

    /// x86-64's transparent huge page (a PMD mapping with 4 KiB base pages).
    static let hugePage = 2 << 20

    /// At least `byteCount` zero bytes: 2 MiB-aligned when mapped, else `calloc`'s alignment (16
    /// bytes on glibc); `nil` when the system has none left.
    public static func allocate(byteCount: Int) -> HugePageMemory? {
        if let mapped = mapped(byteCount: byteCount) { return mapped }
        guard let raw = calloc(max(byteCount, 1), 1) else { return nil }
        return HugePageMemory(pointer: raw, mappedBytes: 0)
    }

    /// `count` zeroed values of `T` (at least one), bound to `T`: the storage of ``Buffer``, the
    /// bf16 rows and the bf16 scratch. Stops the process, naming `owner`, when the size overflows
    /// or memory runs out.
    public static func values<T>(_ type: T.Type, count: Int, owner: String) -> (memory: HugePageMemory, pointer: UnsafeMutablePointer<T>) {
        let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !overflow, let memory = allocate(byteCount: bytes) else { fatalError("\(owner): out of memory for \(count) values") }
        return (memory, memory.pointer.bindMemory(to: T.self, capacity: max(count, 1)))
    }

    /// The huge-page mapping alone: nil below 2 MiB, off Linux, or when the mapping fails.
    public static func mapped(byteCount: Int) -> HugePageMemory? {
        #if os(Linux)
        if byteCount >= hugePage { return mapAligned(byteCount) }
        #endif
        return nil
    }

    /// Returns the memory to the system.
    public func release() {
        #if os(Linux)
        if mappedBytes > 0 { munmap(pointer, mappedBytes); return }
        #endif
        free(pointer)
    }

    #if os(Linux)
    /// An anonymous private mapping of `byteCount` rounded up to whole base pages, starting on a
    /// 2 MiB boundary (a larger mapping trimmed at both ends), advised for huge pages. Only whole
    /// 2 MiB ranges inside a mapping become huge pages: the last, partial one stays on base pages,
    /// so no buffer takes more resident memory than it touches.
    private static func mapAligned(_ byteCount: Int) -> HugePageMemory? {
        let page = max(sysconf(Int32(_SC_PAGESIZE)), 4096)
        let rounded = (byteCount + page - 1) / page * page
        let total = rounded + hugePage
        guard let base = mmap(nil, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              base != MAP_FAILED else { return nil }
        let start = (Int(bitPattern: base) + hugePage - 1) / hugePage * hugePage
        let head = start - Int(bitPattern: base)
        if head > 0 { munmap(base, head) }
        let tail = total - head - rounded
        let aligned = UnsafeMutableRawPointer(bitPattern: start)!
        if tail > 0 { munmap(aligned + rounded, tail) }
        _ = madvise(aligned, rounded, MADV_HUGEPAGE)  // advice only: with THP off the pages stay 4 KiB
        return HugePageMemory(pointer: aligned, mappedBytes: rounded)
    }
    #endif
}
