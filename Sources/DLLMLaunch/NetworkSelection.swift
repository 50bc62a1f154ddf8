import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The network the ranks of a multi-machine job talk over: an interface name
/// (`--network-interface eth1`) or an IPv4 subnet (`--network-subnet 10.0.0.0/24`).
/// It becomes OpenMPI's `btl_tcp_if_include` and `oob_tcp_if_include` (which take either
/// form), and this machine's address on it is what the collector advertises, so ranks on
/// other hosts reach it without name resolution.
public enum NetworkSelection: Sendable, Equatable {
    case interface(String)
    case subnet(address: UInt32, prefix: Int)

    /// The value OpenMPI's `*_if_include` parameters take.
    public var mpiValue: String {
        switch self {
        case let .interface(name): return name
        case let .subnet(address, prefix): return "\(Self.dotted(address))/\(prefix)"
        }
    }

    /// Parses `--network-subnet A.B.C.D/N`.
    public static func subnet(_ text: String) throws -> NetworkSelection {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = parseIPv4(String(parts[0])), let prefix = Int(parts[1]), (0...32).contains(prefix) else {
            throw LaunchError.badOption(name: "--network-subnet", value: text, expected: "an IPv4 subnet such as 10.0.0.0/24")
        }
        return .subnet(address: address & mask(prefix), prefix: prefix)
    }

    /// Parses `--network-interface NAME` (checked against this machine's interfaces by `localAddress`).
    public static func interface(named name: String) throws -> NetworkSelection {
        guard !name.isEmpty, name.count < Int(IFNAMSIZ), !name.contains("/"), !name.contains(" ") else {
            throw LaunchError.badOption(name: "--network-interface", value: name, expected: "a network interface name such as eth0")
        }
        return .interface(name)
    }

    /// This machine's IPv4 address on the selected network (`getifaddrs(3)`), or an error
    /// listing the interfaces that exist.
    public func localAddress() throws -> String {
        var found: String?
        var seen: [String] = []
        for (name, address) in Self.localIPv4Addresses() {
            seen.append("\(name) \(Self.dotted(address))")
            switch self {
            case let .interface(wanted) where name == wanted:
                found = found ?? Self.dotted(address)
            case let .subnet(network, prefix) where address & Self.mask(prefix) == network:
                found = found ?? Self.dotted(address)
            default: break
            }
        }
        guard let found else {
            let option = if case .interface = self { "--network-interface" } else { "--network-subnet" }
            throw LaunchError.badOption(name: option, value: mpiValue,
                                        expected: "an IPv4 network of this machine (it has: \(seen.joined(separator: ", ")))")
        }
        return found
    }

    /// Every (interface, IPv4 address in host order) of this machine.
    static func localIPv4Addresses() -> [(String, UInt32)] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var result: [(String, UInt32)] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            if let socketAddress = entry.pointee.ifa_addr, socketAddress.pointee.sa_family == sa_family_t(AF_INET) {
                let ipv4 = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                result.append((String(cString: entry.pointee.ifa_name), UInt32(bigEndian: ipv4)))
            }
            cursor = entry.pointee.ifa_next
        }
        return result
    }

    static func parseIPv4(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false).map { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 != nil && $0! <= 255 }) else { return nil }
        return octets.reduce(0) { ($0 << 8) | $1! }
    }

    static func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix) }

    static func dotted(_ address: UInt32) -> String {
        [24, 16, 8, 0].map { "\((address >> UInt32($0)) & 0xff)" }.joined(separator: ".")
    }
}
