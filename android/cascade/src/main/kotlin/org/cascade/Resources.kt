package org.cascade

/**
 * Closes a group of library objects together, last opened first.
 *
 * Every object the library hands out (`SoloNode`, `KeyPair`, `Wallet`, ...) holds native
 * memory and implements [AutoCloseable]. One object is best closed with Kotlin's `use {}`;
 * a screen or a test that builds several (a node, keys, wallets) registers them here and
 * closes them in one place. Objects left to the garbage collector are freed eventually by the
 * bindings' cleaner, but a wallet also holds its cache file open, so close it explicitly.
 */
class Resources : AutoCloseable {
    private val opened = ArrayDeque<AutoCloseable>()

    /** Registers [this] for closing and returns it, so `val w = +Wallet.solo(...)` reads naturally. */
    operator fun <T : AutoCloseable> T.unaryPlus(): T {
        synchronized(opened) { opened.addLast(this) }
        return this
    }

    /**
     * Closes every registered object, newest first. Every object is closed even if one
     * throws; the first failure is rethrown with the others suppressed.
     */
    override fun close() {
        var failure: Throwable? = null
        while (true) {
            val next = synchronized(opened) { opened.removeLastOrNull() } ?: break
            try {
                next.close()
            } catch (t: Throwable) {
                if (failure == null) failure = t else failure.addSuppressed(t)
            }
        }
        if (failure != null) throw failure
    }
}

/** Runs [block] with a [Resources] scope and closes everything it registered afterwards. */
inline fun <R> withResources(block: Resources.() -> R): R = Resources().use { it.block() }
