import ArgumentParser
import Foundation
import Protos
import RPC
import ServiceStubs
import Transport

/// `tradewire order …`: the gateway's order API from the command line. Answers print as proto3 JSON; errors as
/// the gRPC status with its details, and exit status 1.
struct OrderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "order", abstract: "Place, cancel, replace, read and watch orders through the gateway.",
        subcommands: [Place.self, Cancel.self, Replace.self, Get.self, List.self, Watch.self])

    /// An order named by its OrderId or its client order id.
    struct Reference: ParsableArguments {
        @Option(help: "The OrderId.") var orderID: String?
        @Option(help: "The client order id it was placed with.") var clientOrderID: String?

        func ref() throws -> Tradewire_V1_OrderRef {
            if let orderID { return Tradewire_V1_OrderRef(orderID: Tradewire_V1_OrderId(value: orderID)) }
            if let clientOrderID { return Tradewire_V1_OrderRef(clientOrderID: clientOrderID) }
            throw ValidationError("name the order with --order-id or --client-order-id")
        }
    }

    struct Place: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Place an order; prints it once its node has committed it.")

        @OptionGroup var client: ClientOptions
        @Option(help: "The instrument, e.g. ACME.") var symbol: String
        @Option(help: "buy or sell.") var side: String
        @Option(help: "How many, e.g. 10.") var quantity: String
        @Option(help: "The limit price at the instrument's scale, e.g. 100.00 (omit for a MARKET order).") var price: String?
        @Option(help: "gtc, ioc or fok (default: gtc for a limit order, ioc for a market order).") var timeInForce: String?
        @Option(help: "Your id for the order: placing it again with the same id places nothing new (default: a new one).") var clientOrderID: String?

        func run() async throws {
            var order = Tradewire_V1_NewOrder(
                clientOrderID: clientOrderID ?? "cli-" + UUID().uuidString.lowercased(), symbol: symbol,
                side: try Names.side(side), type: price == nil ? .market : .limit,
                timeInForce: try Names.timeInForce(timeInForce ?? (price == nil ? "ioc" : "gtc")), quantity: try DecimalText.quantity(quantity))
            if let price { order.price = try DecimalText.price(price) }
            try await gatewayCall(client) { gateway in
                Output.print(try await gateway.placeOrder(Tradewire_V1_PlaceOrderRequest(order: order), options: client.callOptions))
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel an order's open quantity.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var order: Reference

        func run() async throws {
            let request = Tradewire_V1_CancelOrderRequest(order: try order.ref())
            try await gatewayCall(client) { Output.print(try await $0.cancelOrder(request, options: client.callOptions)) }
        }
    }

    struct Replace: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an open order's price or quantity.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var order: Reference
        @Option(help: "The new limit price.") var price: String?
        @Option(help: "The new total quantity.") var quantity: String?

        func run() async throws {
            guard price != nil || quantity != nil else { throw ValidationError("give --price, --quantity or both") }
            var request = Tradewire_V1_ReplaceOrderRequest(order: try order.ref())
            if let price { request.price = try DecimalText.price(price) }
            if let quantity { request.quantity = try DecimalText.quantity(quantity) }
            try await gatewayCall(client) { Output.print(try await $0.replaceOrder(request, options: client.callOptions)) }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read one order.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var order: Reference

        func run() async throws {
            let request = Tradewire_V1_GetOrderRequest(order: try order.ref())
            try await gatewayCall(client) { Output.print(try await $0.getOrder(request, options: client.callOptions)) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the account's orders, newest first.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Only these states, comma-separated (new, accepted, partially_filled, filled, settled, rejected, pending_cancel, cancelled).")
        var status: String?
        @Option(help: "Only this symbol.") var symbol: String?
        @Option(help: "Orders per page (1–1000).") var pageSize: UInt32 = 100
        @Option(help: "The next_page_token of the previous page.") var pageToken: String?

        func run() async throws {
            var request = Tradewire_V1_ListOrdersRequest(symbol: symbol ?? "", pageSize: pageSize, pageToken: pageToken ?? "")
            request.statuses = try (status ?? "").split(separator: ",").map { try Names.orderStatus(String($0)) }
            try await gatewayCall(client) { Output.print(try await $0.listOrders(request, options: client.callOptions)) }
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stream the account's execution reports, one JSON line each.")
        @OptionGroup var client: ClientOptions
        @Flag(help: "From the account's first report (default: from now).") var fromBeginning = false
        @Option(help: "Resume after this report's cursor.") var cursor: String?
        @Option(help: "Stop after this many reports.") var count: Int?

        func run() async throws {
            let request = Tradewire_V1_StreamExecutionsRequest(cursor: cursor ?? "", fromBeginning: fromBeginning)
            try await gatewayCall(client) { gateway in
                try await gateway.streamExecutions(request) { try await Output.printLines($0, count: count) }
            }
        }
    }
}

/// Runs `body` with a gateway client; a failed call prints its status and details and exits 1.
func gatewayCall(_ client: ClientOptions, _ body: (Tradewire_V1_Gateway.Client) async throws -> Void) async throws {
    try await failing {
        try await withChannel(try client.gatewayChannel()) { channel in try await body(Tradewire_V1_Gateway.Client(channel)) }
    }
}

/// A gRPC error as its status and details on standard error, and exit status 1.
func failing(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ValidationError {
        throw error
    } catch {
        let status = RPCError(from: error)
        var lines = ["\(status.code): \(status.message)"]
        if let bad = status.detail(Google_Rpc_BadRequest.self) {
            lines += bad.fieldViolations.map { "  \($0.field): \($0.description_p)" }
        }
        if let retry = status.detail(Google_Rpc_RetryInfo.self), let delay = retry.retryDelay {
            lines.append("  retry after \(delay.seconds) s \(delay.nanos / 1_000_000) ms")
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        throw ExitCode.failure
    }
}

/// Enum values from their short names on the command line.
enum Names {
    static func side(_ text: String) throws -> Tradewire_V1_Side {
        switch text.lowercased() {
        case "buy", "b": .buy
        case "sell", "s": .sell
        default: throw ValidationError("--side \(text) is not buy or sell")
        }
    }

    static func timeInForce(_ text: String) throws -> Tradewire_V1_TimeInForce {
        switch text.lowercased() {
        case "gtc": .gtc
        case "ioc": .ioc
        case "fok": .fok
        default: throw ValidationError("--time-in-force \(text) is not gtc, ioc or fok")
        }
    }

    static func orderStatus(_ text: String) throws -> Tradewire_V1_OrderStatus {
        let wanted = text.lowercased().replacingOccurrences(of: "_", with: "")
        guard let status = Tradewire_V1_OrderStatus.allCases.first(where: { "\($0)".lowercased() == wanted }), status != .unspecified else {
            throw ValidationError("\(text) is not an order state (new, accepted, partially_filled, filled, settled, rejected, pending_cancel, cancelled)")
        }
        return status
    }
}
