import ArgumentParser

@main
struct Tradewire: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradewire",
        abstract: "Tradewire: a low-latency order platform on gRPC.",
        version: "0.1.0",
        subcommands: [Local.self, Serve.self, OrderCommand.self, MarketDataClientCommand.self, Health.self, Keys.self, Load.self, Interop.self, Bench.self])
}
