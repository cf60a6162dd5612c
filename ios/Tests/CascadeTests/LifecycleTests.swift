// The Swift counterpart of the Kotlin tests in android/cascade/src/test/kotlin: the whole life
// of a receivable certificate through the generated Swift API on an embedded solo chain, the
// listener, a Swift HostSigner, and the errors a user sees for bad input.
//
// Needs macOS with Xcode: build the XCFramework and the bindings first
// (ios/scripts/build-xcframework.sh), then
//   xcodebuild test -scheme CascadeFFI -destination 'platform=iOS Simulator,name=iPhone 16'
// The development machines have no Swift toolchain, so these tests were written against the
// generated Swift (checked there with uniffi-bindgen) but have not been compiled or run.
import CascadeFFI
import CryptoKit
import XCTest

/// The BIP-39 test phrase (all-zero entropy); every participant is one index of it.
let testPhrase =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
let cny = "CNY"
let genesisDay = "2025-01-06"

/// An embedded single-validator chain with the participants of a supply chain, one wallet
/// each. Objects are released with the chain (Swift frees them on their last reference).
final class TestChain {
    let keys: [String: KeyPair]
    let node: SoloNode
    private var wallets: [String: Wallet] = [:]

    /// Participant name → (index of the test phrase, roles).
    static let cast: [(String, UInt32, [Role])] = [
        ("operator", 0, [.`operator`]),
        ("core", 1, [.obligor]),
        ("tier1", 2, [.supplier]),
        ("tier2", 3, [.supplier]),
        ("tier3", 4, [.supplier]),
        ("bank", 5, [.financier]),
    ]

    init() throws {
        var keys: [String: KeyPair] = [:]
        var participants: [GenesisParticipant] = []
        for (name, index, roles) in TestChain.cast {
            let key = try KeyPair.fromMnemonic(phrase: testPhrase, passphrase: "", index: index)
            keys[name] = key
            participants.append(
                GenesisParticipant(publicKey: key.publicKey(), roles: roles, legalId: "legal-id-of-\(name)"))
        }
        self.keys = keys
        node = try SoloNode(
            config: SoloConfig(
                chainId: "cascade-swift-test", genesisDay: genesisDay,
                participants: participants, dataDir: nil))
    }

    func key(_ name: String) -> KeyPair { keys[name]! }

    func address(_ name: String) -> String { key(name).address() }

    /// The wallet of participant `name`, made (and synced once) on first use.
    func wallet(_ name: String) async throws -> Wallet {
        if let w = wallets[name] { return w }
        let w = try Wallet.solo(node: node, key: key(name), cachePath: nil)
        _ = try await w.refresh()
        wallets[name] = w
        return w
    }

    /// Commits the mempool in a block, refreshes `wallet` and checks it reports `tx`
    /// confirmed at that height. Returns the refresh's events.
    @discardableResult
    func commit(_ wallet: Wallet, _ tx: String, file: StaticString = #filePath, line: UInt = #line)
        async throws -> [WalletEvent]
    {
        XCTAssertEqual(tx.count, 64, "a transaction hash is 64 hex digits", file: file, line: line)
        XCTAssertEqual(try wallet.txState(tx: tx), .pending, file: file, line: line)
        let height = try node.produceBlock()
        let events = try await wallet.refresh()
        let confirmed = events.contains { event in
            if case .confirmed(let hash, let h) = event { return hash == tx && h == height }
            return false
        }
        XCTAssertTrue(confirmed, "no Confirmed(\(tx), \(height)) in \(events)", file: file, line: line)
        XCTAssertEqual(try wallet.txState(tx: tx), .committed(height: height), file: file, line: line)
        return events
    }
}

/// Days between two ISO dates (UTC).
func daysBetween(_ from: String, _ to: String) -> Int {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd"
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return calendar.dateComponents([.day], from: f.date(from: from)!, to: f.date(from: to)!).day!
}

/// The ISO date `days` after `day`.
func plusDays(_ day: String, _ days: Int) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd"
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return f.string(from: calendar.date(byAdding: .day, value: days, to: f.date(from: day)!)!)
}

/// ACT/360 discount interest, rounded half-up (docs/pricing.md), computed independently.
/// (face × rate in millionths × days stays far below 2^64 for the amounts used here.)
func act360Interest(face: UInt64, rateBps: UInt32, days: Int) -> UInt64 {
    let n = face * UInt64(rateBps) * 100 * UInt64(days)
    let d: UInt64 = 1_000_000 * 360
    return (n + d / 2) / d
}

func offersReceived(_ events: [WalletEvent]) -> [(String, UInt64)] {
    events.compactMap { event in
        if case .offerReceived(let piece, let amount) = event { return (piece, amount) }
        return nil
    }
}

final class LifecycleTests: XCTestCase {
    let face: UInt64 = 1_000_000_00
    let toTier2: UInt64 = 400_000_00
    let toTier3: UInt64 = 150_000_00
    let financed: UInt64 = 100_000_00
    let rateBps: UInt32 = 450
    let tenorDays = 90

    func testIssueSplitDownThreeTiersFinanceAndSettle() async throws {
        let chain = try TestChain()
        let core = try await chain.wallet("core")
        let tier1 = try await chain.wallet("tier1")
        let tier2 = try await chain.wallet("tier2")
        let tier3 = try await chain.wallet("tier3")
        let bank = try await chain.wallet("bank")
        let (coreA, t1A, t2A, t3A, bankA) = (
            chain.address("core"), chain.address("tier1"), chain.address("tier2"),
            chain.address("tier3"), chain.address("bank")
        )

        // 0. Credit line and invoice.
        try await chain.commit(bank, try await bank.setCreditLine(obligor: coreA, currency: cny, limit: 10_000_000_00))
        try await chain.commit(
            core,
            try await core.anchorDocument(reference: "INV-2025-0001", amount: face, currency: cny, buyer: coreA, seller: t1A))

        // 1. Issue to tier 1, maturing in 90 days.
        let maturity = plusDays(try chain.node.today(), tenorDays)
        try await chain.commit(
            core,
            try await core.issue(
                to: t1A, amount: face, currency: cny, maturity: maturity,
                documentReference: "INV-2025-0001", creditGrantor: bankA))
        let issued = try XCTUnwrap(try core.view()?.offersOut.first)
        XCTAssertEqual(issued.amount, face)
        XCTAssertEqual(issued.holder, t1A)
        XCTAssertEqual(issued.tier, 1)
        XCTAssertEqual(issued.maturity, maturity)
        XCTAssertNil(issued.parent)
        guard case .pending(let sender, let kind, _) = issued.state else {
            return XCTFail("the issued piece is pending, not \(issued.state)")
        }
        XCTAssertEqual(sender, coreA)
        XCTAssertEqual(kind, .issue)

        let received = offersReceived(try await tier1.refresh())
        XCTAssertEqual(received.map { $0.0 }, [issued.id])
        XCTAssertEqual(received.map { $0.1 }, [face])

        // 2. Tier 1 accepts.
        let acceptEvents = try await chain.commit(tier1, try await tier1.accept(piece: issued.id))
        XCTAssertTrue(acceptEvents.contains(.holdingAdded(piece: issued.id, amount: face)), "\(acceptEvents)")
        let root = issued.root
        let p1 = try XCTUnwrap(try tier1.view()?.holdings.first)
        XCTAssertEqual(p1.id, issued.id)
        XCTAssertEqual(p1.state, .active)

        // 3. Tier 1 splits 400,000.00 off to tier 2 and keeps the change.
        try await chain.commit(tier1, try await tier1.transfer(piece: p1.id, outputs: [TransferOutput(to: t2A, amount: toTier2)]))
        let change = try XCTUnwrap(try tier1.view()?.holdings.first)
        XCTAssertEqual(change.amount, face - toTier2)
        XCTAssertEqual(change.parent, p1.id)
        let toT2 = try XCTUnwrap(offersReceived(try await tier2.refresh()).first)
        XCTAssertEqual(toT2.1, toTier2)
        try await chain.commit(tier2, try await tier2.accept(piece: toT2.0))
        let p2 = try XCTUnwrap(try tier2.view()?.holdings.first)
        XCTAssertEqual(p2.tier, 2)
        XCTAssertEqual(p2.root, root)

        // 4. Tier 2 passes 150,000.00 on to tier 3.
        try await chain.commit(tier2, try await tier2.transfer(piece: p2.id, outputs: [TransferOutput(to: t3A, amount: toTier3)]))
        let toT3 = try XCTUnwrap(offersReceived(try await tier3.refresh()).first)
        try await chain.commit(tier3, try await tier3.accept(piece: toT3.0))
        let p3 = try XCTUnwrap(try tier3.view()?.holdings.first)
        XCTAssertEqual(p3.amount, toTier3)
        XCTAssertEqual(p3.tier, 3)

        // Conservation before financing.
        var held: UInt64 = 0
        for w in [tier1, tier2, tier3] {
            _ = try await w.refresh()
            held += try XCTUnwrap(try w.view()).holdings.reduce(0) { $0 + $1.amount }
        }
        XCTAssertEqual(held, face)

        // 5. Quote, then request financing of 100,000.00 at 4.50 %.
        let quote = try tier3.quote(piece: p3.id, amount: financed, rateBps: rateBps)
        let days = daysBetween(try XCTUnwrap(try tier3.view()).today, maturity)
        XCTAssertEqual(Int(quote.days), days)
        XCTAssertEqual(quote.face, financed)
        XCTAssertEqual(quote.dayBasis, 360)
        XCTAssertEqual(quote.interest, act360Interest(face: financed, rateBps: rateBps, days: days))
        XCTAssertGreaterThan(quote.interest, 0)
        XCTAssertEqual(quote.proceeds, quote.face - quote.interest)

        try await chain.commit(
            tier3, try await tier3.requestFinancing(piece: p3.id, financier: bankA, amount: financed, rateBps: rateBps))
        _ = try await bank.refresh()
        let request = try XCTUnwrap(try bank.view()?.offersIn.first)
        XCTAssertEqual(request.amount, financed)
        guard case .financingRequested(let financier, let askedBps, _) = request.state else {
            return XCTFail("expected a financing request, got \(request.state)")
        }
        XCTAssertEqual(financier, bankA)
        XCTAssertEqual(askedBps, rateBps)

        // 6. The bank accepts; the financed piece is a child of the requested one.
        try await chain.commit(bank, try await bank.acceptFinancing(piece: request.id, paymentReference: "PAY-2025-0001"))
        let financedPiece = try XCTUnwrap(try bank.view()?.holdings.first)
        XCTAssertEqual(financedPiece.parent, request.id)
        XCTAssertEqual(financedPiece.state, .financed)
        let deal = try XCTUnwrap(financedPiece.financing)
        XCTAssertEqual(deal.seller, t3A)
        XCTAssertEqual(deal.paymentReference, "PAY-2025-0001")
        XCTAssertEqual(Int(deal.days), daysBetween(deal.day, maturity))
        XCTAssertEqual(deal.interest, act360Interest(face: financed, rateBps: rateBps, days: Int(deal.days)))
        XCTAssertEqual(deal.proceeds, financed - deal.interest)

        let proven = try await tier1.piece(id: financedPiece.id)
        XCTAssertEqual(proven, financedPiece)
        let absent = try await tier1.piece(id: String(repeating: "00", count: 32))
        XCTAssertNil(absent)

        // 7. Past maturity the core enterprise settles.
        _ = try chain.node.advanceDays(days: UInt32(tenorDays + 1))
        _ = try await core.refresh()
        try await chain.commit(core, try await core.settle(root: root))

        // 8. The lineage: settled pieces add up to the face value, paid to their holders.
        let lineage = try await bank.lineage(root: root)
        XCTAssertEqual(lineage.face, face)
        XCTAssertEqual(lineage.obligor, coreA)
        XCTAssertEqual(lineage.status, .settled)
        XCTAssertFalse(lineage.overdue)
        let settled = lineage.pieces.filter { $0.state == .settled }
        XCTAssertEqual(settled.reduce(0) { $0 + $1.amount }, face)
        var paid: [String: UInt64] = [:]
        for p in settled { paid[p.holder, default: 0] += p.amount }
        XCTAssertEqual(
            paid,
            [t1A: face - toTier2, t2A: toTier2 - toTier3, t3A: toTier3 - financed, bankA: financed])
        XCTAssertTrue(lineage.pieces.filter { $0.state != .settled }.allSatisfy { $0.state == .consumed })
        XCTAssertEqual(lineage.pieces.filter { $0.parent == nil }.map { $0.id }, [issued.id])
    }

    func testFreeFunctions() {
        XCTAssertFalse(libraryVersion().isEmpty)
        let legalId = "91310000MA1FL4XQ3C"
        let expected = SHA256.hash(data: Data(legalId.utf8)).map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(legalIdHash(legalId: legalId), expected)
    }

    /// Where the decimal point goes for each currency (ISO 4217 minor units).
    func testCurrencyMinorDigits() throws {
        XCTAssertEqual(try currencyMinorDigits(currency: "CNY"), 2)
        XCTAssertEqual(try currencyMinorDigits(currency: "JPY"), 0)
        XCTAssertEqual(try currencyMinorDigits(currency: "KWD"), 3)
        XCTAssertThrowsError(try currencyMinorDigits(currency: "yen")) { error in
            guard case WalletError.InvalidInput(let field, _) = error else {
                return XCTFail("expected InvalidInput, got \(error)")
            }
            XCTAssertEqual(field, "currency")
        }
    }

    /// Printing or logging a generated key never shows its recovery phrase (the record's
    /// `description` and `debugDescription` come from the library, which withholds it).
    func testGeneratedKeyDescriptionWithholdsThePhrase() throws {
        let generated = try generateKey()
        let words = Set(generated.phrase.split(separator: " ").map(String.init))
        XCTAssertEqual(generated.phrase.split(separator: " ").count, 24)
        for shown in [String(describing: generated), String(reflecting: generated)] {
            let tokens = Set(shown.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init))
            XCTAssertTrue(tokens.isDisjoint(with: words), shown)
            XCTAssertTrue(shown.contains(generated.key.address()), shown)
        }
    }
}

/// Collects events; the library calls it from a background thread.
final class CollectingListener: WalletListener, @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [WalletEvent] = []

    func onEvent(event: WalletEvent) throws {
        lock.lock()
        collected.append(event)
        lock.unlock()
    }

    var events: [WalletEvent] {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }
}

/// A signer as an app would write one around a key it keeps itself (here a key the app
/// unsealed from its Keychain item); it counts the signatures it makes.
final class AppSigner: HostSigner, @unchecked Sendable {
    private let key: KeyPair
    private let lock = NSLock()
    private var count = 0

    init(key: KeyPair) { self.key = key }

    func publicKey() throws -> String { key.publicKey() }

    func signDigest(digest: Data) throws -> Data {
        lock.lock()
        count += 1
        lock.unlock()
        return try key.signDigest(digest: digest)
    }

    var signatures: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}

/// A signer whose user declined the confirmation.
final class DecliningSigner: HostSigner, @unchecked Sendable {
    private let publicKeyHex: String
    init(publicKey: String) { publicKeyHex = publicKey }
    func publicKey() throws -> String { publicKeyHex }
    func signDigest(digest: Data) throws -> Data {
        throw KeyPairError.Signer(reason: "the user cancelled the confirmation")
    }
}

final class ListenerSignerAndErrorTests: XCTestCase {
    func testListenerHearsWhatRefreshReturns() async throws {
        let chain = try TestChain()
        let core = try await chain.wallet("core")
        let bank = try await chain.wallet("bank")
        let face: UInt64 = 20_000_00
        try await chain.commit(bank, try await bank.setCreditLine(obligor: chain.address("core"), currency: cny, limit: face))
        try await chain.commit(
            core,
            try await core.anchorDocument(
                reference: "INV-F-1", amount: face, currency: cny, buyer: chain.address("core"),
                seller: chain.address("tier1")))
        let listener = CollectingListener()
        core.setListener(listener: listener)
        let tx = try await core.issue(
            to: chain.address("tier1"), amount: face, currency: cny,
            maturity: plusDays(try chain.node.today(), 45), documentReference: "INV-F-1",
            creditGrantor: chain.address("bank"))
        let returned = try await chain.commit(core, tx)
        XCTAssertEqual(listener.events, returned)
        core.setListener(listener: nil)
        _ = try chain.node.produceBlock()
        _ = try await core.refresh()
        XCTAssertEqual(listener.events, returned, "a cleared listener hears nothing more")
    }

    func testSwiftSignerSignsAndItsRefusalIsATypedError() async throws {
        let chain = try TestChain()
        let bankKey = chain.key("bank")
        let storage = Data((0..<32).map { UInt8($0) })
        let keychainItem = try bankKey.seal(storageSecret: storage)
        let signer = AppSigner(key: try KeyPair.unseal(sealed: keychainItem, storageSecret: storage))
        let bank = try Wallet.soloWithSigner(node: chain.node, signer: signer, cachePath: nil)
        XCTAssertEqual(bank.address(), bankKey.address())
        _ = try await bank.refresh()
        try await chain.commit(bank, try await bank.setCreditLine(obligor: chain.address("core"), currency: cny, limit: 2_000_000_00))
        XCTAssertEqual(signer.signatures, 1)

        let declining = try Wallet.soloWithSigner(
            node: chain.node, signer: DecliningSigner(publicKey: bankKey.publicKey()), cachePath: nil)
        _ = try await declining.refresh()
        do {
            _ = try await declining.setCreditLine(obligor: chain.address("core"), currency: cny, limit: 1_000_00)
            XCTFail("a declined signature cannot send a transaction")
        } catch WalletError.Signer(let reason) {
            XCTAssertTrue(reason.contains("cancelled"), reason)
        }
    }

    func testBadInputIsATypedErrorAndChangesNothing() async throws {
        let chain = try TestChain()
        let core = try await chain.wallet("core")
        let tier1 = try await chain.wallet("tier1")
        let bank = try await chain.wallet("bank")
        let face: UInt64 = 5_000_00
        try await chain.commit(bank, try await bank.setCreditLine(obligor: chain.address("core"), currency: cny, limit: face))
        try await chain.commit(
            core,
            try await core.anchorDocument(
                reference: "INV-E-1", amount: face, currency: cny, buyer: chain.address("core"),
                seller: chain.address("tier1")))
        try await chain.commit(
            core,
            try await core.issue(
                to: chain.address("tier1"), amount: face, currency: cny,
                maturity: plusDays(try chain.node.today(), 30), documentReference: "INV-E-1",
                creditGrantor: chain.address("bank")))
        _ = try await tier1.refresh()
        let offer = try XCTUnwrap(try tier1.view()?.offersIn.first)
        try await chain.commit(tier1, try await tier1.accept(piece: offer.id))
        let piece = try XCTUnwrap(try tier1.view()?.holdings.first)
        let before = try tier1.view()

        // Malformed hex names the field.
        do {
            _ = try await tier1.accept(piece: "not-a-piece-id")
            XCTFail("malformed hex accepted")
        } catch WalletError.InvalidInput(let field, let reason) {
            XCTAssertEqual(field, "piece")
            XCTAssertFalse(reason.isEmpty)
        }

        // Splitting off more than the piece: the ledger's code 33 (SplitExceedsPiece).
        do {
            _ = try await tier1.transfer(
                piece: piece.id, outputs: [TransferOutput(to: chain.address("tier2"), amount: face + 1)])
            XCTFail("over-split accepted")
        } catch WalletError.Refused(let code, let reason) {
            XCTAssertEqual(code, 33)
            XCTAssertFalse(reason.isEmpty)
        }
        XCTAssertEqual(try tier1.view(), before, "a refused call changes nothing")

        // A wrong storage secret.
        let secret = Data(repeating: 7, count: 32)
        let sealed = try chain.key("tier1").seal(storageSecret: secret)
        XCTAssertThrowsError(try KeyPair.unseal(sealed: sealed, storageSecret: Data(repeating: 8, count: 32))) {
            XCTAssertEqual($0 as? KeyPairError, .WrongStorageSecret)
        }
    }
}
