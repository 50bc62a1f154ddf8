import Foundation

/// Checks, before anything is allocated, that a configuration's float32 parameters fit in
/// this machine's memory (issue 17, defect 6: `vocab_size: 1e12` used to abort in the
/// allocator with "failed to allocate 512000000328960 bytes").
enum ParameterBudget {
    /// `terms` are products of shape sizes whose sum is the parameter count; `keys` names the
    /// configuration keys they come from. Throws when the count overflows or its float32
    /// bytes (parameters only; training needs about four times that) exceed physical memory.
    static func check(_ terms: [[Int]], keys: [String], path: String) throws {
        let limit = ProcessInfo.processInfo.physicalMemory
        var total: UInt64 = 0
        for term in terms {
            var product: UInt64 = 1
            for factor in term {
                let (p, overflow) = product.multipliedReportingOverflow(by: UInt64(max(factor, 0)))
                product = overflow ? .max : p
            }
            let (sum, overflow) = total.addingReportingOverflow(product)
            total = overflow ? .max : sum
        }
        let (bytes, overflow) = total.multipliedReportingOverflow(by: 4)
        if overflow || bytes > limit {
            let size = overflow || total == .max ? "more than 2⁶⁴ bytes" : String(format: "%.1f GiB", Double(bytes) / 1_073_741_824)
            throw ModelError.invalidValue(
                key: keys.joined(separator: ", "), value: overflow || total == .max ? "(overflow)" : "\(total) parameters",
                reason: "float32 parameters alone need \(size), more than this machine's \(limit / 1_073_741_824) GiB of memory", path: path)
        }
    }
}
