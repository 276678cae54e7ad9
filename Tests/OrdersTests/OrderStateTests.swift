import Orders
import Testing

@Suite struct OrderStateTests {
    /// An order of 10 lots at 100 brought to `status` by the shortest path of events.
    static func order(in status: OrderStatus) throws -> OrderState {
        let paths: [OrderStatus: [OrderEvent]] = [
            .new: [],
            .accepted: [.accepted],
            .partiallyFilled: [.accepted, .filled(quantity: 1, price: 100)],
            .filled: [.accepted, .filled(quantity: 10, price: 100)],
            .settled: [.accepted, .filled(quantity: 10, price: 100), .settled],
            .rejected: [.rejected(reason: "over the account's limit")],
            .pendingCancel: [.accepted, .cancelRequested],
            .cancelled: [.accepted, .cancelled],
        ]
        var state = OrderState(quantity: 10, price: 100)
        for event in paths[status]! { state = try state.applying(event) }
        #expect(state.status == status)
        return state
    }

    enum Sample: CaseIterable {
        case accepted, rejected, fillOne, fillRest, cancelRequested, cancelled, cancelRefused, replaced, settled, replaceRequested,
            replaceRefused

        func event(for state: OrderState) -> OrderEvent {
            switch self {
            case .accepted: .accepted
            case .rejected: .rejected(reason: "risk unreachable: deadline exceeded")
            case .fillOne: .filled(quantity: 1, price: 100)
            case .fillRest: .filled(quantity: max(1, state.quantity - state.filled), price: 99)
            case .cancelRequested: .cancelRequested
            case .cancelled: .cancelled
            case .cancelRefused: .cancelRefused
            case .replaced: .replaced(quantity: 20, price: 101)
            case .settled: .settled
            case .replaceRequested: .replaceRequested(quantity: 20, price: 101)
            case .replaceRefused: .replaceRefused
            }
        }
    }

    /// The whole table: every status against every kind of event; nil means refused.
    static let table: [OrderStatus: [Sample: OrderStatus]] = [
        .new: [.accepted: .accepted, .rejected: .rejected, .cancelRequested: .cancelled],
        .accepted: [
            .fillOne: .partiallyFilled, .fillRest: .filled, .cancelRequested: .pendingCancel, .cancelled: .cancelled,
            .replaced: .accepted, .replaceRequested: .accepted, .replaceRefused: .accepted,
        ],
        .partiallyFilled: [
            .fillOne: .partiallyFilled, .fillRest: .filled, .cancelRequested: .pendingCancel, .cancelled: .cancelled,
            .replaced: .partiallyFilled, .replaceRequested: .partiallyFilled, .replaceRefused: .partiallyFilled,
        ],
        .filled: [.settled: .settled, .replaceRefused: .filled],
        // A replace asked before the cancel reaches the book before it: its terms still apply.
        .pendingCancel: [
            .fillOne: .pendingCancel, .fillRest: .filled, .cancelled: .cancelled, .cancelRefused: .accepted, .replaced: .pendingCancel,
            .replaceRefused: .pendingCancel,
        ],
        .settled: [:],
        .rejected: [:],
        .cancelled: [:],
    ]

    @Test(arguments: OrderStatus.allCases)
    func everyTransitionIsAllowedOrRefusedAsTheTableSays(status: OrderStatus) throws {
        let state = try Self.order(in: status)
        for sample in Sample.allCases {
            let event = sample.event(for: state)
            if let expected = Self.table[status]![sample] {
                #expect(try state.applying(event).status == expected, "\(status) + \(event)")
            } else {
                #expect(throws: OrderTransitionError.self, "\(status) + \(event) should be refused") { try state.applying(event) }
            }
        }
    }

    @Test func quantitiesFollowTheFills() throws {
        var state = try Self.order(in: .accepted)
        state = try state.applying(.filled(quantity: 4, price: 100))
        state = try state.applying(.filled(quantity: 2, price: 103))
        #expect(state.filled == 6 && state.leaves == 4 && state.filledNotional == 606)
        #expect(throws: OrderTransitionError.self) { try state.applying(.filled(quantity: 5, price: 100)) }  // overfill
        #expect(throws: OrderTransitionError.self) { try state.applying(.replaced(quantity: 6, price: 100)) }
        state = try state.applying(.replaced(quantity: 8, price: nil))
        #expect(state.leaves == 2)
        state = try state.applying(.filled(quantity: 2, price: 100))
        #expect(state.status == .filled && state.leaves == 0)
    }

    @Test func aCancelThatLosesTheRaceReturnsToWorking() throws {
        var state = try Self.order(in: .partiallyFilled).applying(.cancelRequested)
        #expect(state.status == .pendingCancel)
        state = try state.applying(.filled(quantity: 2, price: 100))
        #expect(state.status == .pendingCancel && state.filled == 3)
        state = try state.applying(.cancelRefused)
        #expect(state.status == .partiallyFilled)
    }

    /// A replace risk approved is pending until the book answers: one at a time, dropped by the book's refusal or
    /// by the fill that completes the order, applied by the book's REPLACED.
    @Test func aPendingReplaceIsOneAtATimeUntilTheBookAnswers() throws {
        var state = try Self.order(in: .accepted).applying(.replaceRequested(quantity: 12, price: 99))
        #expect(state.pendingReplace == OrderState.PendingReplace(quantity: 12, price: 99) && state.quantity == 10)
        #expect(throws: OrderTransitionError.self) { try state.applying(.replaceRequested(quantity: 15, price: 99)) }
        state = try state.applying(.filled(quantity: 4, price: 100))
        #expect(state.pendingReplace != nil)
        state = try state.applying(.replaced(quantity: 12, price: 99))
        #expect(state.pendingReplace == nil && state.quantity == 12 && state.price == 99 && state.leaves == 8)
        state = try state.applying(.replaceRequested(quantity: 5, price: 98))  // the next one may go
        #expect(throws: OrderTransitionError.self) { try Self.order(in: .accepted).applying(.replaceRequested(quantity: 0, price: 99)) }
        state = try state.applying(.replaceRefused)
        #expect(state.pendingReplace == nil && state.quantity == 12)
        state = try state.applying(.replaceRequested(quantity: 20, price: 98)).applying(.filled(quantity: 8, price: 99))
        #expect(state.status == .filled && state.pendingReplace == nil)
    }

    /// A fill of Int64.max lots is refused, not added (the sum would trap).
    @Test func hugeFillsAreRefusedNotTrapped() throws {
        let state = try Self.order(in: .partiallyFilled)
        #expect(throws: OrderTransitionError.self) { try state.applying(.filled(quantity: .max, price: 1)) }
        #expect(throws: OrderTransitionError.self) { try state.applying(.filled(quantity: 2, price: .max)) }
    }

    @Test func aRejectionKeepsItsReasonAndIsFinal() throws {
        let state = try Self.order(in: .rejected)
        #expect(state.rejectReason == "over the account's limit" && state.leaves == 0)
        let error = #expect(throws: OrderTransitionError.self) { try state.applying(.accepted) }
        #expect(error?.description.contains("final") == true)
    }
}
