import ArgumentParser

@main
struct Tradewire: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradewire",
        abstract: "Tradewire: a low-latency order platform on gRPC.",
        version: "0.1.0",
        subcommands: [Serve.self, Keys.self, Load.self, Interop.self, Bench.self])
}
