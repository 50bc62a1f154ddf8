import Foundation
import RealModule
/// A contiguous, owned, zero-initialised array of scalars with pointer access.
///
/// The compute core works on raw pointers (llm.c style); `Buffer` owns the
/// allocation and frees it. Copying a `Buffer` value shares storage, like a class.
public final class Buffer<S: ComputeScalar>: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<S>

    public init(count: Int) {
        precondition(count >= 0, "Buffer: negative count")
        self.count = count
        pointer = UnsafeMutablePointer<S>.allocate(capacity: max(count, 1))
        // All-zero bits are 0.0 for Float and Double; memset avoids a per-element generic loop.
        memset(pointer, 0, max(count, 1) * MemoryLayout<S>.stride)
    }

    public convenience init(_ values: [S]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { pointer.deallocate() }

    public var buffer: UnsafeMutableBufferPointer<S> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public var array: [S] { Array(buffer) }

    public func zero() { memset(pointer, 0, count * MemoryLayout<S>.stride) }

    public subscript(i: Int) -> S {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}
