package org.cascade.bench

import com.sun.jna.Native
import kotlinx.coroutines.runBlocking
import org.cascade.CNY
import org.cascade.TestChain
import org.cascade.ffi.RustBuffer
import org.cascade.ffi.Wallet
import org.cascade.ffi.libraryVersion
import java.lang.management.ManagementFactory
import java.time.LocalDate

/**
 * Per-call cost of crossing the FFI from Kotlin (JNA, uniffi's generated bindings), each next
 * to a baseline measured in the same run (scripts/ffi-bench.sh runs it):
 *
 * - a trivial call, `libraryVersion()` (a short string back from Rust), against a pure-JVM
 *   function doing the JVM's share of the same work (decoding a short UTF-8 buffer into a new
 *   String). Target: under 2 µs per call. One JNA `Structure` allocation (uniffi allocates
 *   several per call) is timed too, to show where the time goes.
 * - the most trivial call the API has, `node.height()` (a method returning a number: no
 *   string or record to convert, only uniffi's per-call protocol).
 * - a proof-verified query, `wallet.piece(id)` on a solo wallet (async: a Rust future driven
 *   from a coroutine; the answer is checked with a Merkle proof against a verified app hash),
 *   against `wallet.view()`, a synchronous FFI call that returns a record of the same kind
 *   from memory without any proof, and against the trivial call.
 *
 * Each figure is the median of several timed rounds after a warm-up round (the JIT compiles
 * the loop and the bindings first), as wall-clock time and as the calling thread's CPU time
 * (which leaves out time the thread waited for a core on a busy machine, but also the work of
 * JNA's cleaner thread and the garbage collector).
 */
fun main(args: Array<String>) {
    val quick = args.firstOrNull() == "quick"
    val scale = if (quick) 10 else 1
    val rounds = if (quick) 3 else 7
    val jvmIters = 2_000_000 / scale
    val ffiIters = 50_000 / scale
    val queryIters = 200 / scale
    val viewIters = 5_000 / scale

    println("== FFI per-call overhead (Kotlin ${KotlinVersion.CURRENT} on JVM ${System.getProperty("java.version")}, JNA ${Native.VERSION}, ${System.getProperty("os.arch")}, ${Runtime.getRuntime().availableProcessors()} cores)")
    println("   library ${libraryVersion()}; median of $rounds rounds after a warm-up round${if (quick) " (quick mode: fewer calls)" else ""}")
    println("   %-54s %14s %14s".format("", "wall ns/call", "cpu ns/call"))

    // ---- trivial call -------------------------------------------------------------------
    val ffi = measure(rounds, ffiIters) { sink = libraryVersion() }
    val jvm = measure(rounds, jvmIters) { sink = jvmVersion() }
    val structure = measure(rounds, ffiIters) { sink = RustBuffer.ByValue() }
    row("trivial FFI call  libraryVersion()", ffi)
    row("baseline: pure JVM, same string built on the JVM", jvm)
    row("of the FFI call: one JNA Structure allocation", structure)
    println("   ratio FFI / pure JVM: %.0fx wall, %.0fx cpu".format(ffi.wall / jvm.wall, ffi.cpu / jvm.cpu))
    println(
        "   target: trivial call < 2000 ns -> %s (wall %.0f ns, cpu %.0f ns)".format(
            if (ffi.wall < 2_000.0) "MET" else "MISSED", ffi.wall, ffi.cpu,
        ),
    )

    // ---- proof-verified query -----------------------------------------------------------
    runBlocking {
        TestChain().use { chain ->
            val wallet = chain.wallet("tier1")
            val id = issueOnePiece(chain, wallet)
            check(wallet.piece(id)?.id == id) { "the piece to query is not there" }

            // A call with nothing to convert: a number back from a method. What remains is
            // uniffi's per-call protocol (the call-status structure, and cloning the object's
            // handle before a method call).
            val number = measure(rounds, ffiIters) { sink = chain.node.height() }
            println()
            row("trivial FFI method returning a number  node.height()", number)
            println(
                "   target: trivial call < 2000 ns -> %s (wall %.0f ns, cpu %.0f ns)".format(
                    if (number.wall < 2_000.0) "MET" else "MISSED", number.wall, number.cpu,
                ),
            )

            val query = measure(rounds, queryIters) { sink = wallet.piece(id) }
            val local = measure(rounds, viewIters) { sink = wallet.view() }
            println()
            row("proof-verified query  wallet.piece(id)", query)
            row("baseline: local FFI read  wallet.view()", local)
            println("   ratio query / local read: %.1fx wall".format(query.wall / local.wall))
            println("   ratio query / trivial FFI call: %.1fx wall".format(query.wall / ffi.wall))
            println("   (the Rust-side cost of the same query is not exposed through the FFI)")
        }
    }
}

/** Where results go, so the JIT cannot drop the calls being timed. */
@Volatile
var sink: Any? = null

private val VERSION_UTF8 = libraryVersion().toByteArray(Charsets.UTF_8)

/** The JVM's share of a trivial call that returns a string: a new String from UTF-8 bytes. */
fun jvmVersion(): String = String(VERSION_UTF8, Charsets.UTF_8)

/** Nanoseconds per call: wall-clock, and the calling thread's CPU time. */
data class PerCall(val wall: Double, val cpu: Double)

private val threads = ManagementFactory.getThreadMXBean()

/** Median per-call times of [block] over [rounds] rounds of [iters] calls, after one warm-up round. */
private inline fun measure(rounds: Int, iters: Int, block: () -> Unit): PerCall {
    repeat(iters) { block() }
    val wall = DoubleArray(rounds)
    val cpu = DoubleArray(rounds)
    for (r in 0 until rounds) {
        val c0 = threads.currentThreadCpuTime
        val t0 = System.nanoTime()
        repeat(iters) { block() }
        wall[r] = (System.nanoTime() - t0).toDouble() / iters
        cpu[r] = (threads.currentThreadCpuTime - c0).toDouble() / iters
    }
    wall.sort()
    cpu.sort()
    return PerCall(wall[rounds / 2], cpu[rounds / 2])
}

private fun row(what: String, t: PerCall) {
    println("   %-54s %14.0f %14.0f".format(what, t.wall, t.cpu))
}

/** Issues one certificate to tier 1 and accepts it; returns the piece id. */
private suspend fun issueOnePiece(chain: TestChain, tier1: Wallet): String {
    val core = chain.wallet("core")
    val bank = chain.wallet("bank")
    val face = 10_000_00uL
    chain.commit(bank, bank.setCreditLine(chain.address("core"), CNY, face))
    chain.commit(core, core.anchorDocument("BENCH-1", face, CNY, chain.address("core"), chain.address("tier1")))
    val maturity = LocalDate.parse(chain.node.today()).plusDays(30).toString()
    chain.commit(core, core.issue(chain.address("tier1"), face, CNY, maturity, "BENCH-1", chain.address("bank")))
    tier1.refresh()
    val offer = tier1.view()!!.offersIn.single()
    chain.commit(tier1, tier1.accept(offer.id))
    return offer.id
}
