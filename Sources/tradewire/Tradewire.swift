import ArgumentParser
import CSystemShims

@main
struct Tradewire: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradewire",
        abstract: "Tradewire: a low-latency order platform on gRPC.",
        version: "0.1.0",
        subcommands: [Local.self, Serve.self, OrderCommand.self, MarketDataClientCommand.self, Health.self, Keys.self, Load.self, Interop.self, BenchCommand.self])

    static func main() async {
        returnLargeBuffersToTheSystem()
        await Self.main(nil)
    }

    /// Buffers of 256 KiB and more (large messages, their copies) are mapped for themselves and unmapped when
    /// freed. By default glibc raises that threshold to the largest block freed so far, after which such buffers
    /// come from its arenas and their memory stays with the process: a gateway that took sixteen 900 KB requests
    /// at once stayed 25–35 MB larger at rest, and did so again at random later bursts. Small allocations (every
    /// order, every event) are unaffected. With jemalloc (the product's allocator, Package.swift) the same bound
    /// comes from its `oversize_threshold`, set in CSystemShims/shims.c; this call then configures an unused glibc.
    private static func returnLargeBuffersToTheSystem() {
        _ = tw_fix_mmap_threshold(256 << 10)
    }
}
