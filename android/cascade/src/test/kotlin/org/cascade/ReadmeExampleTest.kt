package org.cascade

import kotlinx.coroutines.runBlocking
import org.cascade.ffi.CertificateStatus
import org.cascade.ffi.GenesisParticipant
import org.cascade.ffi.KeyPair
import org.cascade.ffi.Lineage
import org.cascade.ffi.PieceState
import org.cascade.ffi.Role
import org.cascade.ffi.SoloConfig
import org.cascade.ffi.SoloNode
import org.cascade.ffi.Wallet
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals

/**
 * The Kotlin example of the README's "Android" section, kept compiling and running here (the
 * only change: it returns the lineage instead of printing it, so the test can check it).
 */
class ReadmeExampleTest {
    private suspend fun demo(phrase: String): Lineage = withResources {
        val keys = (0u..3u).map { +KeyPair.fromMnemonic(phrase, "", it) } // core, supplier, bank, operator
        val node = +SoloNode(
            SoloConfig(
                "demo", "2025-01-06",
                listOf(
                    GenesisParticipant(keys[0].publicKey(), listOf(Role.OBLIGOR), "Core Ltd"),
                    GenesisParticipant(keys[1].publicKey(), listOf(Role.SUPPLIER), "Supplier Ltd"),
                    GenesisParticipant(keys[2].publicKey(), listOf(Role.FINANCIER), "Bank"),
                    GenesisParticipant(keys[3].publicKey(), listOf(Role.OPERATOR), "Consortium"),
                ),
                dataDir = null,
            ),
        )
        val (core, supplier, bank) = keys.take(3).map { +Wallet.solo(node, it, null).also { w -> w.refresh() } }

        bank.setCreditLine(core.address(), "CNY", 10_000_000_00uL); node.produceBlock()
        core.refresh()
        core.anchorDocument("INV-1", 1_000_000_00uL, "CNY", core.address(), supplier.address()); node.produceBlock()
        core.refresh()
        core.issue(supplier.address(), 1_000_000_00uL, "CNY", "2025-04-06", "INV-1", bank.address()); node.produceBlock()

        supplier.refresh() // OfferReceived
        val offer = supplier.view()!!.offersIn.single()
        supplier.accept(offer.id); node.produceBlock()
        supplier.refresh() // Confirmed, HoldingAdded
        val quote = supplier.quote(offer.id, 500_000_00uL, 450u) // interest, proceeds = face − interest
        assertEquals(quote.face - quote.interest, quote.proceeds)
        assertEquals(360u, quote.dayBasis) // the chain's day count: ACT/360, the default
        assertEquals(true, Regex("""\d+\.\d{2} CNY""").matches(Money(quote.proceeds, "CNY").toString()))
        supplier.requestFinancing(offer.id, bank.address(), 500_000_00uL, 450u); node.produceBlock()
        bank.refresh()
        bank.acceptFinancing(bank.view()!!.offersIn.single().id, "PAY-1"); node.produceBlock()

        node.advanceDays(91u); core.refresh()
        core.settle(offer.root); node.produceBlock()
        bank.lineage(offer.root)
    }

    @Test
    fun `the README example runs to settlement`() = runBlocking<Unit> {
        val lineage = demo(TEST_PHRASE)
        assertEquals(CertificateStatus.SETTLED, lineage.status)
        val settled = lineage.pieces.filter { it.state == PieceState.Settled }
        assertEquals(listOf(500_000_00uL, 500_000_00uL), settled.map { it.amount })
        assertEquals(2, settled.map { it.holder }.toSet().size, "the supplier and the bank are paid")
        assertEquals(1_000_000_00uL, settled.sumOf { it.amount })
    }
}
