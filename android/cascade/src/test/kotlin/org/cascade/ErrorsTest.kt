package org.cascade

import kotlinx.coroutines.runBlocking
import org.cascade.ffi.GenesisParticipant
import org.cascade.ffi.KeyPairException
import org.cascade.ffi.KeyPair
import org.cascade.ffi.NodeException
import org.cascade.ffi.Role
import org.cascade.ffi.SoloConfig
import org.cascade.ffi.SoloNode
import org.cascade.ffi.TransferOutput
import org.cascade.ffi.WalletEvent
import org.cascade.ffi.WalletException
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/**
 * The errors an app shows its user: each bad input is a typed exception naming what is wrong,
 * and leaves the wallet as it was.
 */
class ErrorsTest {
    @Test
    fun `malformed hex is InvalidInput naming the field`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val w = chain.wallet("tier1")
            val before = w.view()

            val notHex = assertFailsWith<WalletException.InvalidInput> { w.accept("not-a-piece-id") }
            assertEquals("piece", notHex.field)
            assertTrue(notHex.reason.isNotBlank())
            // What the app shows the user: the library's own sentence.
            assertEquals("invalid piece: ${notHex.reason}", notHex.toString())

            val short = assertFailsWith<WalletException.InvalidInput> { w.piece("abcd") }
            assertEquals("id", short.field)

            val badRecipient = assertFailsWith<WalletException.InvalidInput> {
                w.transfer("00".repeat(32), listOf(TransferOutput("0xZZ", 1u)))
            }
            assertEquals("outputs[0].to", badRecipient.field)

            assertFailsWith<WalletException.InvalidInput> { w.lineage("") }
            assertEquals(before, w.view(), "a refused call changes nothing")
        }
    }

    @Test
    fun `splitting off more than the piece is Refused with the ledger's code`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val (core, tier1, bank) = listOf("core", "tier1", "bank").map { chain.wallet(it) }
            val face = 5_000_00uL
            chain.commit(bank, bank.setCreditLine(chain.address("core"), CNY, face))
            chain.commit(core, core.anchorDocument("INV-E-1", face, CNY, chain.address("core"), chain.address("tier1")))
            val maturity = java.time.LocalDate.parse(chain.node.today()).plusDays(30).toString()
            chain.commit(core, core.issue(chain.address("tier1"), face, CNY, maturity, "INV-E-1", chain.address("bank")))
            tier1.refresh()
            chain.commit(tier1, tier1.accept(tier1.view()!!.offersIn.single().id))
            val piece = tier1.view()!!.holdings.single()
            val before = tier1.view()

            val over = assertFailsWith<WalletException.Refused> {
                tier1.transfer(piece.id, listOf(TransferOutput(chain.address("tier2"), face + 1u)))
            }
            assertEquals(SPLIT_EXCEEDS_PIECE, over.code)
            assertTrue(over.reason.isNotBlank())
            assertEquals("refused: ${over.reason}", over.toString())

            // Financing more than the piece is refused the same way, and so is a quote.
            val finance = assertFailsWith<WalletException.Refused> {
                tier1.requestFinancing(piece.id, chain.address("bank"), face * 2u, 300u)
            }
            assertEquals(SPLIT_EXCEEDS_PIECE, finance.code)
            assertEquals(SPLIT_EXCEEDS_PIECE, assertFailsWith<WalletException.Refused> {
                tier1.quote(piece.id, face + 1u, 300u)
            }.code)

            // A piece the wallet does not hold.
            val notHeld = assertFailsWith<WalletException.NotInWallet> {
                tier1.transfer("11".repeat(32), listOf(TransferOutput(chain.address("tier2"), 1_00u)))
            }
            assertEquals("11".repeat(32), notHeld.id)
            assertEquals("holdings", notHeld.list)
            assertEquals(before, tier1.view())
            // Nothing was sent: the next block changes nothing for this wallet.
            chain.node.produceBlock()
            val after = tier1.refresh()
            assertTrue(after.none { it is WalletEvent.Failed || it is WalletEvent.Confirmed }, "$after")
            assertEquals(before!!.nonce, tier1.view()!!.nonce)
            assertEquals(piece, tier1.view()!!.holdings.single(), "the piece is untouched")
        }
    }

    @Test
    fun `a supplier cannot issue, and the refusal carries the ledger code`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val tier1 = chain.wallet("tier1")
            val refused = assertFailsWith<WalletException.Refused> {
                tier1.issue(chain.address("tier2"), 1_000_00u, CNY, "2025-12-31", "INV-X", chain.address("bank"))
            }
            assertEquals(MISSING_ROLE, refused.code)
        }
    }

    @Test
    fun `keys refuse a wrong storage secret, a short secret and a bad phrase`() {
        KeyPair.fromMnemonic(TEST_PHRASE, "", 7u).use { key ->
            val secret = ByteArray(32) { it.toByte() }
            val sealed = key.seal(secret)
            assertTrue(sealed.size > 32)

            val wrong = secret.copyOf().also { it[0] = 99 }
            assertFailsWith<KeyPairException.WrongStorageSecret> { KeyPair.unseal(sealed, wrong) }

            val tooShort = assertFailsWith<KeyPairException.StorageSecretTooShort> { key.seal(ByteArray(4)) }
            assertTrue(tooShort.minBytes > 4u)

            KeyPair.unseal(sealed, secret).use { back ->
                assertEquals(key.publicKey(), back.publicKey())
                assertEquals(key.address(), back.address())
            }
            val corrupted = sealed.copyOf().also { it[it.size - 1] = (it[it.size - 1] + 1).toByte() }
            assertFailsWith<KeyPairException> { KeyPair.unseal(corrupted, secret) }
        }
        assertFailsWith<KeyPairException.InvalidMnemonic> {
            KeyPair.fromMnemonic("abandon abandon abandon", "", 0u)
        }
    }

    @Test
    fun `a bad solo configuration is InvalidConfig naming the field`() {
        val key = KeyPair.fromMnemonic(TEST_PHRASE, "", 0u)
        key.use {
            val participant = GenesisParticipant(it.publicKey(), listOf(Role.OPERATOR), "op")
            val badDay = assertFailsWith<NodeException.InvalidConfig> {
                SoloNode(SoloConfig("c", "2025-13-40", listOf(participant), null))
            }
            assertEquals("genesis_day", badDay.field)
            val badKey = assertFailsWith<NodeException.InvalidConfig> {
                SoloNode(SoloConfig("c", GENESIS_DAY, listOf(participant.copy(publicKey = "02ab")), null))
            }
            assertTrue(badKey.field.contains("public_key"), badKey.field)
        }
    }

    @Test
    fun `a closed object refuses calls instead of crashing`() {
        val key = KeyPair.fromMnemonic(TEST_PHRASE, "", 0u)
        val address = key.address()
        key.close()
        key.close() // closing twice is harmless
        val e = assertFailsWith<IllegalStateException> { key.address() }
        assertTrue(e.message!!.contains("destroyed"), e.message)
        assertTrue(address.matches(TestChain.HEX40))
    }

    companion object {
        /** `TxError::SplitExceedsPiece` (core/src/error.rs). */
        const val SPLIT_EXCEEDS_PIECE = 33u

        /** `TxError::MissingRole`. */
        const val MISSING_ROLE = 8u
    }
}
