import CBLAS
import CMPI
import CZMQ
import XCTest

/// The three C modules import, link and answer: OpenBLAS computes, ZeroMQ reports its
/// version and round-trips a message, MPI reports its library version without `MPI_Init`
/// (the real collectives are exercised under `mpirun` by the distributed tests).
final class SystemLibrariesTests: XCTestCase {
    func testOpenBLASComputesASmallProduct() {
        // (2x3) · (3x2) = (2x2), row-major.
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        let b: [Float] = [7, 8, 9, 10, 11, 12]
        var c = [Float](repeating: 0, count: 4)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1, a, 3, b, 2, 0, &c, 2)
        XCTAssertEqual(c, [58, 64, 139, 154])
    }

    func testZeroMQRoundTripsOnInproc() throws {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        XCTAssertGreaterThanOrEqual(major, 4)
        let context = zmq_ctx_new()
        defer { zmq_ctx_term(context) }
        let pull = zmq_socket(context, ZMQ_PULL)
        let push = zmq_socket(context, ZMQ_PUSH)
        XCTAssertEqual(zmq_bind(pull, "inproc://system-test"), 0)
        XCTAssertEqual(zmq_connect(push, "inproc://system-test"), 0)
        let message = Array("hello".utf8)
        XCTAssertEqual(zmq_send(push, message, message.count, 0), Int32(message.count))
        var received = [UInt8](repeating: 0, count: 16)
        let n = zmq_recv(pull, &received, received.count, 0)
        XCTAssertEqual(Array(received.prefix(Int(n))), message)
        var linger: Int32 = 0
        zmq_setsockopt(push, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        zmq_close(push)
        zmq_close(pull)
    }

    func testMPIHandlesAreImportable() {
        var version = [CChar](repeating: 0, count: Int(MPI_MAX_LIBRARY_VERSION_STRING))
        var length: Int32 = 0
        XCTAssertEqual(MPI_Get_library_version(&version, &length), dllm_mpi_success())
        XCTAssertTrue(String(cString: version).contains("Open MPI"))
        var initialized: Int32 = 1
        XCTAssertEqual(MPI_Initialized(&initialized), dllm_mpi_success())
        XCTAssertEqual(initialized, 0)
    }
}
