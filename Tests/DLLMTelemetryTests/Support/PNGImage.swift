import CZlib
import Foundation

/// A minimal PNG reader for test screenshots: 8-bit RGB or RGBA, non-interlaced. It parses
/// the chunks and undoes the row filters (PNG spec, section 9); the IDAT stream itself is
/// inflated by the system zlib (`uncompress`). Enough to count the pixels of a colour in a
/// headless-browser screenshot.
struct PNGImage {
    let width: Int
    let height: Int
    /// RGBA, row-major.
    let pixels: [UInt8]

    struct DecodeError: Error, CustomStringConvertible {
        let description: String
    }

    init(data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.count > 8, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else {
            throw DecodeError(description: "not a PNG file")
        }
        var offset = 8
        var width = 0, height = 0, colourType = 0
        var compressed: [UInt8] = []
        func be32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
        while offset + 8 <= bytes.count {
            let length = be32(offset)
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            let body = offset + 8
            guard body + length + 4 <= bytes.count else { throw DecodeError(description: "truncated chunk \(type)") }
            switch type {
            case "IHDR":
                guard length >= 13 else { throw DecodeError(description: "IHDR of \(length) bytes") }
                width = be32(body)
                height = be32(body + 4)
                // A screenshot, not a poster: bounds keep the buffer sizes below from overflowing.
                guard (1...16_384).contains(width), (1...16_384).contains(height) else {
                    throw DecodeError(description: "size \(width)x\(height) out of range")
                }
                guard bytes[body + 8] == 8 else { throw DecodeError(description: "bit depth \(bytes[body + 8]) unsupported") }
                colourType = Int(bytes[body + 9])
                guard colourType == 2 || colourType == 6 else { throw DecodeError(description: "colour type \(colourType) unsupported") }
                guard bytes[body + 12] == 0 else { throw DecodeError(description: "interlaced PNG unsupported") }
            case "IDAT":
                compressed.append(contentsOf: bytes[body..<body + length])
            default:
                break
            }
            offset = body + length + 4
            if type == "IEND" { break }
        }
        let channels = colourType == 6 ? 4 : 3
        let stride = width * channels
        let raw = try Self.inflate(compressed, expectedCount: height * (stride + 1))
        var out = [UInt8](repeating: 255, count: width * height * 4)
        var previous = [UInt8](repeating: 0, count: stride)
        var current = [UInt8](repeating: 0, count: stride)
        for y in 0..<height {
            let rowStart = y * (stride + 1)
            let filter = raw[rowStart]
            for x in 0..<stride {
                let value = raw[rowStart + 1 + x]
                let a = x >= channels ? Int(current[x - channels]) : 0
                let b = Int(previous[x])
                let c = x >= channels ? Int(previous[x - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c
                    let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: throw DecodeError(description: "filter \(filter) unknown")
                }
                current[x] = value &+ UInt8(truncatingIfNeeded: predictor)
            }
            for x in 0..<width {
                for k in 0..<channels { out[(y * width + x) * 4 + k] = current[x * channels + k] }
            }
            swap(&previous, &current)
        }
        self.width = width
        self.height = height
        self.pixels = out
    }

    /// Pixels within `tolerance` (per channel) of the colour `rgb`.
    func count(rgb: (UInt8, UInt8, UInt8), tolerance: Int = 40) -> Int {
        var n = 0
        for p in stride(from: 0, to: pixels.count, by: 4) {
            if abs(Int(pixels[p]) - Int(rgb.0)) <= tolerance && abs(Int(pixels[p + 1]) - Int(rgb.1)) <= tolerance
                && abs(Int(pixels[p + 2]) - Int(rgb.2)) <= tolerance { n += 1 }
        }
        return n
    }

    /// Number of distinct colours (a blank page has one or two).
    var distinctColours: Int {
        var seen = Set<UInt32>()
        for p in stride(from: 0, to: pixels.count, by: 4) {
            seen.insert(UInt32(pixels[p]) << 16 | UInt32(pixels[p + 1]) << 8 | UInt32(pixels[p + 2]))
        }
        return seen.count
    }

    /// The zlib stream (RFC 1950) of the concatenated IDAT chunks, inflated into exactly
    /// `expectedCount` bytes: one filter byte plus one row of samples per line.
    private static func inflate(_ compressed: [UInt8], expectedCount: Int) throws -> [UInt8] {
        var raw = [UInt8](repeating: 0, count: expectedCount)
        var rawCount = uLongf(expectedCount)
        let status = raw.withUnsafeMutableBufferPointer { out in
            compressed.withUnsafeBufferPointer { input in
                uncompress(out.baseAddress, &rawCount, input.baseAddress, uLong(input.count))
            }
        }
        guard status == Z_OK else {
            let reason = status == Z_BUF_ERROR ? "more image data than the header's size, or a truncated stream" : "zlib error \(status)"
            throw DecodeError(description: "IDAT stream: \(reason)")
        }
        guard Int(rawCount) == expectedCount else {
            throw DecodeError(description: "image data too short: \(rawCount) of \(expectedCount) bytes")
        }
        return raw
    }
}
