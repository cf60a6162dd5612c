package org.cascade

import kotlinx.coroutines.runBlocking
import org.bouncycastle.crypto.digests.SHA256Digest
import org.bouncycastle.crypto.ec.CustomNamedCurves
import org.bouncycastle.crypto.params.ECDomainParameters
import org.bouncycastle.crypto.params.ECPrivateKeyParameters
import org.bouncycastle.crypto.signers.ECDSASigner
import org.bouncycastle.crypto.signers.HMacDSAKCalculator
import org.cascade.ffi.HostSigner
import org.cascade.ffi.KeyPairException
import org.cascade.ffi.KeyPair
import org.cascade.ffi.Wallet
import org.cascade.ffi.WalletException
import org.junit.jupiter.api.Test
import java.math.BigInteger
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/**
 * A signer written in Kotlin, as an app keeping its key in its own secure storage would
 * write one: secp256k1 ECDSA (RFC 6979 nonces, low-S) with BouncyCastle. The library builds
 * and checks the transaction and asks the app only for a signature over its digest.
 */
class KotlinSigner(secret: ByteArray) : HostSigner {
    private val domain = CustomNamedCurves.getByName("secp256k1").let {
        ECDomainParameters(it.curve, it.g, it.n, it.h)
    }
    private val d = BigInteger(1, secret)
    val calls = AtomicInteger()

    override fun publicKey(): String =
        domain.g.multiply(d).normalize().getEncoded(true).toHex()

    override fun signDigest(digest: ByteArray): ByteArray {
        calls.incrementAndGet()
        if (digest.size != 32) throw KeyPairException.Signer("expected a 32-byte digest, got ${digest.size}")
        val signer = ECDSASigner(HMacDSAKCalculator(SHA256Digest()))
        signer.init(true, ECPrivateKeyParameters(d, domain))
        val (r, s) = signer.generateSignature(digest)
        val lowS = if (s > domain.n.shiftRight(1)) domain.n - s else s
        return r.to32() + lowS.to32()
    }

    private fun BigInteger.to32(): ByteArray {
        val raw = toByteArray()
        return ByteArray(32).also { out ->
            val n = minOf(32, raw.size)
            System.arraycopy(raw, raw.size - n, out, 32 - n, n)
        }
    }
}

/** A signer the user declined (a cancelled biometric prompt, say). */
class DecliningSigner(private val publicKey: String) : HostSigner {
    override fun publicKey(): String = publicKey
    override fun signDigest(digest: ByteArray): ByteArray =
        throw KeyPairException.Signer("the user cancelled the confirmation")
}

fun ByteArray.toHex(): String = joinToString("") { "%02x".format(it) }

class HostSignerTest {
    @Test
    fun `a Kotlin signer signs the bank's transactions`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val bankKey = chain.keys.getValue("bank")
            val signer = KotlinSigner(bankKey.exportSecret())
            assertEquals(bankKey.publicKey(), signer.publicKey(), "same key, same public key")

            val bank = chain.own(Wallet.soloWithSigner(chain.node, signer, null))
            assertEquals(bankKey.address(), bank.address())
            bank.refresh()
            val limit = 2_000_000_00uL
            chain.commit(bank, bank.setCreditLine(chain.address("core"), CNY, limit))
            assertEquals(1, signer.calls.get(), "one transaction, one signature")

            // The credit line is real: the core enterprise can now issue against it.
            val core = chain.wallet("core")
            val coreA = chain.address("core")
            chain.commit(core, core.anchorDocument("INV-S-1", limit, CNY, coreA, chain.address("tier1")))
            val maturity = java.time.LocalDate.parse(chain.node.today()).plusDays(60).toString()
            chain.commit(core, core.issue(chain.address("tier1"), limit, CNY, maturity, "INV-S-1", bankKey.address()))
            assertEquals(limit, core.view()!!.offersOut.single().amount)
        }
    }

    @Test
    fun `a signer's refusal reaches the app as a Signer error and nothing is sent`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val bankKey = chain.keys.getValue("bank")
            val bank = chain.own(Wallet.soloWithSigner(chain.node, DecliningSigner(bankKey.publicKey()), null))
            bank.refresh()
            val e = assertFailsWith<WalletException.Signer> {
                bank.setCreditLine(chain.address("core"), CNY, 1_000_00u)
            }
            assertTrue(e.reason.contains("cancelled"), e.reason)
            val height = chain.node.produceBlock()
            bank.refresh()
            assertTrue(bank.view()!!.height >= height)
            assertEquals(0uL, bank.view()!!.nonce, "no transaction went out")
        }
    }

    @Test
    fun `a signer that returns garbage is caught by the library`() = runBlocking<Unit> {
        TestChain().use { chain ->
            val bankKey = chain.keys.getValue("bank")
            val garbage = object : HostSigner {
                override fun publicKey() = bankKey.publicKey()
                override fun signDigest(digest: ByteArray) = ByteArray(10)
            }
            val bank = chain.own(Wallet.soloWithSigner(chain.node, garbage, null))
            bank.refresh()
            assertFailsWith<WalletException.Signer> {
                bank.setCreditLine(chain.address("core"), CNY, 1_000_00u)
            }
        }
    }

    @Test
    fun `sealing round-trips the secret the signer uses`() {
        KeyPair.fromMnemonic(TEST_PHRASE, "", 5u).use { key ->
            val storage = ByteArray(32) { (it * 7).toByte() }
            KeyPair.unseal(key.seal(storage), storage).use { back ->
                assertEquals(key.exportSecret().toHex(), back.exportSecret().toHex())
                assertEquals(KotlinSigner(back.exportSecret()).publicKey(), key.publicKey())
            }
        }
    }
}
