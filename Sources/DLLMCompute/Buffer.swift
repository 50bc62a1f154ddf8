import Foundation
import RealModule
/// A contiguous, owned, zero-initialised array of scalars with pointer access.
///
/// The compute core works on raw pointers (llm.c style); `Buffer` owns the
/// allocation and frees it. Copying a `Buffer` value shares storage, like a class.
// @unchecked Sendable: `count` and `pointer` never change; the scalars behind the pointer are
// shared on purpose, and the kernels that write them from several threads write disjoint ranges.
public final class Buffer<S: ComputeScalar>: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<S>
    private let memory: HugePageMemory

    public init(count: Int) {
        precondition(count >= 0, "Buffer: negative count")
        self.count = count
        // All-zero bits are 0.0 for Float and Double. Large buffers arrive as fresh zero pages
        // (huge ones where Linux allows) without being written, so a buffer that is never filled
        // (a quantized model's fp32 slots) costs no resident memory.
        (memory, pointer) = HugePageMemory.values(S.self, count: count, owner: "Buffer")
    }

    public convenience init(_ values: [S]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { memory.release() }

    public var buffer: UnsafeMutableBufferPointer<S> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public var array: [S] { Array(buffer) }

    public func zero() { memset(pointer, 0, count * MemoryLayout<S>.stride) }

    public subscript(i: Int) -> S {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}
