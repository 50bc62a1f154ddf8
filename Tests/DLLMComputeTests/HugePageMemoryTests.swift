import DLLMCompute
import Foundation
import XCTest

#if os(Linux)  // huge pages are a Linux mapping: elsewhere there is nothing to check

/// Large buffers come from a 2 MiB-aligned mapping advised for transparent huge pages, zero-filled
/// and writable to the last byte; small ones from `calloc`. The kernel's own view of the mapping
/// (`/proc/self/smaps`, `THPeligible`) confirms the advice took where THP is not switched off.
final class HugePageMemoryTests: XCTestCase {
    func testLargeBuffersAreAlignedZeroedAndEligibleForHugePages() throws {
        let bytes = 5 * (1 << 20) + 12_345  // not a whole number of pages
        let memory = try XCTUnwrap(HugePageMemory.allocate(byteCount: bytes))
        defer { memory.release() }
        XCTAssertEqual(Int(bitPattern: memory.pointer) % (2 << 20), 0, "a large buffer starts on a 2 MiB boundary")
        let bytesView = memory.pointer.assumingMemoryBound(to: UInt8.self)
        XCTAssertTrue((0..<bytes).allSatisfy { bytesView[$0] == 0 }, "fresh memory reads as zero")
        bytesView[bytes - 1] = 7  // the last byte asked for is mapped
        XCTAssertEqual(bytesView[bytes - 1], 7)

        let mode = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? "[never]"
        if !mode.contains("[never]") {
            XCTAssertEqual(try thpEligible(containing: memory.pointer), true, "smaps: the mapping is eligible for huge pages (THP mode \(mode))")
        }

        let small = try XCTUnwrap(HugePageMemory.allocate(byteCount: 1000))
        defer { small.release() }
        XCTAssertNil(HugePageMemory.mapped(byteCount: 1000), "below 2 MiB there is no mapping of its own")
        XCTAssertTrue((0..<1000).allSatisfy { small.pointer.load(fromByteOffset: $0, as: UInt8.self) == 0 })
    }

    /// `THPeligible` of the smaps entry whose address range holds `address`.
    private func thpEligible(containing address: UnsafeMutableRawPointer) throws -> Bool? {
        // /proc files report size 0: read to the end rather than by the reported size.
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        let target = UInt(bitPattern: Int(bitPattern: address))
        var inside = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && bounds[0] <= target && target < bounds[1]
            } else if inside, fields.first == "THPeligible:", fields.count > 1 {
                return fields[1] == "1"
            }
        }
        return nil
    }
}
#endif
