// Launchers/bench-json.sh: parse one file with each parser, best of 5 passes.
import Foundation
let data = try! Data(contentsOf: URL(fileURLWithPath: CommandLine.arguments[1]))
func time(_ name: String, _ body: () throws -> Void) rethrows {
    var best = Double.infinity
    for _ in 0..<5 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    print(name.padding(toLength: 44, withPad: " ", startingAt: 0), String(format: "%7.1f ms  %6.1f MB/s", best * 1e3, Double(data.count) / 1e6 / best))
}
print("file: \(data.count) bytes")
try time("DLLMJSON (tokenizer options: keepAll)") { _ = try JSONParser.parse(data, options: .init(duplicateKeys: .keepAll, loneSurrogates: .replace, maximumDepth: 512)) }
try time("DLLMJSON (default: reject duplicates)") { _ = try JSONParser.parse(data) }
try time("old DLLMTokenizers parser") { _ = try OldTokParser.parse(data) }
try time("old DLLMCheckpoint parser (no UTF-8 check)") { _ = try data.withUnsafeBytes { try OldCkptParser.parse($0) } }
try time("Foundation JSONSerialization") { _ = try JSONSerialization.jsonObject(with: data) }
