import ArgumentParser
import Bench
import EventLoop
import JSON
import LoadHarness
import ProtoCodec
import ProtoJSON
import Protos
import RPC
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// `tradewire load`: load on any gRPC method of any h2c server, with latency measured honestly.
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load-test a gRPC method: closed or open loop, HdrHistogram latency, JSON/CSV/HTML reports.",
        subcommands: [Run.self, Report.self], defaultSubcommand: Run.self)

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run load against a server.",
            discussion: """
                Closed loop (--concurrency N): N operations always in flight; latency excludes the time a stalled \
                server kept requests from being sent. Open loop (--rate R, --rate-steps, --ramp): operations start \
                on schedule whatever the server does, and latency runs from each one's intended start.
                Templates in --data and --metadata values: {{counter}}, {{random}}, {{uuid}}, {{unix_nanos}}.
                """)

        @Option(help: "Server host.") var host = "127.0.0.1"
        @Option(help: "Server port.") var port: Int
        @Option(help: "Method: /package.Service/Method (or package.Service.Method).") var call: String?
        @Option(help: "A built-in traffic mix instead of --call: order-flow (places, cancels and replaces on the gateway; send the API key with -H).")
        var scenario: String?
        @Option(help: "order-flow: symbols and their mid prices, in units of the price scale.") var symbols = "ACME:10000"
        @Option(help: "order-flow: the symbols' price scale.") var priceScale: UInt32 = 2
        @Option(help: "order-flow: the symbols' tick size, in units.") var tick: Int64 = 1
        @Option(help: "order-flow: orders are priced from this many ticks short of the mid to as many through it.") var spread: Int64 = 2
        @Option(help: "order-flow: the symbols' lot size; orders are 1–3 lots.") var lot: Int64 = 1
        @Option(help: "Call kind: unary, client-streaming, server-streaming, bidi (default: from the known protos, else unary).")
        var kind: String?
        @Option(help: "The request as proto3 JSON (methods the project's protos define); may hold templates.")
        var data: String?
        @Option(help: "A file holding the request as proto3 JSON.") var dataFile: String?
        @Option(help: "A file holding the serialized request (any method, known or not).") var binaryFile: String?
        @Option(name: [.customShort("H"), .long], help: "Request metadata \"key: value\" (repeatable; may hold templates).")
        var metadata: [String] = []

        @Option(help: "Closed loop: operations in flight.") var concurrency: Int?
        @Option(help: "Open loop: operations per second.") var rate: Double?
        @Option(help: "Open loop: rate steps, e.g. \"1000:10s,2000:10s\".") var rateSteps: String?
        @Option(help: "Open loop: a linear ramp, e.g. \"1000:5000:30s\".") var ramp: String?
        @Option(help: "Open loop arrivals: fixed or poisson.") var arrivals = "fixed"
        @Option(help: "Open loop: operations in flight at most.") var maxInFlight = 10_000
        @Option(help: "Open loop: a send later than this is counted late.") var lateThreshold = "1ms"

        @Option(help: "TCP connections.") var connections = 1
        @Option(help: "Event-loop threads for the connections.") var loops = 1
        @Option(help: "Measured time, e.g. 10s (default: the rate schedule's length, else 10s).") var duration: String?
        @Option(help: "Operations to measure (stops at this count or the duration, whichever first).") var count: Int?
        @Option(help: "Warm-up before measuring (not counted).") var warmup = "1s"
        @Option(help: "Per-call deadline (0: none).") var timeout = "20s"
        @Option(help: "Client streaming: requests per call. Bidi: round trips per stream (0: one stream for the run).")
        var streamMessages = 10
        @Flag(help: "Compress requests with gzip.") var gzip = false

        @Option(help: "A label for this run in reports.") var name = "run"
        @Option(help: "Write the result as JSON (ghz's field names) here.") var json: String?
        @Option(help: "Write the per-second timeline as CSV here.") var csv: String?
        @Option(help: "Write an HTML report here.") var html: String?
        @Option(help: "Earlier results (JSON) to overlay in the HTML report (repeatable).") var compare: [String] = []
        @Flag(help: "Before the run, make one call with the first request and print its first response as JSON (methods the project's protos define).")
        var showResponse = false

        func run() async throws {
            let catalog = ProtoCatalog.protos
            let flow = try orderFlow()
            guard let call = call ?? flow.map({ _ in OrderFlow.place.path }) else { throw ValidationError("give --call or --scenario") }
            let known = catalog.method(named: call)
            let method = try Self.methodDescriptor(known?.path ?? call)
            let kind = try kind.map(Self.parseKind) ?? known.map(Self.kind(of:)) ?? .unary
            let requests = try flow?.source ?? requestSource(known, catalog: catalog)
            var plan = LoadPlan(
                addresses: try SocketAddress.resolve(host: host, port: port), method: method, kind: kind,
                requests: requests, model: try model())
            plan.metadata = try metadata.map(Self.parseMetadata)
            plan.connections = connections
            plan.loops = loops
            // Without --duration: an open loop runs its schedule; a closed one runs to --count, else for 10 s.
            plan.duration = try duration.map(Self.parseDuration) ?? (plan.model.isOpen || count != nil ? nil : .seconds(10))
            plan.count = count
            plan.warmup = try Self.parseDuration(warmup)
            let deadline = try Self.parseDuration(timeout)
            plan.timeout = deadline == .zero ? nil : deadline
            plan.streamMessages = streamMessages
            plan.compression = gzip ? .gzip : .identity
            if showResponse { try await Self.printFirstResponse(plan: plan, output: known?.output, catalog: catalog) }

            let earlier = try compare.map { path in try LoadResult(json: try JSONValue.parse(try Files.read(path))) }
            let interactive = isatty(STDERR_FILENO) != 0
            let result = try await LoadRun(plan: plan, name: name).run { progress in
                guard interactive else { return }
                let line = "\r\(LoadResult.format(progress.seconds, digits: 0)) s  \(progress.operations) ops  "
                    + "\(Int(progress.rate))/s  errors \(progress.failures)  p99 \(LoadResult.format(nanoseconds: progress.p99))   "
                Files.writeStandardError(line)
            }
            if interactive { Files.writeStandardError("\r\u{1B}[K") }
            print(result.summary())
            if let json { try Files.write(result.json().text(pretty: true) + "\n", to: json) }
            if let csv { try Files.write(result.csv(), to: csv) }
            if let html { try Files.write(HTMLReport.render(earlier + [result]), to: html) }
        }

        /// One call with the run's first request (and metadata), before the run: its first response as JSON, or
        /// the status it ended with.
        static func printFirstResponse(plan: LoadPlan, output: (any ProtoMessage.Type)?, catalog: ProtoCatalog) async throws {
            guard let output else { throw ValidationError("--show-response needs a method of the project's protos") }
            let channel = try Channel(addresses: plan.addresses)
            var metadata = Metadata()
            for (name, value) in plan.metadata { metadata.add(name, value.render(counter: 0)) }
            let text: String
            do throws(RPCError) {
                let call = try await channel.startCall(method: plan.method, metadata: metadata, options: CallOptions(timeout: .seconds(10)))
                let request: [UInt8]
                do { request = try plan.requests.request(0) } catch { throw RPCError(code: .invalidArgument, message: "request 0: \(error)") }
                try await call.send(framed: MessageFramer.frame(serialized: request, compression: .identity))
                if plan.kind != .bidirectionalStreaming { call.closeRequest() }
                if let response = try await call.receive() {
                    do {
                        text = "first response: " + (try ProtoJSON(catalog: catalog).decode(response, as: output).text(pretty: true))
                    } catch {
                        text = "first response: \(response.count) bytes that do not decode as \(output.protoMessageName): \(error)"
                    }
                } else {
                    text = "first response: none (the call ended with OK and no message)"
                }
                call.cancel()
            } catch {
                text = "first response: the call failed: \(error)"
            }
            await channel.shutdown()
            print(text)
        }

        private func orderFlow() throws -> OrderFlow? {
            guard let scenario else { return nil }
            guard scenario == "order-flow" else { throw ValidationError("--scenario: \"\(scenario)\" is not a scenario (order-flow)") }
            guard call == nil, data == nil, dataFile == nil, binaryFile == nil else {
                throw ValidationError("--scenario makes its own calls: leave out --call, --data, --data-file and --binary-file")
            }
            guard tick > 0, lot > 0, spread >= 0 else { throw ValidationError("--tick and --lot must be positive, --spread not negative") }
            var generator = SystemRandomNumberGenerator()
            let markets: [OrderFlow.Market]
            do { markets = try OrderFlow.markets(symbols) } catch { throw ValidationError(error.description) }
            return OrderFlow(markets: markets, priceScale: priceScale, tick: tick, spread: spread, lot: lot,
                             run: String(UInt32.random(in: 0...UInt32.max, using: &generator), radix: 36))
        }

        private func requestSource(_ known: ProtoCatalog.Method?, catalog: ProtoCatalog) throws -> RequestSource {
            if let binaryFile { return .serialized(try Files.readBytes(binaryFile)) }
            let text = try data ?? dataFile.map(Files.read) ?? "{}"
            guard let known else {
                throw ValidationError("\(call ?? "") is not a method of the project's protos: give the request with --binary-file")
            }
            let codec = ProtoJSON(catalog: catalog)
            let template = try Template(text)
            // Check the JSON once, so that a mistake is reported before the run rather than per request.
            let first = try codec.encode(try JSONValue.parse(template.render(counter: 0)), as: known.input)
            if template.isConstant { return .serialized(first) }
            return .generated { number in
                try codec.encode(try JSONValue.parse(template.render(counter: number)), as: known.input)
            }
        }

        private func model() throws -> LoadModel {
            var segments: [RateSchedule.Segment] = []
            if let rateSteps {
                for step in rateSteps.split(separator: ",") {
                    let parts = step.split(separator: ":")
                    guard parts.count == 2, let rate = Double(parts[0]) else {
                        throw ValidationError("--rate-steps: \"\(step)\" is not RATE:DURATION")
                    }
                    segments.append(.constant(rate: rate, for: try Self.parseDuration(String(parts[1]))))
                }
            }
            if let ramp {
                let parts = ramp.split(separator: ":")
                guard parts.count == 3, let from = Double(parts[0]), let to = Double(parts[1]) else {
                    throw ValidationError("--ramp: \"\(ramp)\" is not FROM:TO:DURATION")
                }
                segments.append(.ramp(from: from, to: to, over: try Self.parseDuration(String(parts[2]))))
            }
            if let rate {
                segments.append(.constant(rate: rate, for: try duration.map(Self.parseDuration) ?? .seconds(10)))
            }
            if segments.isEmpty { return .closed(concurrency: concurrency ?? 16) }
            guard concurrency == nil else { throw ValidationError("--concurrency is a closed loop; --rate an open one: pick one") }
            guard let arrivals = OpenLoop.Arrivals(rawValue: arrivals) else {
                throw ValidationError("--arrivals must be fixed or poisson")
            }
            return .open(OpenLoop(
                schedule: RateSchedule(segments), arrivals: arrivals, maxInFlight: maxInFlight,
                lateThreshold: try Self.parseDuration(lateThreshold)))
        }

        static func methodDescriptor(_ name: String) throws -> MethodDescriptor {
            var path = name.hasPrefix("/") ? String(name.dropFirst()) : name
            if !path.contains("/"), let dot = path.lastIndex(of: ".") { path.replaceSubrange(dot...dot, with: "/") }
            let parts = path.split(separator: "/")
            guard parts.count == 2 else { throw ValidationError("--call: \"\(name)\" is not /package.Service/Method") }
            return MethodDescriptor(service: String(parts[0]), method: String(parts[1]))
        }

        static func kind(of method: ProtoCatalog.Method) -> RPCKind {
            switch (method.clientStreaming, method.serverStreaming) {
            case (false, false): .unary
            case (true, false): .clientStreaming
            case (false, true): .serverStreaming
            case (true, true): .bidirectionalStreaming
            }
        }

        static func parseKind(_ text: String) throws -> RPCKind {
            for kind in [RPCKind.unary, .clientStreaming, .serverStreaming, .bidirectionalStreaming] where kind.name == text {
                return kind
            }
            throw ValidationError("--kind must be unary, client-streaming, server-streaming or bidi")
        }

        static func parseMetadata(_ text: String) throws -> (name: String, value: Template) {
            guard let colon = text.firstIndex(of: ":") else { throw ValidationError("--metadata: \"\(text)\" is not \"key: value\"") }
            let value = text[text.index(after: colon)...].drop { $0 == " " }
            return (String(text[..<colon]).lowercased(), try Template(String(value)))
        }

        /// "10s", "250ms", "2m", "1.5s", "100us"; a bare number is seconds.
        static func parseDuration(_ text: String) throws -> Duration {
            let units: [(String, Double)] = [("ms", 1e-3), ("us", 1e-6), ("µs", 1e-6), ("ns", 1e-9), ("s", 1), ("m", 60), ("h", 3600)]
            for (suffix, scale) in units where text.hasSuffix(suffix) {
                if let value = Double(text.dropLast(suffix.count)), value >= 0 { return .nanoseconds(Int64(value * scale * 1e9)) }
            }
            if let value = Double(text), value >= 0 { return .nanoseconds(Int64(value * 1e9)) }
            throw ValidationError("\"\(text)\" is not a duration (e.g. 10s, 250ms)")
        }
    }

    /// Overlays earlier runs' JSON results in one HTML report.
    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Draw an HTML report from results written with --json.")

        @Argument(help: "Result files (JSON), drawn in this order.") var results: [String]
        @Option(help: "The HTML file to write.") var html: String
        @Option(help: "The report's title.") var title = "Tradewire load report"

        func run() async throws {
            let loaded = try results.map { path in try LoadResult(json: try JSONValue.parse(try Files.read(path))) }
            try Files.write(HTMLReport.render(loaded, title: title), to: html)
        }
    }
}
