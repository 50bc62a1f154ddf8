import DLLMProcess
import Foundation
import XCTest

/// `ChildProcess.wait(seconds:thenSignal:)`, the hang guard the launch, distributed and
/// telemetry tests share: a child that ends on its own is not signalled; one still running at
/// the deadline gets the signal and is reaped.
final class ChildProcessWaitTests: XCTestCase {
    func testChildThatEndsIsNotSignalled() throws {
        let child = try ChildProcess(arguments: ["/bin/sh", "-c", "exit 3"], environment: ProcessInfo.processInfo.environment)
        let (termination, interrupted) = child.wait(seconds: 60, thenSignal: SIGKILL)
        XCTAssertFalse(interrupted)
        XCTAssertEqual(termination, .exited(3))
    }

    func testChildStillRunningIsSignalledAndReaped() throws {
        let child = try ChildProcess(arguments: ["/bin/sleep", "600"], environment: ProcessInfo.processInfo.environment)
        let (termination, interrupted) = child.wait(seconds: 0.2, thenSignal: SIGINT)
        XCTAssertTrue(interrupted)
        XCTAssertEqual(termination, .signaled(SIGINT))
        XCTAssertNotNil(child.poll(), "the signalled child was reaped")
    }
}
