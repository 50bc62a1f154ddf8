import Foundation

/// The loss curve of a run as a standalone SVG file (`RUN_DIR/loss_curve.svg`):
/// mean training loss per step, evaluation losses as dots, labelled axes.
public enum LossCurveSVG {
    public static let lossColour = "#d62728"
    public static let evalColour = "#ff7f0e"

    public static func render(run: String, rows: [StepRow], evals: [RunSummary.Eval] = [],
                              width: Double = 800, height: Double = 360) -> String {
        let points = downsample(rows.sorted { $0.step < $1.step }.compactMap { row in row.loss.map { (Double(row.step), $0) } },
                                to: 1_500)
        let evalPoints = evals.compactMap { e in e.evalLoss.map { (Double(e.step), $0) } }
        let left = 64.0, right = 20.0, top = 36.0, bottom = 44.0
        let plotW = width - left - right, plotH = height - top - bottom
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" viewBox="0 0 \(fmt(width)) \(fmt(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="#ffffff"/>
            <text x="\(fmt(left))" y="22" font-size="15" font-weight="bold">Loss — \(escape(run))</text>

            """
        let all = points + evalPoints
        guard let xs = range(all.map(\.0)), let ys = range(all.map(\.1)) else {
            svg += "<text x=\"\(fmt(width / 2))\" y=\"\(fmt(height / 2))\" text-anchor=\"middle\" fill=\"#666\">no loss values yet</text>\n</svg>\n"
            return svg
        }
        let yTicks = niceTicks(ys.lowerBound, ys.upperBound)
        let yLow = min(ys.lowerBound, yTicks.first ?? ys.lowerBound), yHigh = max(ys.upperBound, yTicks.last ?? ys.upperBound)
        let xLow = xs.lowerBound, xHigh = xs.upperBound > xs.lowerBound ? xs.upperBound : xs.lowerBound + 1
        func x(_ v: Double) -> Double { left + (v - xLow) / (xHigh - xLow) * plotW }
        func y(_ v: Double) -> Double { top + plotH - (v - yLow) / max(yHigh - yLow, 1e-12) * plotH }

        svg += "<g stroke=\"#e5e5e5\" stroke-width=\"1\">\n"
        for t in yTicks { svg += "<line x1=\"\(fmt(left))\" x2=\"\(fmt(left + plotW))\" y1=\"\(fmt(y(t)))\" y2=\"\(fmt(y(t)))\"/>\n" }
        svg += "</g>\n<g fill=\"#444\">\n"
        for t in yTicks {
            svg += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(y(t) + 4))\" text-anchor=\"end\">\(label(t))</text>\n"
        }
        for t in niceTicks(xLow, xHigh, integers: true) where t >= xLow && t <= xHigh {
            svg += "<text x=\"\(fmt(x(t)))\" y=\"\(fmt(top + plotH + 18))\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        svg += "<text x=\"\(fmt(left + plotW / 2))\" y=\"\(fmt(height - 6))\" text-anchor=\"middle\">step</text>\n</g>\n"
        svg += "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(plotW))\" height=\"\(fmt(plotH))\" fill=\"none\" stroke=\"#999\"/>\n"
        if !points.isEmpty {
            var d = ""
            for (k, p) in points.enumerated() { d += (k == 0 ? "M" : " L") + "\(fmt(x(p.0))) \(fmt(y(p.1)))" }
            svg += "<path id=\"loss\" d=\"\(d)\" fill=\"none\" stroke=\"\(lossColour)\" stroke-width=\"2\"/>\n"
        }
        for p in evalPoints {
            svg += "<circle cx=\"\(fmt(x(p.0)))\" cy=\"\(fmt(y(p.1)))\" r=\"3.5\" fill=\"\(evalColour)\"/>\n"
        }
        svg += "<g font-size=\"12\"><line x1=\"\(fmt(width - 190))\" x2=\"\(fmt(width - 170))\" y1=\"18\" y2=\"18\" stroke=\"\(lossColour)\" stroke-width=\"2\"/><text x=\"\(fmt(width - 165))\" y=\"22\">train loss</text>"
        if !evalPoints.isEmpty {
            svg += "<circle cx=\"\(fmt(width - 90))\" cy=\"18\" r=\"3.5\" fill=\"\(evalColour)\"/><text x=\"\(fmt(width - 82))\" y=\"22\">eval loss</text>"
        }
        svg += "</g>\n</svg>\n"
        return svg
    }

    /// At most `limit` points: means of consecutive buckets.
    static func downsample(_ points: [(Double, Double)], to limit: Int) -> [(Double, Double)] {
        guard points.count > limit else { return points }
        let bucket = Int((Double(points.count) / Double(limit)).rounded(.up))
        return stride(from: 0, to: points.count, by: bucket).map { start in
            let slice = points[start..<min(points.count, start + bucket)]
            return (slice.map(\.0).reduce(0, +) / Double(slice.count), slice.map(\.1).reduce(0, +) / Double(slice.count))
        }
    }

    static func range(_ values: [Double]) -> ClosedRange<Double>? {
        guard let lo = values.min(), let hi = values.max() else { return nil }
        return lo...hi
    }

    /// About five round tick values covering [low, high] (whole numbers only, for steps).
    static func niceTicks(_ low: Double, _ high: Double, integers: Bool = false) -> [Double] {
        let span = high - low
        guard span > 0, span.isFinite else { return [low] }
        let raw = span / 5
        let magnitude = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        if integers { step = max(1, step.rounded(.up)) }
        var ticks: [Double] = []
        var t = floor(low / step) * step
        while t <= high + step * 0.5 && ticks.count < 20 {
            ticks.append(t)
            t += step
        }
        return ticks
    }

    static func label(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e9 { return String(Int(v)) }
        if abs(v) >= 0.01 && abs(v) < 1e5 { return String(format: "%.3g", v) }
        return String(format: "%.2e", v)
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
