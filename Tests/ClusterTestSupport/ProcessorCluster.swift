import EventLoop
import Foundation
import MarketData
import Cluster
import Protos
import RPC
import Risk
import ServiceStubs
import TestSupport
import Testing
import Transport

/// A risk stand-in that only answers checks: its admin calls answer as ``ScriptedRisk``'s do.
public protocol CheckingRisk: Tradewire_V1_Risk.ServiceProtocol {}

extension CheckingRisk {
    public func setLimits(request: Tradewire_V1_SetLimitsRequest, context: ServerContext) async throws -> Tradewire_V1_Account {
        try await ScriptedRisk().setLimits(request: request, context: context)
    }

    public func setBalance(request: Tradewire_V1_SetBalanceRequest, context: ServerContext) async throws -> Tradewire_V1_Account {
        try await ScriptedRisk().setBalance(request: request, context: context)
    }

    public func getAccount(request: Tradewire_V1_GetAccountRequest, context: ServerContext) async throws -> Tradewire_V1_Account {
        try await ScriptedRisk().getAccount(request: request, context: context)
    }

    public func getPositions(request: Tradewire_V1_GetPositionsRequest, context: ServerContext) async throws -> Tradewire_V1_GetPositionsResponse {
        try await ScriptedRisk().getPositions(request: request, context: context)
    }
}

/// The risk service's Check as the processor tests need it, over a real gRPC server on 127.0.0.1: approves,
/// except quantities above 1,000 lots (MAX_ORDER_QUANTITY) and account "slow", whose checks take longer than
/// the cluster's risk timeout. A MARKET order's protection price is 100.50 for a buy and 99.50 for a sell. (The full risk service is its own component; this exercises the processor's side
/// of the call: its deadline, the reasons it journals, that nothing passes unchecked.)
public struct ScriptedRisk: Tradewire_V1_Risk.ServiceProtocol {
    public init() {}

    public func check(request: Tradewire_V1_RiskCheckRequest, context: ServerContext) async throws -> Tradewire_V1_RiskCheckResponse {
        if request.account == "slow" { try await Task.sleep(for: .seconds(3)) }
        var response = Tradewire_V1_RiskCheckResponse(checkID: request.checkID, approved: true)
        if request.type == .market { response.protectionPrice = Tradewire_V1_Price(units: request.side == .buy ? 10_050 : 9_950, scale: 2) }
        if (request.quantity?.units ?? 0) > 1_000 {
            response.approved = false
            response.reason = .maxOrderQuantity
            response.text = "quantity \(request.quantity?.units ?? 0) is above the account's limit of 1000"
        }
        return response
    }

    public func checkStream(requests: RPCRequestStream<Tradewire_V1_RiskCheckBatch>, responses: RPCResponseWriter<Tradewire_V1_RiskCheckResults>,
                            context: ServerContext) async throws
    {
        try await Self.answer(requests, responses) { request in try await check(request: request, context: context) }
    }

    /// Answers a CheckStream with `check` run on every request at once, each answer sent as soon as it is ready
    /// (so a slow check holds back none of the others).
    public static func answer(
        _ requests: RPCRequestStream<Tradewire_V1_RiskCheckBatch>, _ responses: RPCResponseWriter<Tradewire_V1_RiskCheckResults>,
        check: @escaping @Sendable (Tradewire_V1_RiskCheckRequest) async throws -> Tradewire_V1_RiskCheckResponse
    ) async throws {
        let (answers, answered) = AsyncStream.makeStream(of: Tradewire_V1_RiskCheckResponse.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await answer in answers { try await responses.write(Tradewire_V1_RiskCheckResults(results: [answer])) }
            }
            try await withThrowingTaskGroup(of: Void.self) { checks in
                for try await batch in requests {
                    for request in batch.checks { checks.addTask { answered.yield(try await check(request)) } }
                }
                try await checks.waitForAll()
            }
            answered.finish()
            try await group.waitForAll()
        }
    }

    public func setLimits(request: Tradewire_V1_SetLimitsRequest, context: ServerContext) async throws -> Tradewire_V1_Account {
        throw RPCError(code: .unimplemented, message: "not used by the processor")
    }

    public func setBalance(request: Tradewire_V1_SetBalanceRequest, context: ServerContext) async throws -> Tradewire_V1_Account {
        throw RPCError(code: .unimplemented, message: "not used by the processor")
    }

    public func getAccount(request: Tradewire_V1_GetAccountRequest, context: ServerContext) async throws -> Tradewire_V1_Account {
        throw RPCError(code: .unimplemented, message: "not used by the processor")
    }

    public func getPositions(request: Tradewire_V1_GetPositionsRequest, context: ServerContext) async throws -> Tradewire_V1_GetPositionsResponse {
        throw RPCError(code: .unimplemented, message: "not used by the processor")
    }
}

/// Three `tradewire serve processor` processes on 127.0.0.1 with their journals in a fresh folder, and a client
/// that routes by the ring. Risk is either the scripted server above (processor tests) or, with `services`, the
/// real risk and market-data services in the test process (started before the nodes, so they follow them from
/// their first event).
public final class ProcessorCluster: @unchecked Sendable {
    // @unchecked Sendable: used by one test at a time.
    public let directory: String
    public let configPath: String
    /// The cluster file's text (risk and market data read their settings from it).
    public let text: String
    public let config: ClusterConfig
    /// The scripted risk server (nil with the real services).
    public let risk: Server?
    public private(set) var riskService: RiskServer?
    public private(set) var marketData: MarketDataServer?
    public var processes: [String: Peers.Background] = [:]
    public let client: ClusterClient

    /// The size of the tmpfs the nodes' journals live on, when the test asked for a small disk.
    public let dataSize: String?

    /// - Parameters:
    ///   - extra: more members of the cluster file, each starting with a comma.
    ///   - dataSize: put the data folder on a tmpfs of this size ("1m"), so that a test can fill it (needs root).
    public init(nodes: Int = 3, settlementMilliseconds: Int = 1000, extra: String = "", services: Bool = false,
                dataSize: String? = nil) async throws
    {
        directory = try Self.temporaryDirectory()
        self.dataSize = dataSize
        let riskPort: Int
        var marketData = ""
        if services {
            risk = nil
            riskPort = try Peers.freePort()
            marketData = ", \"marketdata\": \"127.0.0.1:\(try Peers.freePort())\""
        } else {
            let server = try Server(services: [ScriptedRisk()], configuration: .loopback())
            riskPort = try await server.start()[0].port
            risk = server
        }
        let ports = try (0..<nodes).map { _ in try Peers.freePort() }
        let list = ports.enumerated().map { "{\"id\": \"p\($0.offset + 1)\", \"address\": \"127.0.0.1:\($0.element)\"}" }
        text = """
            {"epoch": 2, "nodes": [\(list.joined(separator: ", "))], "risk": "127.0.0.1:\(riskPort)"\(marketData),
             "risk_timeout_ms": 1000, "settlement_ms": \(settlementMilliseconds), "data_dir": "data", "synchronous": "normal"\(extra)}
            """
        configPath = directory + "/cluster.json"
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        if let dataSize {
            guard Peers.system("/bin/mount", ["-t", "tmpfs", "-o", "size=\(dataSize)", "tmpfs", directory + "/data"]) == 0 else {
                throw Peers.Missing(description: "mounting a tmpfs for the data folder needs root (CI and tools/test run as root)")
            }
        }
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
        config = try ClusterConfig.parse(text, path: configPath)
        client = ClusterClient(config: config)
        if services {
            try await startMarketData()
            try await startRisk()
        }
        for node in config.nodes { try await start(node.id) }
    }

    /// Starts (or restarts) the real market-data service on its store.
    public func startMarketData() async throws {
        let server = try MarketDataServer(config: config, settings: try MarketDataSettings.parse(text, path: configPath))
        try await server.start()
        marketData = server
    }

    public func stopMarketData() async {
        await marketData?.shutdown()
        marketData = nil
    }

    /// Starts (or restarts) the real risk service on its store.
    public func startRisk() async throws {
        let server = try await RiskServer(config: config, settings: try RiskSettings.parse(text, path: configPath))
        try await server.start()
        riskService = server
    }

    public func stopRisk() async {
        await riskService?.shutdown()
        riskService = nil
    }

    /// Runs `body` with a fresh cluster and stops every process of it afterwards, whatever happened.
    public static func with(nodes: Int = 3, extra: String = "", services: Bool = false, dataSize: String? = nil,
                            _ body: (ProcessorCluster) async throws -> Void) async throws
    {
        let cluster = try await ProcessorCluster(nodes: nodes, extra: extra, services: services, dataSize: dataSize)
        do {
            try await body(cluster)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    public static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/tradewire-cluster-XXXXXX".utf8CString)
        guard let path = mkdtemp(&template) else { throw Peers.Missing(description: "mkdtemp failed") }
        return String(cString: path)
    }

    /// Starts (or restarts) one node and waits until it listens.
    public func start(_ node: String) async throws {
        let process = try Peers.Background(try Peers.tradewire(), ["serve", "processor", "--config", configPath, "--node", node, "--snapshot-every", "50", "--log-level", "warning"])
        processes[node] = process
        _ = try await process.line(startingWith: "processor \(node) listening")
    }

    public func stop() async {
        for process in processes.values { process.stop() }
        await client.close()
        await risk?.shutdown()
        await stopRisk()
        await stopMarketData()
        if dataSize != nil { _ = Peers.system("/bin/umount", ["-l", directory + "/data"]) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Moves the data folder off its small tmpfs onto ordinary storage (same path), as an operator would after a
    /// disk filled: copies every file out, unmounts, copies them back. The unmount is lazy: a process that another
    /// test spawned while the copy had a file open may hold that descriptor until it exits.
    public func moveDataToHealthyStorage() throws {
        let data = directory + "/data"
        let saved = directory + "/saved"
        try FileManager.default.copyItem(atPath: data, toPath: saved)
        guard Peers.system("/bin/umount", ["-l", data]) == 0 else { throw Peers.Missing(description: "umount \(data) failed") }
        try FileManager.default.removeItem(atPath: data)
        try FileManager.default.moveItem(atPath: saved, toPath: data)
    }

    public func address(_ node: String) -> String { config.node(node)!.address }

    /// A client of one node's Processor service.
    public func processor(_ node: String) throws -> (Tradewire_V1_Processor.Client, Channel) {
        let parts = address(node).split(separator: ":")
        let channel = try Channel(host: String(parts[0]), port: Int(parts[1])!)
        return (Tradewire_V1_Processor.Client(channel), channel)
    }

    // MARK: - Orders

    /// An order id that the ring places on a node other than `symbol`'s book (so fills cross nodes), or on the
    /// same one when `sameNode`.
    public func orderID(_ prefix: String, symbol: String, sameNode: Bool = false) -> String {
        let bookNode = client.owner(of: .book(symbol)).id
        for index in 0... {
            let id = "\(prefix)-\(index)"
            if (client.owner(of: .order(id)).id == bookNode) == sameNode { return id }
        }
        fatalError("unreachable")
    }

    public static func place(_ id: String, account: String = "acct-1", clientOrderID: String? = nil, symbol: String, side: Tradewire_V1_Side,
                      type: Tradewire_V1_OrderType = .limit, timeInForce: Tradewire_V1_TimeInForce = .gtc, price: Int64?,
                      quantity: Int64) -> Tradewire_V1_Command
    {
        var order = Tradewire_V1_NewOrder(clientOrderID: clientOrderID ?? id, symbol: symbol, side: side, type: type, timeInForce: timeInForce)
        if let price { order.price = Tradewire_V1_Price(units: price, scale: 2) }
        order.quantity = Tradewire_V1_Quantity(units: quantity, scale: 0)
        var command = Tradewire_V1_Command(requestID: "req-\(id)")
        command.command = .place(Tradewire_V1_PlaceCommand(orderID: Tradewire_V1_OrderId(value: id), account: account, order: order))
        return command
    }

    public static func cancel(_ id: String, account: String = "acct-1") -> Tradewire_V1_Command {
        var command = Tradewire_V1_Command()
        command.command = .cancel(Tradewire_V1_CancelCommand(orderID: Tradewire_V1_OrderId(value: id), account: account))
        return command
    }

    public static func replace(_ id: String, price: Int64? = nil, quantity: Int64? = nil) -> Tradewire_V1_Command {
        var replace = Tradewire_V1_ReplaceCommand(orderID: Tradewire_V1_OrderId(value: id), account: "acct-1")
        if let price { replace.price = Tradewire_V1_Price(units: price, scale: 2) }
        if let quantity { replace.quantity = Tradewire_V1_Quantity(units: quantity, scale: 0) }
        var command = Tradewire_V1_Command()
        command.command = .replace(replace)
        return command
    }

    /// The order as its owner has it now.
    public func order(_ id: String, account: String = "acct-1") async throws -> Tradewire_V1_Order {
        let (client, channel) = try processor(self.client.owner(of: .order(id)).id)
        defer { channel.close() }
        return try await client.getOrder(Tradewire_V1_ProcessorGetOrderRequest(orderID: Tradewire_V1_OrderId(value: id), account: account))
    }

    /// Waits (up to 15 s) until the order has one of `statuses`; returns it.
    @discardableResult
    public func waitFor(_ id: String, _ statuses: Tradewire_V1_OrderStatus...) async throws -> Tradewire_V1_Order {
        let end = ContinuousClock.now + .seconds(15)
        var last: Tradewire_V1_Order?
        while ContinuousClock.now < end {
            last = try? await order(id)
            if let last, statuses.contains(last.status) { return last }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Peers.Missing(description: "order \(id) did not become \(statuses) within 15 s; it is \(String(describing: last?.status))")
    }

    /// The statuses of an order's reports in its owner's journal, in order.
    public func history(_ id: String) async throws -> [Tradewire_V1_OrderStatus] {
        try await events(client.owner(of: .order(id)).id).compactMap { event in
            guard case .order(let order) = event.event, order.order?.orderID?.value == id else { return nil }
            return order.report?.orderStatus
        }
    }

    /// Every event of `node` from `from` on, up to its head when called.
    public func events(_ node: String, from: UInt64 = 1) async throws -> [Tradewire_V1_Event] {
        let (client, channel) = try processor(node)
        defer { channel.close() }
        return try await client.subscribeEvents(Tradewire_V1_SubscribeEventsRequest(fromSequence: from)) { batches in
            var events: [Tradewire_V1_Event] = []
            for try await batch in batches {
                events += batch.events
                if events.last.map({ $0.sequence >= batch.headSequence }) ?? true { break }
            }
            return events
        }
    }
}

extension Tradewire_V1_Ack {
    public var order: Tradewire_V1_Order? {
        if case .order(let order) = result { order } else { nil }
    }

    public var errorStatus: Google_Rpc_Status? {
        if case .error(let status) = result { status } else { nil }
    }
}

/// Polls `condition` for up to 15 s; false if it never held (the last error it threw, if any, is recorded).
public func waitUntil(_ condition: () async throws -> Bool) async throws -> Bool {
    let end = ContinuousClock.now + .seconds(15)
    var lastError: (any Error)?
    while ContinuousClock.now < end {
        do {
            if try await condition() { return true }
            lastError = nil
        } catch {
            lastError = error
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    if let lastError { Issue.record("the condition last failed with: \(lastError)") }
    return false
}

extension Tradewire_V1_Gateway.Client {
    /// Every order of the client's account, all pages.
    public func allOrders() async throws -> [Tradewire_V1_Order] {
        var orders: [Tradewire_V1_Order] = []
        var token = ""
        repeat {
            let page = try await listOrders(Tradewire_V1_ListOrdersRequest(pageSize: 1000, pageToken: token))
            orders += page.orders
            token = page.nextPageToken
        } while !token.isEmpty
        return orders
    }
}
