/// Sums, maxima and dot products over contiguous runs, with SIMD accumulators.
///
/// A floating-point reduction written as a plain loop cannot be vectorised (the
/// compiler may not reassociate the additions), so these split the run over 16
/// (Float) or 8 (Double) lanes and combine the lanes at the end. The summation
/// order therefore differs from a left-to-right loop by rounding only.
public protocol VectorReductions {
    static func sum(_ p: UnsafePointer<Self>, count: Int) -> Self
    static func maximum(_ p: UnsafePointer<Self>, count: Int) -> Self
    static func dot(_ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, count: Int) -> Self
}

/// `V.scalarCount` scalars from `p + i`, any alignment.
@inlinable @inline(__always)
public func lanes<V: SIMD>(_: V.Type, _ p: UnsafePointer<V.Scalar>, _ i: Int) -> V {
    UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
}

/// Stores `x` at `p + i`, any alignment.
@inlinable @inline(__always)
public func storeLanes<V: SIMD>(_ x: V, _ p: UnsafeMutablePointer<V.Scalar>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: x, as: V.self)
}

extension Float: VectorReductions {
    @inlinable
    public static func sum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 16 <= count { acc += lanes(SIMD16<Float>.self, p, i); i += 16 }
        var s = acc.sum()
        while i < count { s += p[i]; i += 1 }
        return s
    }

    @inlinable
    public static func maximum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i + 16 <= count { let v = lanes(SIMD16<Float>.self, p, i); acc.replace(with: v, where: v .> acc); i += 16 }
        var m = acc.max()
        while i < count { m = Swift.max(m, p[i]); i += 1 }
        return m
    }

    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 16 <= count { acc += lanes(SIMD16<Float>.self, a, i) * lanes(SIMD16<Float>.self, b, i); i += 16 }
        var s = acc.sum()
        while i < count { s += a[i] * b[i]; i += 1 }
        return s
    }
}

extension Double: VectorReductions {
    @inlinable
    public static func sum(_ p: UnsafePointer<Double>, count: Int) -> Double {
        var acc = SIMD8<Double>(repeating: 0)
        var i = 0
        while i + 8 <= count { acc += lanes(SIMD8<Double>.self, p, i); i += 8 }
        var s = acc.sum()
        while i < count { s += p[i]; i += 1 }
        return s
    }

    @inlinable
    public static func maximum(_ p: UnsafePointer<Double>, count: Int) -> Double {
        var acc = SIMD8<Double>(repeating: -.infinity)
        var i = 0
        while i + 8 <= count { let v = lanes(SIMD8<Double>.self, p, i); acc.replace(with: v, where: v .> acc); i += 8 }
        var m = acc.max()
        while i < count { m = Swift.max(m, p[i]); i += 1 }
        return m
    }

    @inlinable
    public static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count: Int) -> Double {
        var acc = SIMD8<Double>(repeating: 0)
        var i = 0
        while i + 8 <= count { acc += lanes(SIMD8<Double>.self, a, i) * lanes(SIMD8<Double>.self, b, i); i += 8 }
        var s = acc.sum()
        while i < count { s += a[i] * b[i]; i += 1 }
        return s
    }
}
