import DLLMTokenizers
import XCTest

/// Ids that name no token: dropped by default (as `tokenizers` drops them), visible as U+FFFD
/// on request, refused with a located error by `checkIDs`; never a trap.
final class UnknownIDDecodingTests: XCTestCase {
    func testUnknownIdsAreDroppedReplacedOrRefused() throws {
        for tok in [Fixtures.gpt2, Fixtures.llama3Style] {
            let ids = tok.encode("to be", addSpecialTokens: false)
            let beyond = UInt32(tok.vocabSize + 1000)
            let negative = UInt32(bitPattern: -1)
            let mixed = ids + [beyond] + ids + [negative]
            XCTAssertEqual(tok.decode(mixed), "to beto be")
            XCTAssertEqual(tok.decode(mixed, replacingUnknown: true), "to be\u{FFFD}to be\u{FFFD}")
            XCTAssertNoThrow(try tok.checkIDs(ids))
            XCTAssertThrowsError(try tok.checkIDs(mixed)) { error in
                XCTAssertEqual(error as? TokenizerError, .unknownTokenID(id: Int64(beyond), position: ids.count, vocabSize: tok.vocabSize))
            }
            XCTAssertThrowsError(try tok.checkIDs(ids.map(Int64.init) + [-7])) { error in
                XCTAssertTrue("\(error)".contains("token id -7 at position \(ids.count) is negative"), "\(error)")
            }
        }
    }
}
