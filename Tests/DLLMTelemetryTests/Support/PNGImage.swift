import Foundation

/// A minimal PNG decoder for test screenshots: 8-bit RGB or RGBA, non-interlaced,
/// with its own DEFLATE decoder (Foundation on Linux has no zlib API). Enough to
/// count the pixels of a colour in a headless-browser screenshot.
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
                width = be32(body)
                height = be32(body + 4)
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
        let raw = try Inflater.zlib(compressed)
        guard raw.count >= height * (stride + 1) else { throw DecodeError(description: "image data too short") }
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
}

/// DEFLATE (RFC 1951) inside a zlib wrapper (RFC 1950): stored, fixed and dynamic
/// Huffman blocks.
enum Inflater {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func zlib(_ data: [UInt8]) throws -> [UInt8] {
        guard data.count > 2, data[0] & 0x0F == 8 else { throw Failure(description: "not a zlib stream") }
        return try inflate(Array(data[2...]))
    }

    private struct BitReader {
        let bytes: [UInt8]
        var position = 0  // in bits

        mutating func bit() throws -> Int {
            guard position >> 3 < bytes.count else { throw Failure(description: "unexpected end of data") }
            let b = Int(bytes[position >> 3] >> UInt8(position & 7)) & 1
            position += 1
            return b
        }

        mutating func bits(_ n: Int) throws -> Int {
            var v = 0
            for k in 0..<n { v |= try bit() << k }
            return v
        }

        mutating func alignToByte() { position = (position + 7) & ~7 }
    }

    /// A canonical Huffman code: symbol counts per length and symbols in code order.
    private struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int] = []

        init(lengths: [Int]) {
            for l in lengths { counts[l] += 1 }
            counts[0] = 0
            var offsets = [Int](repeating: 0, count: 16)
            for l in 1..<16 { offsets[l] = offsets[l - 1] + counts[l - 1] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (symbol, l) in lengths.enumerated() where l > 0 {
                symbols[offsets[l]] = symbol
                offsets[l] += 1
            }
        }

        func decode(_ reader: inout BitReader) throws -> Int {
            var code = 0, first = 0, index = 0
            for l in 1..<16 {
                code |= try reader.bit()
                let count = counts[l]
                if code - count < first { return symbols[index + (code - first)] }
                index += count
                first += count
                first <<= 1
                code <<= 1
            }
            throw Failure(description: "bad Huffman code")
        }
    }

    private static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                                       2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    private static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    static func inflate(_ data: [UInt8]) throws -> [UInt8] {
        var reader = BitReader(bytes: data)
        var out: [UInt8] = []
        out.reserveCapacity(data.count * 4)
        var last = 0
        repeat {
            last = try reader.bits(1)
            switch try reader.bits(2) {
            case 0:
                reader.alignToByte()
                let start = reader.position >> 3
                guard start + 4 <= data.count else { throw Failure(description: "truncated stored block") }
                let length = Int(data[start]) | Int(data[start + 1]) << 8
                guard start + 4 + length <= data.count else { throw Failure(description: "truncated stored block") }
                out.append(contentsOf: data[(start + 4)..<(start + 4 + length)])
                reader.position = (start + 4 + length) << 3
            case 1:
                var lengths = [Int](repeating: 8, count: 288)
                for s in 144..<256 { lengths[s] = 9 }
                for s in 256..<280 { lengths[s] = 7 }
                try block(&reader, &out, Huffman(lengths: lengths), Huffman(lengths: [Int](repeating: 5, count: 30)))
            case 2:
                let literalCount = try reader.bits(5) + 257
                let distanceCount = try reader.bits(5) + 1
                let codeCount = try reader.bits(4) + 4
                let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
                var codeLengths = [Int](repeating: 0, count: 19)
                for k in 0..<codeCount { codeLengths[order[k]] = try reader.bits(3) }
                let codeCode = Huffman(lengths: codeLengths)
                var lengths: [Int] = []
                while lengths.count < literalCount + distanceCount {
                    let symbol = try codeCode.decode(&reader)
                    switch symbol {
                    case 0...15: lengths.append(symbol)
                    case 16:
                        guard let previous = lengths.last else { throw Failure(description: "repeat with no length") }
                        lengths.append(contentsOf: repeatElement(previous, count: 3 + (try reader.bits(2))))
                    case 17: lengths.append(contentsOf: repeatElement(0, count: 3 + (try reader.bits(3))))
                    default: lengths.append(contentsOf: repeatElement(0, count: 11 + (try reader.bits(7))))
                    }
                }
                try block(&reader, &out, Huffman(lengths: Array(lengths[0..<literalCount])),
                          Huffman(lengths: Array(lengths[literalCount..<(literalCount + distanceCount)])))
            default:
                throw Failure(description: "reserved block type")
            }
        } while last == 0
        return out
    }

    private static func block(_ reader: inout BitReader, _ out: inout [UInt8], _ literals: Huffman, _ distances: Huffman) throws {
        while true {
            let symbol = try literals.decode(&reader)
            if symbol < 256 {
                out.append(UInt8(symbol))
            } else if symbol == 256 {
                return
            } else {
                let k = symbol - 257
                guard k < lengthBase.count else { throw Failure(description: "bad length symbol") }
                let length = lengthBase[k] + (try reader.bits(lengthExtra[k]))
                let d = try distances.decode(&reader)
                guard d < distanceBase.count else { throw Failure(description: "bad distance symbol") }
                let distance = distanceBase[d] + (try reader.bits(distanceExtra[d]))
                guard distance <= out.count else { throw Failure(description: "distance too far back") }
                let start = out.count - distance
                for j in 0..<length { out.append(out[start + j]) }
            }
        }
    }
}
