package org.cascade

import kotlinx.coroutines.runBlocking
import org.cascade.ffi.HttpClient
import org.cascade.ffi.HttpReply
import org.cascade.ffi.SoloNode
import org.cascade.ffi.Wallet
import org.cascade.ffi.WalletException
import org.junit.jupiter.api.Test
import java.time.LocalDate
import java.time.ZoneOffset
import java.util.Collections
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/**
 * An app's own HTTP stack (OkHttp in a real app) plugged in as the wallet's transport, with
 * its own signer: the library builds CometBFT RPC URLs, the app fetches them, and the
 * library verifies every answer. The solo chain answers the URLs (`rpcGet`) as a node at any
 * address would, so no server is needed.
 */
class AppHttpClient(private val node: SoloNode) : HttpClient {
    val urls: MutableList<String> = Collections.synchronizedList(mutableListOf())

    override fun get(url: String): HttpReply {
        urls += url
        return node.rpcGet(url)
    }
}

/** A network that is down: no response at all. */
class DownClient : HttpClient {
    override fun get(url: String): HttpReply =
        throw WalletException.Network(url.substringBefore("/", url), "connection refused")
}

class HttpClientTest {
    private val base = "https://node0.cascade.test:26657"

    /**
     * A connected wallet checks headers against the phone's clock (a solo wallet reads the
     * chain's), so this chain starts today: its headers are within the trusting period.
     */
    private fun chainStartingToday() = TestChain(LocalDate.now(ZoneOffset.UTC).toString())

    @Test
    fun `a wallet on the app's HTTP client and signer verifies the chain and transacts`() = runBlocking<Unit> {
        chainStartingToday().use { chain ->
            val bankKey = chain.keys.getValue("bank")
            val client = AppHttpClient(chain.node)
            val signer = KotlinSigner(bankKey.exportSecret())
            val bank = chain.own(
                Wallet.connectWithClient(chain.node.trustAnchor(), base, emptyList(), client, signer, null),
            )
            assertEquals(bankKey.address(), bank.address())
            bank.refresh()
            assertTrue(client.urls.isNotEmpty() && client.urls.all { it.startsWith("$base/") }, "${client.urls}")
            assertEquals(chain.node.today(), bank.view()!!.today)

            val tx = bank.setCreditLine(chain.address("core"), CNY, 3_000_000_00uL)
            assertTrue(client.urls.any { "broadcast_tx_sync" in it }, "the transaction went out through the app's client")
            chain.commit(bank, tx)
            assertEquals(1, signer.calls.get())

            // The credit line is on the chain a solo wallet sees too.
            val core = chain.wallet("core")
            chain.commit(core, core.anchorDocument("INV-H-1", 3_000_000_00uL, CNY, chain.address("core"), chain.address("tier1")))
            val maturity = LocalDate.parse(chain.node.today()).plusDays(30).toString()
            chain.commit(core, core.issue(chain.address("tier1"), 3_000_000_00uL, CNY, maturity, "INV-H-1", bankKey.address()))
        }
    }

    @Test
    fun `a network that is down is a Network error, not a crash`() = runBlocking<Unit> {
        chainStartingToday().use { chain ->
            val signer = KotlinSigner(chain.keys.getValue("bank").exportSecret())
            val bank = chain.own(
                Wallet.connectWithClient(chain.node.trustAnchor(), base, emptyList(), DownClient(), signer, null),
            )
            assertFailsWith<WalletException.Network> { bank.refresh() }
            assertEquals(null, bank.view(), "nothing verified, nothing shown")
            assertFailsWith<WalletException.NotSynced> {
                bank.setCreditLine(chain.address("core"), CNY, 1_00uL)
            }
        }
    }
}
