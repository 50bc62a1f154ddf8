@testable import DLLMLaunch
import Foundation
import XCTest

/// The multi-machine pieces that need no second host: the network selection and what it
/// makes of the mpirun line, accelerate's main_process_ip/port, and the hang watch on a
/// metrics.jsonl written here. Launchers/test-multinode.sh runs them across real hosts.
final class MultiNodeOptionTests: LaunchTestCase {
    func testSubnetAndInterfaceParseAndFindThisMachinesAddress() throws {
        XCTAssertEqual(try NetworkSelection.subnet("10.77.0.9/24").mpiValue, "10.77.0.0/24")
        XCTAssertEqual(try NetworkSelection.subnet("127.0.0.0/8").localAddress(), "127.0.0.1")
        XCTAssertEqual(try NetworkSelection.interface(named: "lo").localAddress(), "127.0.0.1")
        for bad in ["10.77.0.0", "10.77.0/24", "10.77.0.300/24", "10.77.0.0/33", "eth0"] {
            XCTAssertThrowsError(try NetworkSelection.subnet(bad), bad) { error in
                XCTAssertTrue("\(error)".contains("--network-subnet \(bad)"), "\(error)")
            }
        }
        XCTAssertThrowsError(try NetworkSelection.subnet("255.255.255.255/32").localAddress()) { error in
            XCTAssertTrue("\(error)".contains("lo 127.0.0.1"), "the error lists this machine's networks: \(error)")
        }
        XCTAssertThrowsError(try NetworkSelection.interface(named: "no-such-if0").localAddress())
    }

    func testNetworkAndHangTimeoutReachTheMpirunLine() throws {
        let hostfile = work.appendingPathComponent("hosts")
        try "node1 slots=2\nnode2 slots=2 # second\n".write(to: hostfile, atomically: true, encoding: .utf8)
        var options = LaunchOptions(trainingConfig: trainConfig.path)
        options.hostfile = hostfile.path
        options.numProcesses = 4
        options.network = try NetworkSelection.subnet("10.77.0.0/24")
        options.hangTimeout = 30
        let plan = try LaunchPlan.resolve(options, environment: [:], coresPerMachine: 4)
        XCTAssertEqual(plan.numMachines, 2)
        let line = RankStarter.mpirunArguments(mpirun: "mpirun", plan: plan, rank: ["rank"], environment: [:], hostfile: hostfile.path, isRoot: false)
            .joined(separator: " ")
        XCTAssertTrue(line.contains("--mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24"), line)
        XCTAssertTrue(line.contains("--mca oob_tcp_keepalive_time 10 --mca oob_tcp_keepalive_intvl 3 --mca oob_tcp_keepalive_probes 3"), line)
        XCTAssertTrue(line.contains("--map-by ppr:2:node"), line)

        options.hangTimeout = 0
        let off = try LaunchPlan.resolve(options, environment: [:], coresPerMachine: 4)
        XCTAssertFalse(RankStarter.mpirunArguments(mpirun: "mpirun", plan: off, rank: [], environment: [:], hostfile: nil, isRoot: false)
            .contains("oob_tcp_keepalive_time"))
        options.hangTimeout = -1
        XCTAssertThrowsError(try LaunchPlan.resolve(options, environment: [:], coresPerMachine: 4))
    }

    func testMainProcessAddressIsUsedOrExplained() throws {
        var options = LaunchOptions(trainingConfig: trainConfig.path)
        options.mainProcessIP = "10.1.2.3"
        options.mainProcessPort = 29500
        let one = try LaunchPlan.resolve(options, environment: [:], coresPerMachine: 2)
        XCTAssertTrue(one.notes.contains { $0.contains("main_process_ip 10.1.2.3, main_process_port 29500: one machine") }, "\(one.notes)")

        options.numMachines = 2
        options.numProcesses = 4
        options.machineRank = 1
        let other = try LaunchPlan.resolve(options, environment: [:], coresPerMachine: 2)
        XCTAssertTrue(other.notes.contains { $0.contains("the collector listens there") }, "\(other.notes)")
        let command = other.equivalentHostfileCommand()
        XCTAssertTrue(command.contains("10.1.2.3 slots=2") && command.contains("--hostfile hosts.txt --num_processes 4"), command)
        XCTAssertTrue(command.contains("sbatch --nodes=2 --ntasks-per-node=2"), command)

        // Machine 0 without a hostfile stops with the equivalent command, before anything starts.
        options.machineRank = 0
        let zero = try LaunchPlan.resolve(options, environment: [:], coresPerMachine: 2)
        XCTAssertThrowsError(try LaunchCoordinator(plan: zero, say: { _ in }).run()) { error in
            XCTAssertTrue("\(error)".contains("--hostfile hosts.txt"), "\(error)")
        }
    }

    func testHangWatchNamesTheSilentRankAndItsLastStep() throws {
        let file = work.appendingPathComponent("metrics.jsonl")
        try "{\"kind\":\"step\",\"run\":\"old\",\"rank\":0,\"host\":\"a\",\"step\":99}\n".write(to: file, atomically: true, encoding: .utf8)
        let watch = HangWatch(metricsFile: file, runID: "r", timeout: 10)
        let start = Date()
        func append(_ line: String) throws {
            let handle = try FileHandle(forWritingTo: file)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((line + "\n").utf8))
            try handle.close()
        }
        try append("{\"kind\":\"start\",\"run\":\"r\",\"rank\":0,\"host\":\"h1\"}")
        try append("{\"kind\":\"start\",\"run\":\"r\",\"rank\":1,\"host\":\"h2\"}")
        watch.poll(now: start)
        // Before its first step a rank is loading: never a hang.
        XCTAssertEqual(watch.silentRanks(now: start.addingTimeInterval(100)), [])
        try append("{\"kind\":\"step\",\"run\":\"r\",\"rank\":0,\"host\":\"h1\",\"step\":1}")
        try append("{\"kind\":\"step\",\"run\":\"r\",\"rank\":1,\"host\":\"h2\",\"step\":1}")
        try append("{\"kind\":\"step\",\"run\":\"other\",\"rank\":1,\"host\":\"h2\",\"step\":50}")
        watch.poll(now: start.addingTimeInterval(1))
        try append("{\"kind\":\"step\",\"run\":\"r\",\"rank\":0,\"host\":\"h1\",\"step\":2}")
        watch.poll(now: start.addingTimeInterval(6))
        XCTAssertEqual(watch.silentRanks(now: start.addingTimeInterval(10)), [])
        let silent = watch.silentRanks(now: start.addingTimeInterval(12))
        XCTAssertEqual(silent.map(\.rank), [1])
        let text = HangWatch.describe(silent, now: start.addingTimeInterval(12), worldSize: 2).joined(separator: "\n")
        XCTAssertTrue(text.contains("rank 1 on h2: last step 1, silent for 11 s"), text)
        // A rank whose steps are slow (a 5 s pause seen) gets three times that before it counts as hung.
        XCTAssertEqual(watch.bound(for: watch.ranks[0]!), 15)
        XCTAssertEqual(watch.silentRanks(now: start.addingTimeInterval(20)).map(\.rank), [1])
        XCTAssertEqual(watch.silentRanks(now: start.addingTimeInterval(22)).map(\.rank), [0, 1])
        try append("{\"kind\":\"exit\",\"run\":\"r\",\"rank\":1,\"host\":\"h2\",\"step\":2}")
        watch.poll(now: start.addingTimeInterval(23))
        XCTAssertEqual(watch.silentRanks(now: start.addingTimeInterval(40)).map(\.rank), [0], "an exited rank is not hung")
    }

    /// Appends `line` to `file` as the collector would.
    private func append(_ line: String, to file: URL) throws {
        if !FileManager.default.fileExists(atPath: file.path) { FileManager.default.createFile(atPath: file.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: file)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((line + "\n").utf8))
        try handle.close()
    }

    func testARankBusyWithoutStepsButHeartbeatingIsNotHung() throws {
        let file = work.appendingPathComponent("busy.jsonl")
        let watch = HangWatch(metricsFile: file, runID: "r", timeout: 10)
        let start = Date()
        try append(#"{"kind":"step","run":"r","rank":0,"host":"h1","step":3}"#, to: file)
        watch.poll(now: start)
        // A 95 s evaluation: no step, but a heartbeat every 2 s carrying the last step.
        for second in stride(from: 2, through: 95, by: 2) {
            try append(#"{"kind":"heartbeat","run":"r","rank":0,"host":"h1","step":3}"#, to: file)
            watch.poll(now: start.addingTimeInterval(Double(second)))
            XCTAssertEqual(watch.silentRanks(now: start.addingTimeInterval(Double(second) + 1)), [], "at \(second) s")
        }
        XCTAssertEqual(watch.ranks[0]?.lastStep, 3)
        XCTAssertEqual(watch.bound(for: watch.ranks[0]!), 10, "heartbeats keep the bound at the timeout")
    }

    func testARankWhoseHeartbeatsStopIsHungEvenBeforeItsFirstStep() throws {
        let file = work.appendingPathComponent("frozen.jsonl")
        let watch = HangWatch(metricsFile: file, runID: "r", timeout: 10)
        let start = Date()
        try append(#"{"kind":"start","run":"r","rank":0,"host":"h1"}"#, to: file)
        try append(#"{"kind":"start","run":"r","rank":1,"host":"h2"}"#, to: file)
        watch.poll(now: start)
        XCTAssertEqual(watch.silentRanks(now: start.addingTimeInterval(100)), [], "no heartbeat yet: a publisher of version 1")
        try append(#"{"kind":"heartbeat","run":"r","rank":0,"host":"h1"}"#, to: file)
        try append(#"{"kind":"heartbeat","run":"r","rank":1,"host":"h2"}"#, to: file)
        watch.poll(now: start.addingTimeInterval(2))
        // Rank 1 froze (SIGSTOP: its heartbeat thread stops too); rank 0 waits in a collective, heartbeating.
        for second in stride(from: 4, through: 14, by: 2) {
            try append(#"{"kind":"heartbeat","run":"r","rank":0,"host":"h1"}"#, to: file)
            watch.poll(now: start.addingTimeInterval(Double(second)))
        }
        XCTAssertEqual(watch.silentRanks(now: start.addingTimeInterval(11)), [])
        let silent = watch.silentRanks(now: start.addingTimeInterval(14))
        XCTAssertEqual(silent.map(\.rank), [1])
        let text = HangWatch.describe(silent, now: start.addingTimeInterval(14), worldSize: 2).joined(separator: "\n")
        XCTAssertTrue(text.contains("rank 1 on h2: last step none, silent for 12 s"), text)
    }

    func testOpenMPIsLostDaemonNamesTheHost() {
        let output = ["ORTE has lost communication with a remote daemon.", "", "  HNP daemon   : [[50070,0],0] on node mn1",
                      "  Remote daemon: [[50070,0],1] on node mn2", "", "This is usually due to …"]
        XCTAssertEqual(HangWatch.lostHost(in: output), "mn2")
        XCTAssertNil(HangWatch.lostHost(in: ["mpirun noticed that process rank 1 with PID 0 on node mn2 exited on signal 9 (Killed)."]))
    }
}
