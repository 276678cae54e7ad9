import EventLoop

/// Takes the connections' recordings once a second while measuring: the running total, the timeline, the
/// progress line, and the harness's CPU time.
struct Monitor {
    let measureStart: UInt64
    let measureEnd: UInt64?
    private(set) var total = Tally()
    private(set) var timeline: [TimelinePoint] = []
    /// When measuring ended (the end of the duration, or when a count-limited run's last operation ended).
    private(set) var measuredEnd: UInt64
    private(set) var cpuSeconds = 0.0
    /// The last timeline point's recording, which operations finishing in the drain join.
    private var lastInterval = Tally()

    init(measureStart: UInt64, measureEnd: UInt64?) {
        self.measureStart = measureStart
        self.measureEnd = measureEnd
        measuredEnd = measureStart
    }

    /// Measures until the duration ends or the run stops. `stopsWorkers`: a closed loop's workers stop at the
    /// end; an open loop's dispatchers stop by themselves, after sending every arrival due before it.
    mutating func measure(
        _ connections: [Connection], _ control: RunControl, stopsWorkers: Bool,
        progress: (@Sendable (LoadProgress) -> Void)?
    ) async {
        cpuSeconds = -LoadRun.processCPUSeconds()
        var intervalStart = max(measureStart, Monotonic.now())
        var measuring = true
        while measuring && !control.isStopping {
            var next = intervalStart + 1_000_000_000
            if let measureEnd { next = min(next, measureEnd) }
            await LoadRun.sleep(untilMonotonic: next, unless: control)
            let now = Monotonic.now()
            if let measureEnd, now >= measureEnd {
                measuring = false
                if stopsWorkers { control.stop() }
            }
            guard now > intervalStart else { continue }
            take(connections, at: now, intervalStart: intervalStart)
            progress?(LoadProgress(
                seconds: Double(now - measureStart) / 1e9, operations: total.operations, rate: timeline.last!.rate,
                failures: total.failures, p99: total.latency.totalCount > 0 ? total.latency.valueAtPercentile(99) : 0))
            intervalStart = now
        }
        measuredEnd = min(Monotonic.now(), measureEnd ?? .max)
    }

    /// After the drain: what finished since the last interval (counted in the last interval, which those
    /// operations started in), and the run's CPU time.
    mutating func finish(_ connections: [Connection], countLimited: Bool, lastCompletion: UInt64) {
        cpuSeconds += LoadRun.processCPUSeconds()
        // A run that ended at its count lasted until its last operation ended, not until the monitor noticed.
        if countLimited, lastCompletion > measureStart, lastCompletion < measuredEnd { measuredEnd = lastCompletion }
        var drained = Tally()
        for connection in connections { drained.add(connection.recorder.take()) }
        guard drained.operations > 0 else { return }
        total.add(drained)
        if let last = timeline.popLast() {
            lastInterval.add(drained)
            timeline.append(TimelinePoint(second: last.second, length: last.length, interval: lastInterval))
        } else {
            let end = Double(measuredEnd - measureStart) / 1e9
            timeline.append(TimelinePoint(second: end, length: end, interval: drained))
        }
    }

    /// Adds the connections' recordings since `intervalStart` as one timeline point.
    private mutating func take(_ connections: [Connection], at now: UInt64, intervalStart: UInt64) {
        var interval = Tally()
        for connection in connections { interval.add(connection.recorder.take()) }
        total.add(interval)
        timeline.append(TimelinePoint(
            second: Double(now - measureStart) / 1e9, length: Double(now - intervalStart) / 1e9, interval: interval))
        lastInterval = interval
    }
}
