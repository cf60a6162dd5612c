package org.cascade

import org.cascade.ffi.GenesisParticipant
import org.cascade.ffi.KeyPair
import org.cascade.ffi.Role
import org.cascade.ffi.SoloConfig
import org.cascade.ffi.SoloNode
import org.cascade.ffi.TxState
import org.cascade.ffi.Wallet
import org.cascade.ffi.WalletEvent
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/** The BIP-39 test phrase (all-zero entropy); every participant is one index of it. */
const val TEST_PHRASE =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

const val CNY = "CNY"

/** The test chain's first day (by default): block times start here. */
const val GENESIS_DAY = "2025-01-06"

/**
 * An embedded single-validator chain with the participants of a supply chain, one wallet
 * each: the test fixture every Kotlin test builds on. Names are the roles they play.
 */
class TestChain(genesisDay: String = GENESIS_DAY) : AutoCloseable {
    private val resources = Resources()

    /** Participant name → (index of [TEST_PHRASE], roles). */
    private val cast = linkedMapOf(
        "operator" to (0u to listOf(Role.OPERATOR)),
        "core" to (1u to listOf(Role.OBLIGOR)),
        "tier1" to (2u to listOf(Role.SUPPLIER)),
        "tier2" to (3u to listOf(Role.SUPPLIER)),
        "tier3" to (4u to listOf(Role.SUPPLIER)),
        "bank" to (5u to listOf(Role.FINANCIER)),
    )

    val keys: Map<String, KeyPair> = cast.mapValues { (_, v) ->
        with(resources) { +KeyPair.fromMnemonic(TEST_PHRASE, "", v.first) }
    }

    val node: SoloNode = with(resources) {
        +SoloNode(
            SoloConfig(
                chainId = "cascade-kotlin-test",
                genesisDay = genesisDay,
                participants = cast.map { (name, v) ->
                    GenesisParticipant(
                        publicKey = keys.getValue(name).publicKey(),
                        roles = v.second,
                        legalId = "legal-id-of-$name",
                    )
                },
                dataDir = null,
            ),
        )
    }

    private val wallets = mutableMapOf<String, Wallet>()

    /** The wallet of participant [name], made (and synced once) on first use. */
    suspend fun wallet(name: String): Wallet {
        wallets[name]?.let { return it }
        val w = with(resources) { +Wallet.solo(node, keys.getValue(name), null) }
        w.refresh()
        wallets[name] = w
        return w
    }

    fun address(name: String): String = keys.getValue(name).address()

    /** Registers another object to be closed with the chain. */
    fun <T : AutoCloseable> own(obj: T): T = with(resources) { +obj }

    /**
     * Commits the mempool in a block, refreshes [wallet] and checks that it reports [tx] as
     * confirmed at that height. Returns the refresh's events.
     */
    suspend fun commit(wallet: Wallet, tx: String): List<WalletEvent> {
        assertTrue(tx.matches(HEX64), "a transaction hash is 64 hex digits, got \"$tx\"")
        assertEquals(TxState.Pending, wallet.txState(tx), "before its block")
        val height = node.produceBlock()
        val events = wallet.refresh()
        val confirmed = events.filterIsInstance<WalletEvent.Confirmed>().singleOrNull { it.tx == tx }
            ?: fail("no Confirmed event for $tx in $events (failures: ${events.filterIsInstance<WalletEvent.Failed>()})")
        assertEquals(height, confirmed.height, "committed in the block just produced")
        assertEquals(TxState.Committed(height), wallet.txState(tx))
        return events
    }

    override fun close() = resources.close()

    companion object {
        val HEX64 = Regex("[0-9a-f]{64}")
        val HEX40 = Regex("[0-9a-f]{40}")
    }
}
