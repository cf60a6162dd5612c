package org.cascade

import org.cascade.ffi.Lineage
import org.cascade.ffi.currencyMinorDigits
import org.cascade.ffi.PieceInfo

/**
 * An amount of money: integer minor units (fen, cents) and an ISO-4217 currency code, as on
 * the ledger. No floating point anywhere, so sums and comparisons are exact.
 *
 * Arithmetic refuses to mix currencies and to overflow or go negative (it throws
 * [IllegalArgumentException] / [ArithmeticException]) rather than produce a wrong figure.
 */
data class Money(val minor: ULong, val currency: String) : Comparable<Money> {
    init {
        require(currency.length == 3 && currency.all { it in 'A'..'Z' }) {
            "currency must be a 3-letter upper-case ISO-4217 code, got \"$currency\""
        }
    }

    operator fun plus(other: Money): Money {
        sameCurrency(other)
        val sum = minor + other.minor
        if (sum < minor) throw ArithmeticException("$this + $other overflows")
        return Money(sum, currency)
    }

    operator fun minus(other: Money): Money {
        sameCurrency(other)
        if (other.minor > minor) throw ArithmeticException("$this - $other is negative")
        return Money(minor - other.minor, currency)
    }

    override fun compareTo(other: Money): Int {
        sameCurrency(other)
        return minor.compareTo(other.minor)
    }

    /**
     * The amount with its decimal point, e.g. `1000000.00 CNY`, `1500 JPY`, `1.500 KWD`.
     * [exponent] is the currency's number of minor-unit digits; by default ISO 4217's, from the
     * library ([currencyMinorDigits]: 2 for most, 0 for JPY or KRW, 3 for KWD), the same digits
     * the Rust core shows.
     */
    fun format(exponent: Int = currencyMinorDigits(currency).toInt()): String {
        require(exponent in 0..18) { "exponent must be 0..18, got $exponent" }
        if (exponent == 0) return "$minor $currency"
        val digits = minor.toString().padStart(exponent + 1, '0')
        val point = digits.length - exponent
        return "${digits.substring(0, point)}.${digits.substring(point)} $currency"
    }

    override fun toString(): String = format()

    private fun sameCurrency(other: Money) {
        require(other.currency == currency) { "cannot combine $currency with ${other.currency}" }
    }

    companion object {
        /** The sum of [amounts] in [currency] (zero for an empty list). */
        fun sum(currency: String, amounts: Iterable<Money>): Money =
            amounts.fold(Money(0u, currency)) { acc, m -> acc + m }
    }
}

/** This piece's amount as [Money]. */
val PieceInfo.money: Money get() = Money(amount, currency)

/** The certificate's face value as [Money]. */
val Lineage.faceMoney: Money get() = Money(face, currency)
