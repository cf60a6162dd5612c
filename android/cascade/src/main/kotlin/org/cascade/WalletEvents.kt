package org.cascade

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.emitAll
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.receiveAsFlow
import org.cascade.ffi.Wallet
import org.cascade.ffi.WalletEvent
import org.cascade.ffi.WalletListener
import java.lang.ref.WeakReference
import java.util.WeakHashMap

/**
 * A live subscription to a wallet's events, as a coroutine [Flow].
 *
 * Why a subscription object and not only a cold flow: the library calls the wallet's one
 * [WalletListener] from whatever thread runs `refresh()`, and events raised before anyone
 * listens are gone. Registering happens here, in the constructor, so every event of a
 * `refresh()` that starts after [subscribe] returns is kept (in an unbounded buffer: the
 * listener never blocks the library's thread) until [events] is collected.
 *
 * A wallet has one listener slot: a new subscription replaces the previous one, whose flow
 * then sees no more events. [close] clears the slot (if this subscription still holds it) and
 * completes [events].
 */
class WalletEventSubscription internal constructor(private val wallet: Wallet) : AutoCloseable {
    private val channel = Channel<WalletEvent>(Channel.UNLIMITED)

    private val listener = object : WalletListener {
        override fun onEvent(event: WalletEvent) {
            // Never throws back into Rust: a closed channel just drops the event.
            channel.trySend(event)
        }
    }

    init {
        synchronized(current) {
            current[wallet] = WeakReference(this)
            wallet.setListener(listener)
        }
    }

    /** The events, in the order the library reported them; completes on [close]. */
    val events: Flow<WalletEvent> = channel.receiveAsFlow()

    override fun close() {
        if (channel.close()) {
            // Only while this subscription still holds the slot: clearing it after a newer
            // subscription took it over would silently cut that one off.
            synchronized(current) {
                if (current[wallet]?.get() === this) {
                    current.remove(wallet)
                    wallet.setListener(null)
                }
            }
        }
    }

    private companion object {
        /**
         * Which subscription holds each wallet's listener slot. Weak both ways (the key, and
         * the value, which refers to its wallet), so it keeps nothing alive; also the lock
         * that orders subscribing and closing.
         */
        val current = WeakHashMap<Wallet, WeakReference<WalletEventSubscription>>()
    }
}

/** Starts listening to this wallet's events now; see [WalletEventSubscription]. */
fun Wallet.subscribe(): WalletEventSubscription = WalletEventSubscription(this)

/**
 * The wallet's events as a cold flow: each collector registers the wallet's listener when it
 * starts collecting and clears it when it stops (cancellation included). Convenient for UI
 * code; events of a `refresh()` that ran before collection started are not seen — use
 * [subscribe] when that matters.
 */
fun Wallet.events(): Flow<WalletEvent> = flow {
    subscribe().use { emitAll(it.events) }
}
