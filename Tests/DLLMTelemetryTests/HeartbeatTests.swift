import CZMQ
import Foundation
import XCTest
@testable import DLLMTelemetry

/// A publisher's heartbeat thread sends `heartbeat` events on its own, with the last step
/// published, and stops at the rank's exit.
final class HeartbeatTests: XCTestCase {
    func testHeartbeatsFlowBetweenStepsAndStopAtExit() throws {
        let context = ZMQContext()
        let pull = try ZMQSocket(context, type: ZMQ_PULL)
        defer { pull.close() }
        let endpoint = try pull.bind("tcp://127.0.0.1:*")
        let publisher = try TelemetryPublisher(.init(address: endpoint, source: EventSource(runID: "hb", rank: 2, host: "h")))
        publisher.publish(.step(StepMetrics(step: 5, loss: 1)))
        publisher.startHeartbeat(every: 0.05)

        let message = ZMQMessage()
        var validator = EventValidator()
        var received: [ReceivedEvent] = []
        func drain(until deadline: Date, stopWhen done: ([ReceivedEvent]) -> Bool) {
            while Date() < deadline && !done(received) {
                guard pull.waitReadable(milliseconds: 100), pull.receive(message) else { continue }
                if case .success(let accepted) = validator.validate(message.bytes) { received.append(accepted.event) }
            }
        }
        // No step is published while we wait: only the heartbeat thread sends.
        drain(until: Date().addingTimeInterval(30)) { $0.filter { $0.kind == .heartbeat }.count >= 3 }
        let heartbeats = received.filter { $0.kind == .heartbeat }
        XCTAssertGreaterThanOrEqual(heartbeats.count, 3)
        XCTAssertTrue(heartbeats.allSatisfy { $0.step == 5 && $0.rank == 2 }, "\(heartbeats.map(\.step))")

        publisher.publish(.exit(.ok, step: 5))
        drain(until: Date().addingTimeInterval(30)) { $0.last?.kind == .exit }
        XCTAssertEqual(received.last?.kind, .exit)
        let afterExit = received.count
        usleep(300_000)
        drain(until: Date().addingTimeInterval(0.3)) { _ in false }
        XCTAssertEqual(received.count, afterExit, "no heartbeat after the exit event")
        XCTAssertEqual(received.map(\.seq), Array(0..<received.count), "heartbeats take sequence numbers like any event")
        publisher.close()
    }
}
