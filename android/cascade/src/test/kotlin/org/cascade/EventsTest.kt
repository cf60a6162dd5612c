package org.cascade

import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.cascade.ffi.WalletEvent
import org.cascade.ffi.WalletListener
import org.junit.jupiter.api.Test
import java.time.LocalDate
import java.util.Collections
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** Events reach the app through the listener and, on top of it, as a coroutine Flow. */
class EventsTest {
    @Test
    fun `the listener hears what refresh returns, and the Flow does too`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val (core, tier1, bank) = listOf("core", "tier1", "bank").map { chain.wallet(it) }
            val face = 20_000_00uL
            chain.commit(bank, bank.setCreditLine(chain.address("core"), CNY, face))
            chain.commit(core, core.anchorDocument("INV-F-1", face, CNY, chain.address("core"), chain.address("tier1")))
            val maturity = LocalDate.parse(chain.node.today()).plusDays(45).toString()

            // A plain listener, called from the library's thread.
            val heard = Collections.synchronizedList(mutableListOf<WalletEvent>())
            core.setListener(object : WalletListener {
                override fun onEvent(event: WalletEvent) {
                    heard += event
                }
            })
            val tx = core.issue(chain.address("tier1"), face, CNY, maturity, "INV-F-1", chain.address("bank"))
            val returned = chain.commit(core, tx)
            assertTrue(returned.any { it is WalletEvent.Confirmed && it.tx == tx })
            assertEquals(returned, heard.toList(), "the listener hears each event refresh returns, in order")
            core.setListener(null)
            chain.node.produceBlock()
            core.refresh()
            assertEquals(returned, heard.toList(), "a cleared listener hears nothing more")

            // The Flow: subscribe, then refresh; the offer and, after accepting it, the
            // holding, the closed offer and the confirmation arrive in order.
            tier1.subscribe().use { sub ->
                val first = tier1.refresh()
                val offer = first.filterIsInstance<WalletEvent.OfferReceived>().single()
                assertEquals(face, offer.amount)
                val accepted = tier1.accept(offer.piece)
                val second = chain.commit(tier1, accepted)
                sub.close()
                val flowed = withTimeout(5_000) { sub.events.toList() }
                assertEquals(first + second, flowed)
                assertTrue(WalletEvent.HoldingAdded(offer.piece, face) in flowed, "$flowed")
                assertTrue(WalletEvent.OfferClosed(offer.piece) in flowed, "$flowed")
                assertTrue(flowed.any { it is WalletEvent.Confirmed && it.tx == accepted }, "$flowed")
            }
        }
    }

    @Test
    fun `the cold flow listens while it is collected`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val (core, tier1, bank) = listOf("core", "tier1", "bank").map { chain.wallet(it) }
            val face = 3_000_00uL
            chain.commit(bank, bank.setCreditLine(chain.address("core"), CNY, face))
            chain.commit(core, core.anchorDocument("INV-F-2", face, CNY, chain.address("core"), chain.address("tier1")))
            val maturity = LocalDate.parse(chain.node.today()).plusDays(20).toString()

            // UNDISPATCHED runs the collector up to its first suspension right here, and the
            // flow registers its listener before it suspends: no event can slip past.
            val firstOffer = async(start = CoroutineStart.UNDISPATCHED) {
                tier1.events().first { it is WalletEvent.OfferReceived } as WalletEvent.OfferReceived
            }
            assertTrue(firstOffer.isActive, "still waiting for an event")
            val tx = core.issue(chain.address("tier1"), face, CNY, maturity, "INV-F-2", chain.address("bank"))
            chain.commit(core, tx)
            val refreshed = tier1.refresh()
            val seen = withTimeout(5_000) { firstOffer.await() }
            assertEquals(face, seen.amount)
            assertEquals(refreshed.filterIsInstance<WalletEvent.OfferReceived>().single(), seen)
            // The collector has stopped, and with it the listener: later events go nowhere
            // (and nothing blocks).
            tier1.accept(seen.piece).let { chain.commit(tier1, it) }
        }
    }

    @Test
    fun `a wallet is safe to use from many coroutines at once`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val w = chain.wallet("tier1")
            val unknown = "00".repeat(32)
            val results = (1..16).map {
                async(Dispatchers.Default) { w.piece(unknown) to w.address() }
            }.awaitAll()
            assertEquals(List(16) { null to chain.address("tier1") }, results)
            // Refreshes racing each other leave one consistent, current view.
            chain.node.advanceDays(2u)
            (1..4).map { async(Dispatchers.Default) { w.refresh() } }.awaitAll()
            assertEquals(chain.node.today(), w.view()!!.today)
            assertTrue(w.view()!!.height >= chain.node.height() - 1u)
        }
    }

    @Test
    fun `a closed subscription completes its flow and stops listening`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val w = chain.wallet("tier1")
            val sub = w.subscribe()
            sub.close()
            assertEquals(emptyList(), withTimeout(1_000) { sub.events.toList() })
        }
    }
}
