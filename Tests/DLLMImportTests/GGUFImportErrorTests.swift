import DLLMGGUF
import DLLMImport
import Foundation
import XCTest

/// Files the importer must refuse, with the architecture, key or tensor named.
final class GGUFImportErrorTests: XCTestCase {
    private var temporary: URL!

    override func setUpWithError() throws {
        temporary = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temporary) }

    /// A GGUF file with string/UINT32/FLOAT32 metadata and F32 tensors of the given dims (ggml order).
    private func file(_ strings: [(String, String)], _ uints: [(String, UInt32)] = [], tensors: [(String, [Int])] = []) throws -> GGUFFile {
        var bytes: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); bytes.append(contentsOf: s.utf8) }
        bytes.append(contentsOf: Array("GGUF".utf8)); u32(3); u64(UInt64(tensors.count)); u64(UInt64(strings.count + uints.count))
        for (key, value) in strings { string(key); u32(8); string(value) }
        for (key, value) in uints { string(key); u32(4); u32(value) }
        var offset = 0
        for (name, dims) in tensors {
            string(name); u32(UInt32(dims.count)); for d in dims { u64(UInt64(d)) }; u32(0); u64(UInt64(offset))
            offset += (dims.reduce(4, *) + 31) / 32 * 32
        }
        while bytes.count % 32 != 0 { bytes.append(0) }
        bytes.append(contentsOf: [UInt8](repeating: 0, count: offset))
        let url = temporary.appendingPathComponent("model.gguf")
        try Data(bytes).write(to: url)
        return try GGUFFile(path: url.path)
    }

    func testUnsupportedArchitectureIsNamed() throws {
        let gguf = try file([("general.architecture", "gpt2")])
        XCTAssertThrowsError(try GGUFModelImport.load(gguf)) { error in
            XCTAssertEqual(error as? GGUFImportError, .unsupportedArchitecture(file: gguf.path, architecture: "gpt2"))
            XCTAssertTrue("\(error)".contains("gpt2"))
        }
    }

    func testMissingKeyIsNamed() throws {
        let gguf = try file([("general.architecture", "qwen2")], [("qwen2.embedding_length", 8)])
        XCTAssertThrowsError(try GGUFModelImport.load(gguf)) { error in
            XCTAssertEqual(error as? GGUFImportError,
                           .missingKey(file: gguf.path, key: "qwen2.attention.head_count", expected: "a positive integer"))
        }
    }

    private let tinyQwen: [(String, UInt32)] = [
        ("qwen2.embedding_length", 8), ("qwen2.attention.head_count", 2), ("qwen2.attention.head_count_kv", 1),
        ("qwen2.feed_forward_length", 16), ("qwen2.block_count", 1), ("qwen2.context_length", 32), ("qwen2.vocab_size", 10),
    ]

    func testMissingTensorIsNamed() throws {
        let gguf = try file([("general.architecture", "qwen2")], tinyQwen, tensors: [("token_embd.weight", [8, 10])])
        XCTAssertThrowsError(try GGUFModelImport.load(gguf)) { error in
            XCTAssertEqual(error as? GGUFImportError,
                           .missingTensor(file: gguf.path, tensor: "blk.0.attn_norm.weight", huggingFaceName: "model.layers.0.input_layernorm.weight"))
        }
    }

    func testShapeMismatchIsNamed() throws {
        let gguf = try file([("general.architecture", "qwen2")], tinyQwen, tensors: [("token_embd.weight", [8, 11])])
        XCTAssertThrowsError(try GGUFModelImport.load(gguf)) { error in
            XCTAssertEqual(error as? GGUFImportError,
                           .shapeMismatch(file: gguf.path, tensor: "token_embd.weight", expected: [10, 8], found: [11, 8]))
        }
    }

    /// A complete tiny qwen2 file (zero weights) imports with biases, tied head and config.
    func testTinyQwen2Imports() throws {
        var tensors: [(String, [Int])] = [("token_embd.weight", [8, 10]), ("output_norm.weight", [8])]
        let block: [(String, [Int])] = [
            ("attn_norm.weight", [8]), ("attn_q.weight", [8, 8]), ("attn_q.bias", [8]), ("attn_k.weight", [8, 4]),
            ("attn_k.bias", [4]), ("attn_v.weight", [8, 4]), ("attn_v.bias", [4]), ("attn_output.weight", [8, 8]),
            ("ffn_norm.weight", [8]), ("ffn_gate.weight", [8, 16]), ("ffn_up.weight", [8, 16]), ("ffn_down.weight", [16, 8]),
        ]
        tensors += block.map { ("blk.0." + $0.0, $0.1) }
        let gguf = try file([("general.architecture", "qwen2")], tinyQwen + [("tokenizer.ggml.eos_token_id", 3)], tensors: tensors)
        let (model, config) = try GGUFModelImport.load(gguf)
        XCTAssertEqual(config["model_type"] as? String, "qwen2")
        XCTAssertEqual(config["tie_word_embeddings"] as? Bool, true)
        XCTAssertEqual(config["eos_token_id"] as? Int, 3)
        XCTAssertEqual(config["num_key_value_heads"] as? Int, 1)
        XCTAssertTrue(model.spec.qkvBias)
        XCTAssertNotNil(model.layout.slot("model.layers.0.self_attn.k_proj.bias"))

        // An extra tensor with no slot is refused by name.
        let extra = try file([("general.architecture", "qwen2")], tinyQwen, tensors: tensors + [("rope_freqs.weight", [4])])
        XCTAssertThrowsError(try GGUFModelImport.load(extra)) { error in
            XCTAssertEqual(error as? GGUFImportError, .unexpectedTensor(file: extra.path, tensor: "rope_freqs.weight"))
        }
    }
}
