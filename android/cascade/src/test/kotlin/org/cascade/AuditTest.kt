package org.cascade

import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.cascade.ffi.WalletEvent
import org.cascade.ffi.generateKey
import org.junit.jupiter.api.Test
import java.time.LocalDate
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** Defects found by the FFI audit, kept as regression tests. */
class AuditTest {
    @Test
    fun `closing an old subscription leaves the newer one listening`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val (core, tier1, bank) = listOf("core", "tier1", "bank").map { chain.wallet(it) }
            val face = 7_000_00uL
            chain.commit(bank, bank.setCreditLine(chain.address("core"), CNY, face))
            chain.commit(core, core.anchorDocument("INV-A-1", face, CNY, chain.address("core"), chain.address("tier1")))
            val maturity = LocalDate.parse(chain.node.today()).plusDays(30).toString()
            chain.commit(core, core.issue(chain.address("tier1"), face, CNY, maturity, "INV-A-1", chain.address("bank")))

            val old = tier1.subscribe()
            val current = tier1.subscribe()
            old.close()
            val events = tier1.refresh()
            assertTrue(events.any { it is WalletEvent.OfferReceived }, "$events")
            current.close()
            assertEquals(events, withTimeout(5_000) { current.events.toList() }, "the newer subscription heard the refresh")
            assertEquals(emptyList(), withTimeout(5_000) { old.events.toList() }, "the closed one heard nothing")
        }
    }

    @Test
    fun `a generated key's toString does not show its recovery phrase`() {
        val generated = generateKey()
        generated.key.use { key ->
            val shown = generated.toString()
            assertEquals(24, generated.phrase.split(" ").size)
            for (word in generated.phrase.split(" ").toSet()) {
                assertFalse(Regex("\\b$word\\b").containsMatchIn(shown), "the recovery phrase leaks into $shown")
            }
            assertTrue(key.address() in shown, shown)
        }
    }
}
