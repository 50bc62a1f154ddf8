import CZlib
import Foundation
import XCTest

/// The screenshot reader: a PNG written here (chunks by hand, IDAT through zlib's
/// `compress`) reads back pixel for pixel, through the None, Sub, Up, Average and Paeth
/// row filters; a damaged stream is an error, not a trap.
final class PNGImageTests: XCTestCase {
    /// 3x5 RGB: one row per filter type.
    private let rgb: [[UInt8]] = (0..<5).map { (y: Int) -> [UInt8] in
        (0..<9).map { (x: Int) -> UInt8 in UInt8(truncatingIfNeeded: x * 37 + y * 91 + 11) }
    }

    func testReadsEveryRowFilter() throws {
        let image = try PNGImage(data: png(rows: rgb))
        XCTAssertEqual(image.width, 3)
        XCTAssertEqual(image.height, 5)
        for y in 0..<5 {
            for x in 0..<3 {
                let pixel = Array(image.pixels[(y * 3 + x) * 4..<(y * 3 + x) * 4 + 4])
                XCTAssertEqual(pixel, Array(rgb[y][x * 3..<x * 3 + 3]) + [255], "pixel (\(x), \(y))")
            }
        }
    }

    func testDamagedStreamIsAnError() throws {
        var bytes = [UInt8](png(rows: rgb))
        let idat = try XCTUnwrap(firstIndex(of: Array("IDAT".utf8), in: bytes))
        bytes[idat + 4 + 6] ^= 0xFF  // inside the deflate data
        bytes[idat + 4 + 7] ^= 0xFF
        XCTAssertThrowsError(try PNGImage(data: Data(bytes)))
        XCTAssertThrowsError(try PNGImage(data: Data(bytes.prefix(idat + 10))))
    }

    // MARK: Writing a PNG

    /// Filters row y with filter type y (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth), 3 channels.
    private func png(rows: [[UInt8]]) -> Data {
        var raw: [UInt8] = []
        for (y, row) in rows.enumerated() {
            raw.append(UInt8(y))
            for x in 0..<row.count {
                let a = x >= 3 ? Int(row[x - 3]) : 0
                let b = y > 0 ? Int(rows[y - 1][x]) : 0
                let c = x >= 3 && y > 0 ? Int(rows[y - 1][x - 3]) : 0
                let predictor: Int
                switch y {
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c
                    predictor = abs(p - a) <= abs(p - b) && abs(p - a) <= abs(p - c) ? a : (abs(p - b) <= abs(p - c) ? b : c)
                default: predictor = 0
                }
                raw.append(row[x] &- UInt8(truncatingIfNeeded: predictor))
            }
        }
        var compressedCount = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedCount))
        XCTAssertEqual(compress(&compressed, &compressedCount, raw, uLong(raw.count)), Z_OK)
        compressed.removeLast(compressed.count - Int(compressedCount))

        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ body: [UInt8]) {
            out += be32(body.count) + Array(type.utf8) + body
            let crc = crc32(crc32(0, Array(type.utf8), 4), body, uInt(body.count))
            out += be32(Int(crc))
        }
        chunk("IHDR", be32(rows[0].count / 3) + be32(rows.count) + [8, 2, 0, 0, 0])
        chunk("IDAT", compressed)
        chunk("IEND", [])
        return Data(out)
    }

    private func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    private func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        (0...(haystack.count - needle.count)).first { Array(haystack[$0..<$0 + needle.count]) == needle }
    }
}
