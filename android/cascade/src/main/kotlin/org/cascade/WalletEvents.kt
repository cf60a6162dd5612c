package org.cascade

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.emitAll
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.receiveAsFlow
import org.cascade.ffi.Wallet
import org.cascade.ffi.WalletEvent
import org.cascade.ffi.WalletListener

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
        wallet.setListener(listener)
    }

    /** The events, in the order the library reported them; completes on [close]. */
    val events: Flow<WalletEvent> = channel.receiveAsFlow()

    override fun close() {
        if (channel.close()) {
            wallet.setListener(null)
        }
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
