@testable import DLLMData
import Foundation
import XCTest

/// How the fetcher finds the programs it runs (the Bible printer it unpacks under a relative `--cache`).
final class CommandRunnerTests: XCTestCase {
    func testRelativePathWithSlashIsRunFromTheWorkingDirectory() throws {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("dllm-runner-\(UUID().uuidString)")
        try fm.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: dir) }
        let script = dir.appendingPathComponent("sub/tool")
        try "#!/bin/sh\necho relative-ok\n".write(to: script, atomically: true, encoding: .utf8)
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        let previous = fm.currentDirectoryPath
        XCTAssertTrue(fm.changeCurrentDirectoryPath(dir.path))
        defer { _ = fm.changeCurrentDirectoryPath(previous) }
        XCTAssertEqual(CommandRunner.find("sub/tool"), "sub/tool")
        XCTAssertNil(CommandRunner.find("sub/missing"))
        let output = try CommandRunner.run("sub/tool", [], purpose: "test", install: "nothing")
        XCTAssertEqual(String(decoding: output, as: UTF8.self), "relative-ok\n")
        XCTAssertEqual(CommandRunner.find("sh").map { $0.hasSuffix("/sh") }, true)
    }
}
