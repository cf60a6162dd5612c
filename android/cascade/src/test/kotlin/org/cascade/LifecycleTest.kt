package org.cascade

import kotlinx.coroutines.runBlocking
import org.cascade.ffi.CertificateStatus
import org.cascade.ffi.FinancingQuote
import org.cascade.ffi.ObligorRecord
import org.cascade.ffi.OfferKind
import org.cascade.ffi.PieceInfo
import org.cascade.ffi.PieceState
import org.cascade.ffi.SettledFaces
import org.cascade.ffi.TransferOutput
import org.cascade.ffi.Wallet
import org.cascade.ffi.WalletEvent
import org.cascade.ffi.legalIdHash
import org.cascade.ffi.libraryVersion
import org.junit.jupiter.api.Test
import java.math.BigInteger
import java.security.MessageDigest
import java.time.LocalDate
import java.time.temporal.ChronoUnit
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * The whole life of a receivable certificate, through the Kotlin bindings only: a core
 * enterprise issues 1,000,000.00 CNY to its tier-1 supplier, the certificate is split down
 * three tiers, the tier-3 supplier discounts part of its piece with a bank, and at maturity
 * the core enterprise settles and every holder is paid. Every list a wallet shows is proven
 * against a verified app hash by the library.
 */
class LifecycleTest {
    private val face = 1_000_000_00uL
    private val toTier2 = 400_000_00uL
    private val toTier3 = 150_000_00uL
    private val financed = 100_000_00uL
    private val rateBps = 450u
    private val tenorDays = 90L

    @Test
    fun `issue, split down three tiers, finance and settle`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val core = chain.wallet("core")
            val tier1 = chain.wallet("tier1")
            val tier2 = chain.wallet("tier2")
            val tier3 = chain.wallet("tier3")
            val bank = chain.wallet("bank")
            val (coreA, t1A, t2A, t3A, bankA) =
                listOf("core", "tier1", "tier2", "tier3", "bank").map(chain::address)

            // 0. The bank grants the core enterprise a credit line; the core anchors the invoice.
            chain.commit(bank, bank.setCreditLine(coreA, CNY, 10_000_000_00uL))
            chain.commit(core, core.anchorDocument("INV-2025-0001", face, CNY, coreA, t1A))

            // 1. Issue to tier 1, maturing in 90 days.
            val issueDay = LocalDate.parse(chain.node.today())
            val maturity = issueDay.plusDays(tenorDays).toString()
            chain.commit(core, core.issue(t1A, face, CNY, maturity, "INV-2025-0001", bankA))
            val issued = core.view()!!.offersOut.single()
            assertEquals(face, issued.amount)
            assertEquals(t1A, issued.holder, "a pending piece's holder is the recipient")
            assertEquals(1u.toUShort(), issued.tier)
            assertEquals(maturity, issued.maturity)
            assertNull(issued.parent, "the issued piece has no parent")
            val pending = assertIs<PieceState.Pending>(issued.state)
            assertEquals(coreA, pending.sender)
            assertEquals(OfferKind.ISSUE, pending.kind)

            val t1Events = tier1.refresh()
            assertEquals(
                listOf(issued.id to face),
                t1Events.filterIsInstance<WalletEvent.OfferReceived>().map { it.piece to it.amount },
            )
            assertEquals(issued.id, tier1.view()!!.offersIn.single().id)

            // 2. Tier 1 accepts: the piece becomes a holding.
            val acceptEvents = chain.commit(tier1, tier1.accept(issued.id))
            assertTrue(WalletEvent.HoldingAdded(issued.id, face) in acceptEvents, "$acceptEvents")
            val root = issued.root
            val p1 = tier1.view()!!.holdings.single()
            assertEquals(issued.id, p1.id)
            assertEquals(PieceState.Active, p1.state)

            // 3. Tier 1 splits 400,000.00 off to tier 2 and keeps the change.
            chain.commit(tier1, tier1.transfer(p1.id, listOf(TransferOutput(t2A, toTier2))))
            val t1Change = tier1.view()!!.holdings.single()
            assertEquals(face - toTier2, t1Change.amount)
            assertEquals(p1.id, t1Change.parent)
            val toT2 = tier2.refresh().filterIsInstance<WalletEvent.OfferReceived>().single()
            assertEquals(toTier2, toT2.amount)
            chain.commit(tier2, tier2.accept(toT2.piece))
            val p2 = tier2.view()!!.holdings.single()
            assertEquals(2u.toUShort(), p2.tier)
            assertEquals(root, p2.root)
            assertEquals(p1.id, p2.parent)

            // 4. Tier 2 passes 150,000.00 on to tier 3.
            chain.commit(tier2, tier2.transfer(p2.id, listOf(TransferOutput(t3A, toTier3))))
            val toT3 = tier3.refresh().filterIsInstance<WalletEvent.OfferReceived>().single()
            chain.commit(tier3, tier3.accept(toT3.piece))
            val p3 = tier3.view()!!.holdings.single()
            assertEquals(toTier3, p3.amount)
            assertEquals(3u.toUShort(), p3.tier)

            // Conservation before financing: the proven holdings of all sum to the face value.
            val holders = listOf(tier1, tier2, tier3)
            for (w in holders) w.refresh()
            assertEquals(
                Money(face, CNY),
                Money.sum(CNY, holders.flatMap { it.view()!!.holdings }.map { it.money }),
            )

            // 5. Tier 3 asks for a quote, then for financing of 100,000.00 at 4.50 %.
            val quote = tier3.quote(p3.id, financed, rateBps)
            val today = LocalDate.parse(tier3.view()!!.today)
            val days = ChronoUnit.DAYS.between(today, LocalDate.parse(maturity))
            assertEquals(days.toUInt(), quote.days)
            assertEquals(financed, quote.face)
            assertEquals(rateBps, quote.rateBps)
            assertEquals(act360Interest(financed, rateBps, days), quote.interest)
            assertTrue(quote.interest > 0u, "a 4.5 % discount over ${quote.days} days costs something")
            assertEquals(quote.face - quote.interest, quote.proceeds, "proceeds = face - interest")

            chain.commit(tier3, tier3.requestFinancing(p3.id, bankA, financed, rateBps))
            bank.refresh()
            val request = bank.view()!!.offersIn.single()
            assertEquals(financed, request.amount)
            val asked = assertIs<PieceState.FinancingRequested>(request.state)
            assertEquals(bankA, asked.financier)
            assertEquals(rateBps, asked.rateBps)

            // 6. The bank accepts and pays the proceeds off-ledger (the reference is recorded).
            chain.commit(bank, bank.acceptFinancing(request.id, "PAY-2025-0001"))
            // The requested piece is consumed and a financed piece, its child, goes to the bank.
            val held = bank.view()!!.holdings.single()
            assertEquals(request.id, held.parent)
            assertEquals(financed, held.amount)
            assertEquals(PieceState.Financed, held.state)
            assertEquals(bankA, held.holder)
            // The ledger priced it on the day of acceptance: proceeds = face - interest.
            val deal = assertNotNull(held.financing)
            assertEquals(t3A, deal.seller)
            assertEquals(rateBps, deal.rateBps)
            assertEquals("PAY-2025-0001", deal.paymentReference)
            val dealDays = ChronoUnit.DAYS.between(LocalDate.parse(deal.day), LocalDate.parse(maturity))
            assertEquals(dealDays.toUInt(), deal.days)
            assertEquals(act360Interest(financed, rateBps, dealDays), deal.interest)
            assertEquals(financed - deal.interest, deal.proceeds)
            assertEquals(quote, FinancingQuote(financed, rateBps, deal.days, deal.interest, deal.proceeds, 360u),
                "financed the day it was quoted, so at the quoted price")
            tier3.refresh()
            assertEquals(toTier3 - financed, tier3.view()!!.holdings.single().amount)

            // The proven piece, asked of the network by id, is the one the bank holds.
            assertEquals(held, tier1.piece(held.id))
            assertNull(tier1.piece("00".repeat(32)), "an unknown piece is proven absent")

            // 7. Past maturity the core enterprise settles; every outstanding piece is paid.
            chain.node.advanceDays((tenorDays + 1).toUInt())
            core.refresh()
            chain.commit(core, core.settle(root))

            // 8. The lineage, proven complete: every settled piece is paid to its holder and
            // the settled amounts add up to the face value exactly.
            val lineage = bank.lineage(root)
            assertEquals(root, lineage.root)
            assertEquals(coreA, lineage.obligor)
            assertEquals(face, lineage.face)
            assertEquals(CNY, lineage.currency)
            assertEquals(maturity, lineage.maturity)
            assertEquals(CertificateStatus.SETTLED, lineage.status)
            assertEquals(false, lineage.overdue)
            val settled = lineage.pieces.filter { it.state == PieceState.Settled }
            assertEquals(lineage.faceMoney, Money.sum(CNY, settled.map(PieceInfo::money)))
            val paid = settled.groupBy { it.holder }.mapValues { (_, ps) -> ps.sumOf { it.amount } }
            assertEquals(
                mapOf(
                    t1A to face - toTier2,
                    t2A to toTier2 - toTier3,
                    t3A to toTier3 - financed,
                    bankA to financed,
                ),
                paid,
            )
            // The rest were replaced by their children along the way.
            assertEquals(
                setOf<PieceState>(PieceState.Consumed),
                (lineage.pieces - settled.toSet()).map { it.state }.toSet(),
            )
            // The bank's settled piece still carries its financing.
            assertEquals(deal, settled.single { it.holder == bankA }.financing)
            // Every piece but the issued one descends from a piece of the same lineage.
            val ids = lineage.pieces.map { it.id }.toSet()
            assertTrue(issued.id in ids)
            assertTrue(lineage.pieces.all { it.parent == null || it.parent in ids })
            assertEquals(1, lineage.pieces.count { it.parent == null })

            // The bank prices by the core enterprise's settlement record, proven against a
            // verified header: one certificate, paid a day after maturity (inside the grace).
            assertEquals(
                ObligorRecord(
                    certificates = 1u, settledOnTime = 1u, settledLate = 0u, overdueNow = 0u,
                    faces = listOf(SettledFaces(currency = CNY, onTime = face, late = 0uL)),
                ),
                bank.obligorRecord(coreA),
            )

            // The holders' wallets show their pieces settled.
            for (w in listOf(tier1, tier2, tier3, bank)) {
                w.refresh()
                assertTrue(w.view()!!.holdings.all { it.state == PieceState.Settled }, "${w.address()}")
            }
        }
    }

    @Test
    fun `free functions`() {
        assertTrue(libraryVersion().matches(Regex("""\d+\.\d+\.\d+.*""")), libraryVersion())
        val legalId = "91310000MA1FL4XQ3C"
        val expected = MessageDigest.getInstance("SHA-256")
            .digest(legalId.toByteArray(Charsets.UTF_8))
            .joinToString("") { "%02x".format(it) }
        assertEquals(expected, legalIdHash(legalId))
    }

    @Test
    fun `the node's day moves with advanceDays and the wallet follows`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val start = LocalDate.parse(chain.node.today())
            assertEquals(LocalDate.parse(GENESIS_DAY), start)
            val h0 = chain.node.height()
            val h1 = chain.node.advanceDays(10u)
            assertTrue(h1 > h0, "advancing produces a block")
            assertEquals(h1, chain.node.height())
            assertEquals(start.plusDays(10).toString(), chain.node.today())
            val w = chain.wallet("tier1")
            w.refresh()
            val view = assertNotNull(w.view())
            assertEquals(chain.node.today(), view.today)
            assertTrue(view.height >= h1)
            assertTrue(view.appHash.matches(TestChain.HEX64))
        }
    }

    /** ACT/360 discount interest, rounded half-up: docs/pricing.md, computed independently. */
    private fun act360Interest(face: ULong, rateBps: UInt, days: Long): ULong {
        val n = BigInteger.valueOf(face.toLong())
            .multiply(BigInteger.valueOf(rateBps.toLong() * 100)) // bps → millionths
            .multiply(BigInteger.valueOf(days))
        val d = BigInteger.valueOf(1_000_000L * 360)
        return n.add(d.shiftRight(1)).divide(d).toLong().toULong()
    }
}
