import ArgumentParser
import Foundation
import Gateway
import JSON
import Cluster

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the gateway's API keys file.", subcommands: [Add.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new API key for an account: its SHA-256 goes into the keys file, the key itself is printed once.")

        @Option(help: "The keys file (created if missing).")
        var file: String

        @Option(help: "The account the key speaks for.")
        var account: String

        @Option(help: "A name for the key (default: the account and a number).")
        var id: String?

        @Option(help: "The key's own orders/s limit (default: the gateway's orders_per_second).")
        var ordersPerSecond: Int?

        func run() throws {
            var keys: [JSONValue] = []
            if FileManager.default.fileExists(atPath: file) {
                _ = try APIKeys.load(path: file)  // Refuses a malformed file before adding to it.
                keys = try JSONValue.parse(try Files.read(file))["keys"]?.arrayValue ?? []
            }
            let (key, digest) = APIKeys.generate()
            var entry: JSONObject = [
                "id": .string(id ?? "\(account)-\(keys.count + 1)"), "account": .string(account), "sha256": .string(digest),
            ]
            if let ordersPerSecond {
                guard ordersPerSecond > 0 else { throw ValidationError("--orders-per-second must be positive") }
                entry["orders_per_second"] = .number(ordersPerSecond)
            }
            keys.append(.object(entry))
            let text = JSONValue.object(["keys": .array(keys)]).text(pretty: true) + "\n"
            try PrivateFile.write(text, to: file)
            print(key)
        }
    }
}
