package org.cascade

import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/** The pure-Kotlin parts of the `org.cascade` layer. */
class LayerTest {
    @Test
    fun `money formats minor units exactly`() {
        assertEquals("1000000.00 CNY", Money(1_000_000_00u, "CNY").toString())
        assertEquals("0.05 USD", Money(5u, "USD").format())
        assertEquals("0.00 USD", Money(0u, "USD").format())
        assertEquals("1500 JPY", Money(1500u, "JPY").format(exponent = 0))
        assertEquals("18446744073709551.615 BHD", Money(ULong.MAX_VALUE, "BHD").format(exponent = 3))
    }

    @Test
    fun `money shows each currency's own decimals by default`() {
        assertEquals("123456 JPY", Money(123_456u, "JPY").toString())
        assertEquals("123.456 KWD", Money(123_456u, "KWD").toString())
        assertEquals("0.0007 CLF", Money(7u, "CLF").toString())
        assertEquals("1234.56 CNY", Money(123_456u, "CNY").format())
    }

    /**
     * The library's minor-unit digits agree with the JDK's own ISO 4217 table for every code
     * the JDK knows (its -1, "no minor unit", shows as whole units: 0).
     */
    @Test
    fun `minor-unit digits agree with the JDK's ISO 4217 table`() {
        val codes = java.util.Currency.getAvailableCurrencies()
        assertTrue(codes.size > 150, "the JDK lists ${codes.size} currencies")
        val disagree = codes.mapNotNull { c ->
            val jdk = maxOf(c.defaultFractionDigits, 0)
            val ours = org.cascade.ffi.currencyMinorDigits(c.currencyCode).toInt()
            if (jdk == ours) null else "${c.currencyCode}: JDK $jdk, library $ours"
        }
        assertEquals(emptyList(), disagree)
        assertFailsWith<org.cascade.ffi.WalletException.InvalidInput> {
            org.cascade.ffi.currencyMinorDigits("yen")
        }
    }

    @Test
    fun `money arithmetic refuses mixed currencies, overflow and negatives`() {
        val a = Money(250u, "CNY")
        assertEquals(Money(500u, "CNY"), a + a)
        assertEquals(Money(0u, "CNY"), a - a)
        assertTrue(Money(1u, "CNY") < a)
        assertEquals(Money(750u, "CNY"), Money.sum("CNY", listOf(a, a, a)))
        assertEquals(Money(0u, "EUR"), Money.sum("EUR", emptyList()))
        assertFailsWith<IllegalArgumentException> { a + Money(1u, "USD") }
        assertFailsWith<ArithmeticException> { Money(ULong.MAX_VALUE, "CNY") + Money(1u, "CNY") }
        assertFailsWith<ArithmeticException> { Money(1u, "CNY") - a }
        assertFailsWith<IllegalArgumentException> { Money(1u, "cny") }
        assertFailsWith<IllegalArgumentException> { Money(1u, "YUAN") }
    }

    @Test
    fun `resources close newest first, all of them, even when one fails`() {
        val closed = mutableListOf<String>()
        fun thing(name: String, fail: Boolean = false) = AutoCloseable {
            closed += name
            if (fail) throw IllegalStateException("$name failed to close")
        }
        val e = assertFailsWith<IllegalStateException> {
            withResources {
                +thing("node")
                +thing("key", fail = true)
                +thing("wallet", fail = true)
            }
        }
        assertEquals(listOf("wallet", "key", "node"), closed)
        assertEquals("wallet failed to close", e.message)
        assertEquals(listOf("key failed to close"), e.suppressed.map { it.message })
    }
}
