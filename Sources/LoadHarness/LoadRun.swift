import EventLoop
import RPC
import Synchronization
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// What the progress line shows, once a second.
public struct LoadProgress: Sendable {
    public let seconds: Double
    public let operations: Int
    /// Operations per second over the last interval.
    public let rate: Double
    public let failures: Int
    /// p99 so far (of the measured part), in nanoseconds.
    public let p99: UInt64
}

/// Runs a ``LoadPlan``: opens its connections, applies its load model, records every operation, and returns
/// the result. Each connection has its own recorder and workers, which prefer the connection's loop, so that a
/// call and its bookkeeping stay on one thread.
public struct LoadRun: Sendable {
    public let plan: LoadPlan
    /// A label for the result ("tradewire", "grpc-go"…).
    public var name: String

    public init(plan: LoadPlan, name: String = "run") {
        precondition(plan.connections > 0 && plan.loops > 0, "a load run needs a connection and a loop")
        self.plan = plan
        self.name = name
    }

    public func run(progress: (@Sendable (LoadProgress) -> Void)? = nil) async throws -> LoadResult {
        let groups = try (0..<min(plan.loops, plan.connections)).map { try EventLoopGroup(loops: 1, name: "load-\($0)") }
        defer { groups.forEach { $0.shutdown() } }
        let connections = try makeConnections(on: groups)
        let start = Monotonic.now()
        let measureStart = start + plan.warmup.nanoseconds
        let control = RunControl(measureStart: measureStart, countLimit: plan.count)
        var monitor = Monitor(measureStart: measureStart, measureEnd: plan.measuredDuration.map { measureStart + $0.nanoseconds })

        await withTaskGroup(of: Bool.self) { group in
            let workers = startWorkers(in: &group, connections, Caller(plan: plan), control, monitor: monitor)
            // Warm-up: operations meant to start before `measureStart` are not recorded.
            if plan.warmup > .zero { await Self.sleep(untilMonotonic: measureStart, unless: control) }
            await monitor.measure(connections, control, stopsWorkers: !plan.model.isOpen, progress: progress)
            await drain(&group, workers: workers, connections, control)
        }
        monitor.finish(connections, countLimited: plan.count != nil, lastCompletion: control.lastCompletion)
        for connection in connections { await connection.channel.shutdown() }
        return LoadResult(
            tally: monitor.total, name: name, plan: plan, measuredSeconds: Double(monitor.measuredEnd - measureStart) / 1e9,
            unsent: control.unsent, abandoned: control.abandoned, timeline: monitor.timeline,
            cpuSeconds: monitor.cpuSeconds, date: Self.isoDate())
    }

    /// The plan's connections, spread over `groups`' loops, each a channel of its own.
    private func makeConnections(on groups: [EventLoopGroup]) throws -> [Connection] {
        var configuration = ChannelConfiguration()
        configuration.connectTimeout = .seconds(5)
        configuration.idleTimeout = nil
        // Windows large enough that a big response never waits for a WINDOW_UPDATE round trip (h2load's are 1 GiB).
        configuration.http2.initialWindowSize = 16 << 20
        configuration.http2.connectionWindowSize = 64 << 20
        return try (0..<plan.connections).map { index in
            let group = groups[index % groups.count]
            return Connection(
                channel: try Channel(addresses: plan.addresses, configuration: configuration, group: group),
                loop: group.loops[0], recorder: Recorder(), index: index)
        }
    }

    /// Starts the closed loop's workers or the open loop's dispatchers, each preferring its connection's loop;
    /// returns how many there are.
    private func startWorkers(
        in group: inout TaskGroup<Bool>, _ connections: [Connection], _ caller: Caller, _ control: RunControl,
        monitor: Monitor
    ) -> Int {
        var workers = 0
        for connection in connections {
            let share = Self.share(of: plan.model, connection: connection.index, connections: plan.connections)
            switch plan.model {
            case .closed:
                for _ in 0..<share.workers {
                    group.addTask(executorPreference: connection.loop) {
                        await closedLoopWorker(connection, caller, control)
                        return false
                    }
                }
                workers += share.workers
            case .open(let open):
                group.addTask(executorPreference: connection.loop) { [measureStart = monitor.measureStart, end = monitor.measureEnd] in
                    await openLoopDispatcher(connection, caller, control, open, share: share, scheduleStart: measureStart, end: end)
                    return false
                }
                workers += 1
            }
        }
        return workers
    }

    /// Lets operations in flight at the end finish (their latency counts); after the grace period they are
    /// abandoned, ended by closing the channels.
    private func drain(_ group: inout TaskGroup<Bool>, workers: Int, _ connections: [Connection], _ control: RunControl) async {
        let grace = plan.drainGrace ?? plan.timeout.map { $0 + .seconds(1) } ?? .seconds(10)
        group.addTask {
            try? await Task.sleep(for: grace)
            return true
        }
        var remaining = workers
        while remaining > 0, let isWatchdog = await group.next() {
            if isWatchdog {
                control.abandonInFlight()
                for connection in connections { connection.channel.close() }
                group.cancelAll()
            } else {
                remaining -= 1
            }
        }
        group.cancelAll()
    }

    // MARK: - Closed loop

    /// One of `concurrency` workers: starts an operation as soon as its last one ended.
    private func closedLoopWorker(_ connection: Connection, _ caller: Caller, _ control: RunControl) async {
        var stream: BidiStream?
        while true {
            let start = Monotonic.now()
            guard control.admit(intendedStart: start) else { break }
            let number = caller.numbersRequests ? control.nextRequestNumber() : 0
            if caller.kind == .bidirectionalStreaming {
                await roundTrip(&stream, connection, caller, control, number: number, intendedStart: start)
            } else {
                let (outcome, sent, received) = await caller.call(on: connection.channel, number: number)
                control.record(outcome, connection.recorder, intendedStart: start, sent: sent, received: received)
                // A call that failed at once (no connection) never suspended: let the loop's other work run, or
                // this worker would keep the loop to itself.
                if case .transportError = outcome { await Task.yield() }
            }
        }
        if let stream { await caller.close(stream) }
    }

    /// One round trip on `stream`, opening it first when needed and dropping it when it failed or is spent.
    private func roundTrip(_ stream: inout BidiStream?, _ connection: Connection, _ caller: Caller,
                           _ control: RunControl, number: Int, intendedStart: UInt64) async
    {
        if stream == nil {
            do throws(RPCError) {
                stream = try await caller.openStream(on: connection.channel, number: number)
            } catch {
                control.record(.transportError(error), connection.recorder, intendedStart: intendedStart, sent: 0, received: 0)
                await Task.yield()  // As after a failed call: it may not have suspended.
                return
            }
        }
        let outcome = await caller.roundTrip(on: stream!, number: number)
        let succeeded = if case .ok = outcome { true } else { false }
        control.record(outcome, connection.recorder, intendedStart: intendedStart, sent: 1, received: succeeded ? 1 : 0)
        if !succeeded {
            stream!.call.cancel()
            stream = nil
        } else if caller.isSpent(stream!) {
            await caller.close(stream!)
            stream = nil
        }
    }

    // MARK: - Open loop

    /// Starts operations at their scheduled times on one connection, each in its own task, at most the
    /// connection's share of `maxInFlight` at once. Counts the scheduled operations that were never sent.
    private func openLoopDispatcher(
        _ connection: Connection, _ caller: Caller, _ control: RunControl, _ open: OpenLoop, share: Share,
        scheduleStart: UInt64, end: UInt64?
    ) async {
        let slots = Slots(share.maxInFlight)
        let idleStreams = IdleStreams()
        var arrivals = Arrivals(open: open, fraction: share.fraction, scheduleStart: scheduleStart, offset: share.offset)
        let lateThreshold = open.lateThreshold.nanoseconds
        await withDiscardingTaskGroup { group in
            while true {
                let intended = arrivals.next
                if let end, intended >= end { break }
                if intended > Monotonic.now() {
                    await Self.sleep(untilMonotonic: intended, on: connection.loop)
                    if control.isStopping { break }
                    continue
                }
                guard control.admit(intendedStart: intended), await slots.acquire() else { break }
                // A slot freed by calls abandoned at the end of the run: the arrivals still owed are never sent.
                if control.isAbandoning { break }
                if Monotonic.now() - intended > lateThreshold && intended >= scheduleStart {
                    connection.recorder.countLateSend()
                }
                arrivals.advance()
                let number = caller.numbersRequests ? control.nextRequestNumber() : 0
                group.addTask(executorPreference: connection.loop) {
                    defer { slots.release() }
                    if caller.kind == .bidirectionalStreaming {
                        var stream = idleStreams.take()
                        await roundTrip(&stream, connection, caller, control, number: number, intendedStart: intended)
                        if let stream { idleStreams.put(stream) }
                    } else {
                        let (outcome, sent, received) = await caller.call(on: connection.channel, number: number)
                        control.record(outcome, connection.recorder, intendedStart: intended, sent: sent, received: received)
                    }
                }
            }
        }
        while let stream = idleStreams.take() { await caller.close(stream) }
        // Arrivals that came due but were never sent: the run ended while every slot was busy.
        var unsent = 0
        let stoppedAt = min(Monotonic.now(), end ?? .max)
        while arrivals.next < stoppedAt && arrivals.next >= scheduleStart {
            unsent += 1
            arrivals.advance()
        }
        control.countUnsent(unsent)
    }

    // MARK: - Helpers

    struct Share: Sendable {
        var workers = 0
        var fraction = 1.0
        var offset = 0.0
        var maxInFlight = 1
    }

    /// Connection `index`'s part of the load: workers for a closed loop; rate fraction, phase and in-flight
    /// bound for an open one.
    static func share(of model: LoadModel, connection index: Int, connections: Int) -> Share {
        switch model {
        case .closed(let concurrency):
            return Share(workers: concurrency / connections + (index < concurrency % connections ? 1 : 0))
        case .open(let open):
            return Share(
                fraction: 1 / Double(connections), offset: Double(index) / Double(connections),
                maxInFlight: max(1, open.maxInFlight / connections))
        }
    }

    static func totalWorkers(_ plan: LoadPlan) -> Int {
        (0..<plan.connections).reduce(0) { $0 + share(of: plan.model, connection: $1, connections: plan.connections).workers }
    }

    /// Sleeps until `deadline` (Monotonic ns), waking early when the run stops.
    static func sleep(untilMonotonic deadline: UInt64, unless control: RunControl) async {
        while !control.isStopping {
            let now = Monotonic.now()
            guard deadline > now else { return }
            try? await Task.sleep(for: .nanoseconds(min(deadline - now, 100_000_000)))
        }
    }

    /// Sleeps until `deadline` (at most 100 ms) on `loop`'s timer, which is finer than Task.sleep's.
    static func sleep(untilMonotonic deadline: UInt64, on loop: EventLoop) async {
        await loop.sleep(until: min(deadline, Monotonic.now() + 100_000_000))
    }

    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    static func isoDate() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { strftime($0.baseAddress, $0.count, "%Y-%m-%dT%H:%M:%SZ", &parts) }
        }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
