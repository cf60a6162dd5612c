"""The FFI surface from Python, through uniffi's generated bindings (module `cascade`).

Run by `bindings/tests/python.rs` (`cargo test -p cascade-ffi`), which generates
`cascade.py`, puts the freshly built library next to it and runs this file with plain
`unittest` (no packages to install). Everything goes through the FFI: keys, an embedded solo
chain, wallets that verify headers and proofs, async calls, and Python implementations of
the foreign traits (listener, signer, HTTP client).
"""

import asyncio
import base64
import datetime
import functools
import gc
import hashlib
import json
import os
import re
import tempfile
import threading
import unittest

import cascade
from cascade import (
    GenesisParticipant,
    HostSigner,
    HttpClient,
    HttpReply,
    KeyPair,
    KeyPairError,
    NodeError,
    Role,
    SoloConfig,
    SoloNode,
    TransferOutput,
    Wallet,
    WalletError,
    WalletListener,
)

# The public BIP-39 test vector phrase (test keys only).
PHRASE = "abandon " * 11 + "about"
CNY = "CNY"
FACE = 1_000_000_00  # 1,000,000.00 in minor units
# Stable ledger error codes (core/src/error.rs, TxError::code).
SPLIT_EXCEEDS_PIECE = 33
NOT_MATURED = 61
# secp256k1 group order, for making high-S signatures.
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def run(coro):
    return asyncio.run(coro)


@functools.lru_cache(maxsize=None)
def key(index):
    # Test keys from fixed secrets: BIP-39 seed stretching is deliberately slow (slower still
    # in a debug build), so phrases are exercised in `test_key_errors` only. KeyPair objects
    # are immutable and thread-safe, so sharing them between tests is fine.
    return KeyPair.from_secret(hashlib.sha256(b"cascade-ffi-test-%d" % index).digest())


def day(text):
    return datetime.date.fromisoformat(text)


def discount_interest(face, rate_bps, days, basis=360):
    """face * rate * days / basis, rounded half-up (rate in millionths, as the ledger)."""
    num = face * rate_bps * 100 * days
    den = 1_000_000 * basis
    return (2 * num + den) // (2 * den)


class PySigner(HostSigner):
    """A host signer: a key the library never holds directly (here a KeyPair stands in for
    the Keystore). Returns high-S signatures on purpose: the library must normalise them."""

    def __init__(self, keypair, high_s=True):
        self.keypair = keypair
        self.high_s = high_s
        self.calls = 0
        self.threads = set()

    def public_key(self):
        return self.keypair.public_key()

    def sign_digest(self, digest):
        self.calls += 1
        self.threads.add(threading.get_ident())
        sig = self.keypair.sign_digest(digest)
        if not self.high_s:
            return sig
        r, s = sig[:32], int.from_bytes(sig[32:], "big")
        return r + (N - s).to_bytes(32, "big")


class BrokenSigner(HostSigner):
    def __init__(self, keypair, mode):
        self.keypair = keypair
        self.mode = mode

    def public_key(self):
        if self.mode == "bad-key":
            return "02" + "ff" * 32
        return self.keypair.public_key()

    def sign_digest(self, digest):
        if self.mode == "short":
            return b"\x01" * 10
        if self.mode == "raise":
            raise ValueError("the keystore is locked")
        raise KeyPairError.Signer("user cancelled the biometric prompt")


class Recorder(WalletListener):
    def __init__(self, fail=False):
        self.events = []
        self.fail = fail
        self.threads = set()

    def on_event(self, event):
        self.threads.add(threading.get_ident())
        self.events.append(event)
        if self.fail:
            raise RuntimeError("listener bug")


class CannedHttp(HttpClient):
    """An app HTTP client that answers every GET with the same canned reply (or error)."""

    def __init__(self, reply=None, error=None):
        self.reply = reply
        self.error = error
        self.urls = []

    def get(self, url):
        self.urls.append(url)
        if self.error is not None:
            raise self.error
        return self.reply


class SoloProxy(HttpClient):
    """An app HTTP client whose "network" is the embedded chain's JSON-RPC answers; with
    `lie`, it alters the proofs of holdings lists (a man in the middle)."""

    def __init__(self, node, lie=False):
        self.node = node
        self.lie = lie
        self.urls = []

    def get(self, url):
        self.urls.append(url)
        reply = self.node.rpc_get(url)
        if self.lie and "abci_query" in url and "holdings" in url:
            body = json.loads(reply.body)
            value = base64.b64decode(body["result"]["response"]["value"])
            body["result"]["response"]["value"] = base64.b64encode(drop_last_piece(value)).decode()
            reply = HttpReply(status=reply.status, body=json.dumps(body).encode())
        return reply


def drop_last_piece(answer):
    """Removes the last piece from a borsh-encoded `Answer::List` (core/src/query.rs,
    proof.rs): a list that is still well formed and whose remaining proofs are all valid,
    but incomplete. Only the proven count can catch it."""
    b, u32 = answer, lambda i: int.from_bytes(answer[i:i + 4], "little")

    def state_proof(i):  # key: Vec<u8>, value: Option<Vec<u8>>, proof: Vec<u8>, version: u64
        i += 4 + u32(i)
        present, i = b[i], i + 1
        if present:
            i += 4 + u32(i)
        i += 4 + u32(i)
        return i + 8

    assert b[0] == 1, "Answer::List"
    i = state_proof(1 + 1 + 20)  # variant, list kind, account; then the account's proof
    count_at, count = i, u32(i)
    assert count >= 1, "nothing to drop"
    ends, i = [], i + 4
    for _ in range(count):
        i = state_proof(i + 32)  # piece id, then its proof
        ends.append(i)
    assert i == len(b)
    keep_to = ends[-2] if count > 1 else count_at + 4
    return b[:count_at] + (count - 1).to_bytes(4, "little") + b[count_at + 4:keep_to]


def events_of(events, kind):
    return [e for e in events if getattr(e, "is_" + kind)()]


class Chain:
    """A solo chain with an operator, an obligor, three supplier tiers and a bank."""

    def __init__(self, data_dir=None, bank_signer=None, genesis_day="2025-03-01"):
        self.keys = {name: key(i) for i, name in enumerate(["op", "core", "t1", "t2", "t3", "bank"])}
        roles = {
            "op": [Role.OPERATOR],
            "core": [Role.OBLIGOR],
            "t1": [Role.SUPPLIER],
            "t2": [Role.SUPPLIER],
            "t3": [Role.SUPPLIER],
            "bank": [Role.FINANCIER],
        }
        participants = [
            GenesisParticipant(public_key=k.public_key(), roles=roles[n], legal_id="legal-" + n)
            for n, k in self.keys.items()
        ]
        self.node = SoloNode(
            SoloConfig(
                chain_id="cascade-py",
                genesis_day=genesis_day,
                participants=participants,
                data_dir=data_dir,
            )
        )
        self.w = {}
        for name, k in self.keys.items():
            if name == "bank" and bank_signer is not None:
                self.w[name] = Wallet.solo_with_signer(self.node, bank_signer, None)
            else:
                self.w[name] = Wallet.solo(self.node, k, None)

    def addr(self, name):
        return self.keys[name].address()

    def commit(self, wallet_name, tx):
        """Produces the block that includes `tx` and checks the submitter sees it committed."""
        height = self.node.produce_block()
        events = run(self.w[wallet_name].refresh())
        confirmed = [e for e in events_of(events, "CONFIRMED") if e.tx == tx]
        assert confirmed, (wallet_name, events)
        assert confirmed[0].height == height, (confirmed, height)
        state = self.w[wallet_name].tx_state(tx)
        assert state.is_COMMITTED() and state.height == height, state
        return events


class LifecycleTest(unittest.TestCase):
    def test_three_tier_lifecycle(self):
        bank_signer = PySigner(key(5))
        c = Chain(bank_signer=bank_signer)
        w = c.w
        for name in w:
            self.assertEqual(run(w[name].refresh()), [], name)
            self.assertEqual(w[name].address(), c.addr(name))
        view = w["t1"].view()
        self.assertEqual(view.holdings, [])
        self.assertEqual(view.today, "2025-03-01")

        # Credit line (signed by the app's own signer, with high-S signatures).
        tx = run(w["bank"].set_credit_line(c.addr("core"), CNY, 2 * FACE))
        c.commit("bank", tx)
        self.assertGreaterEqual(bank_signer.calls, 1)
        self.assertNotIn(threading.get_ident(), bank_signer.threads, "signer runs off the caller's thread")

        # Document and certificate.
        tx = run(w["core"].anchor_document("INV-2025-001", FACE, CNY, c.addr("core"), c.addr("t1")))
        c.commit("core", tx)
        maturity = (day(c.node.today()) + datetime.timedelta(days=30)).isoformat()
        tx = run(w["core"].issue(c.addr("t1"), FACE, CNY, maturity, "INV-2025-001", c.addr("bank")))
        c.commit("core", tx)
        out = w["core"].view().offers_out
        self.assertEqual(len(out), 1)
        root = out[0].id
        self.assertEqual(out[0].root, root)
        self.assertEqual((out[0].amount, out[0].currency, out[0].maturity, out[0].tier), (FACE, CNY, maturity, 1))

        # Tier 1 sees the offer (through a listener too) and accepts it.
        listener = Recorder()
        w["t1"].set_listener(listener)
        events = run(w["t1"].refresh())
        self.assertEqual([(e.piece, e.amount) for e in events_of(events, "OFFER_RECEIVED")], [(root, FACE)])
        self.assertEqual(listener.events, events)
        self.assertNotIn(threading.get_ident(), listener.threads)
        offer = w["t1"].view().offers_in[0]
        self.assertTrue(offer.state.is_PENDING())
        self.assertEqual(offer.state.kind, cascade.OfferKind.ISSUE)
        self.assertEqual(offer.state.sender, c.addr("core"))
        tx = run(w["t1"].accept(root))
        self.assertTrue(w["t1"].tx_state(tx).is_PENDING())
        events = c.commit("t1", tx)
        self.assertEqual([(e.piece, e.amount) for e in events_of(events, "HOLDING_ADDED")], [(root, FACE)])
        self.assertIn(root, [e.piece for e in events_of(events, "OFFER_CLOSED")])
        self.assertEqual(listener.events[-len(events):], events)
        w["t1"].set_listener(None)

        # Tier 1 splits 600,000.00 to tier 2 (400,000.00 change); tier 2 accepts.
        tx = run(w["t1"].transfer(root, [TransferOutput(to=c.addr("t2"), amount=600_000_00)]))
        events = c.commit("t1", tx)
        self.assertEqual([e.piece for e in events_of(events, "HOLDING_REMOVED")], [root])
        change1 = events_of(events, "HOLDING_ADDED")
        self.assertEqual([e.amount for e in change1], [400_000_00])
        change1 = change1[0].piece
        p2 = [(e.piece, e.amount) for e in events_of(run(w["t2"].refresh()), "OFFER_RECEIVED")]
        self.assertEqual([a for _, a in p2], [600_000_00])
        p2 = p2[0][0]
        c.commit("t2", run(w["t2"].accept(p2)))
        held = w["t2"].view().holdings
        self.assertEqual([(h.id, h.amount, h.tier, h.parent) for h in held], [(p2, 600_000_00, 2, root)])

        # Tier 2 passes 250,000.00 down to tier 3.
        events = c.commit("t2", run(w["t2"].transfer(p2, [TransferOutput(to=c.addr("t3"), amount=250_000_00)])))
        change2 = [e.piece for e in events_of(events, "HOLDING_ADDED")]
        self.assertEqual(len(change2), 1)
        change2 = change2[0]
        p3 = [e.piece for e in events_of(run(w["t3"].refresh()), "OFFER_RECEIVED")]
        self.assertEqual(len(p3), 1)
        p3 = p3[0]
        c.commit("t3", run(w["t3"].accept(p3)))
        held = w["t3"].view().holdings
        self.assertEqual([(h.id, h.amount, h.tier) for h in held], [(p3, 250_000_00, 3)])
        self.assertTrue(held[0].state.is_ACTIVE())

        # Over-split: the ledger's typed refusal, checked locally, nothing broadcast.
        mempool = c.node.pending_transactions()
        with self.assertRaises(WalletError.Refused) as err:
            run(w["t3"].transfer(p3, [TransferOutput(to=c.addr("t2"), amount=250_000_01)]))
        self.assertEqual(err.exception.code, SPLIT_EXCEEDS_PIECE)
        self.assertIn("25000001", err.exception.reason.replace(",", "").replace(".", ""))
        self.assertEqual(c.node.pending_transactions(), mempool)

        # Financing: a quote first, checked against the pricing formula, then request and accept.
        quote = w["t3"].quote(p3, 250_000_00, 450)
        days = (day(maturity) - day(w["t3"].view().today)).days
        self.assertEqual((quote.face, quote.rate_bps, quote.days), (250_000_00, 450, days))
        self.assertEqual(quote.day_basis, 360, "the chain's day count, ACT/360 by default")
        self.assertEqual(quote.interest, discount_interest(250_000_00, 450, days))
        self.assertEqual(quote.interest + quote.proceeds, 250_000_00)
        self.assertGreater(quote.interest, 0)
        c.commit("t3", run(w["t3"].request_financing(p3, c.addr("bank"), 250_000_00, 450)))
        requests = events_of(run(w["bank"].refresh()), "OFFER_RECEIVED")
        self.assertEqual([e.amount for e in requests], [250_000_00])
        req = requests[0].piece
        asked = [o for o in w["bank"].view().offers_in if o.id == req][0]
        self.assertTrue(asked.state.is_FINANCING_REQUESTED())
        self.assertEqual((asked.state.financier, asked.state.rate_bps), (c.addr("bank"), 450))
        events = c.commit("bank", run(w["bank"].accept_financing(req, "wire-0001")))
        financed = events_of(events, "HOLDING_ADDED")
        self.assertEqual([e.amount for e in financed], [250_000_00])
        financed = financed[0].piece
        piece = run(w["bank"].piece(financed))
        self.assertTrue(piece.state.is_FINANCED())
        self.assertEqual(piece.holder, c.addr("bank"))
        f = piece.financing
        self.assertEqual((f.seller, f.rate_bps, f.days, f.payment_reference), (c.addr("t3"), 450, days, "wire-0001"))
        self.assertEqual((f.interest, f.proceeds), (quote.interest, quote.proceeds))
        self.assertEqual(f.proceeds, 250_000_00 - f.interest)
        run(w["t3"].refresh())
        self.assertEqual(w["t3"].view().holdings, [])

        # Lineage before settlement: outstanding pieces add up to the face value.
        lineage = run(w["t1"].lineage(root))
        self.assertEqual((lineage.face, lineage.currency, lineage.maturity), (FACE, CNY, maturity))
        self.assertEqual(lineage.obligor, c.addr("core"))
        self.assertEqual(lineage.document, cascade.document_hash("INV-2025-001"))
        self.assertEqual(lineage.status, cascade.CertificateStatus.LIVE)
        outstanding = [p for p in lineage.pieces if p.state.is_ACTIVE() or p.state.is_FINANCED()
                       or p.state.is_PENDING() or p.state.is_FINANCING_REQUESTED()]
        self.assertEqual(sum(p.amount for p in outstanding), FACE)
        self.assertEqual({p.id for p in outstanding}, {change1, change2, financed})
        self.assertEqual(max(p.tier for p in lineage.pieces), 3)

        # The bank prices by the obligor's settlement record, proven: one certificate
        # accepted, nothing settled yet. An address with no record is all zeros.
        record = run(w["bank"].obligor_record(c.addr("core")))
        self.assertEqual(record, cascade.ObligorRecord(
            certificates=1, settled_on_time=0, settled_late=0, overdue_now=0, faces=[]))
        none = run(w["bank"].obligor_record(c.addr("t1")))
        self.assertEqual((none.certificates, none.settled_on_time, none.faces), (0, 0, []))

        # Settling before maturity is refused by the node with the ledger's code.
        run(w["core"].refresh())
        with self.assertRaises(WalletError.Refused) as err:
            run(w["core"].settle(root))
        self.assertEqual(err.exception.code, NOT_MATURED)

        # Past maturity the obligor settles; every holder's piece leaves its holdings.
        c.node.advance_days(31)
        self.assertGreater(day(c.node.today()), day(maturity))
        run(w["core"].refresh())
        c.commit("core", run(w["core"].settle(root)))
        for name, piece in [("t1", change1), ("t2", change2), ("bank", financed)]:
            events = run(w[name].refresh())
            self.assertEqual([e.piece for e in events_of(events, "HOLDING_REMOVED")], [piece], name)
            self.assertEqual(w[name].view().holdings, [], name)
        lineage = run(w["t2"].lineage(root))
        self.assertEqual(lineage.status, cascade.CertificateStatus.SETTLED)
        settled = [p for p in lineage.pieces if p.state.is_SETTLED()]
        self.assertEqual(sum(p.amount for p in settled), FACE)
        self.assertFalse(any(p.state.is_ACTIVE() or p.state.is_FINANCED() for p in lineage.pieces))
        self.assertTrue(all(p.state.is_CONSUMED() for p in lineage.pieces if p.id in (root, p2)))
        # Paid a day after maturity, inside the grace period: on time.
        record = run(w["bank"].obligor_record(c.addr("core")))
        self.assertEqual((record.certificates, record.settled_on_time, record.settled_late, record.overdue_now),
                         (1, 1, 0, 0))
        self.assertEqual(record.faces, [cascade.SettledFaces(currency=CNY, on_time=FACE, late=0)])


class ErrorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Chain()
        for w in cls.c.w.values():
            run(w.refresh())

    def test_bad_input_is_a_typed_error_naming_the_field(self):
        c, w = self.c, self.c.w
        mempool = c.node.pending_transactions()
        cases = [
            ("piece", lambda: w["t1"].accept("zz")),
            ("piece", lambda: w["t1"].accept("ab" * 31)),
            ("outputs[0].to", lambda: w["t1"].transfer("00" * 32, [TransferOutput(to="xyz", amount=1)])),
            ("maturity", lambda: w["core"].issue(c.addr("t1"), 1, CNY, "2025-02-30", "doc", c.addr("bank"))),
            ("currency", lambda: w["bank"].set_credit_line(c.addr("core"), "cny", 1)),
            ("public_key", lambda: w["op"].register_participant("02" + "ff" * 32, [Role.SUPPLIER], "x")),
            ("roles", lambda: w["op"].register_participant(c.keys["t1"].public_key(), [], "x")),
            ("tx", lambda: w["t1"].tx_state("not-hex")),
            ("rate_bps", lambda: w["t1"].quote("00" * 32, 1, 4_294_967_295)),
            ("reference", lambda: w["core"].anchor_document("  ", 1, CNY, c.addr("core"), c.addr("t1"))),
            ("obligor", lambda: w["bank"].obligor_record("zz")),
            ("payment_reference", lambda: w["bank"].accept_financing("00" * 32, "")),
            ("payment_reference", lambda: w["bank"].accept_financing("00" * 32, "w" * 65)),
        ]
        for field, call in cases:
            with self.subTest(field=field):
                with self.assertRaises(WalletError.InvalidInput) as err:
                    result = call()
                    if asyncio.iscoroutine(result):
                        run(result)
                self.assertEqual(err.exception.field, field)
                self.assertTrue(err.exception.reason)
        self.assertEqual(c.node.pending_transactions(), mempool, "nothing was broadcast")

    def test_unknown_ids_and_transactions(self):
        w = self.c.w
        stranger = "09" * 32
        with self.assertRaises(WalletError.NotInWallet) as err:
            run(w["t1"].accept(stranger))
        self.assertEqual((err.exception.id, err.exception.list), (stranger, "offers"))
        with self.assertRaises(WalletError.NotInWallet):
            w["t1"].quote(stranger, 1, 100)
        self.assertIsNone(w["t1"].tx_state(stranger))
        self.assertIsNone(run(w["t1"].piece(stranger)))
        with self.assertRaises(WalletError.NotInWallet) as err:
            run(w["t1"].resubmit(stranger))
        self.assertEqual(err.exception.list, "transactions")

    def test_not_synced_before_the_first_refresh(self):
        fresh = Wallet.solo(self.c.node, key(9), None)
        self.assertIsNone(fresh.view())
        with self.assertRaises(WalletError.NotSynced):
            run(fresh.accept("01" * 32))

    def test_key_errors(self):
        k = KeyPair.from_mnemonic(PHRASE, "", 0)
        self.assertEqual(KeyPair.from_mnemonic(PHRASE.upper(), "", 0).address(), k.address())
        self.assertNotEqual(KeyPair.from_mnemonic(PHRASE, "", 1).address(), k.address())
        self.assertNotEqual(KeyPair.from_mnemonic(PHRASE, "pass", 0).address(), k.address())
        sealed = k.seal(b"s" * 32)
        self.assertEqual(KeyPair.unseal(sealed, b"s" * 32).address(), k.address())
        with self.assertRaises(KeyPairError.WrongStorageSecret):
            KeyPair.unseal(sealed, b"t" * 32)
        tampered = bytearray(sealed)
        tampered[-1] ^= 1
        with self.assertRaises(KeyPairError.WrongStorageSecret):
            KeyPair.unseal(bytes(tampered), b"s" * 32)
        with self.assertRaises(KeyPairError.InvalidSealedKey):
            KeyPair.unseal(sealed[:20], b"s" * 32)
        with self.assertRaises(KeyPairError.UnsupportedFormat) as err:
            KeyPair.unseal(b"\x07" + sealed[1:], b"s" * 32)
        self.assertEqual(err.exception.version, 7)
        with self.assertRaises(KeyPairError.StorageSecretTooShort) as err:
            k.seal(b"abc")
        self.assertEqual((err.exception.min_bytes, err.exception.got), (16, 3))
        with self.assertRaises(KeyPairError.InvalidMnemonic) as err:
            KeyPair.from_mnemonic("hello world", "", 0)
        self.assertIn("recovery phrase", err.exception.reason)
        with self.assertRaises(KeyPairError.InvalidSecretKey):
            KeyPair.from_secret(b"\x00" * 32)
        with self.assertRaises(KeyPairError.InvalidInput) as err:
            k.sign_digest(b"short")
        self.assertEqual(err.exception.field, "digest")
        self.assertEqual(KeyPair.from_secret(k.export_secret()).public_key(), k.public_key())
        generated = cascade.generate_key()
        self.assertEqual(len(generated.phrase.split()), 24)
        self.assertEqual(KeyPair.from_mnemonic(generated.phrase, "", 0).address(), generated.key.address())
        self.assertNotEqual(generated.key.address(), k.address())

    def test_node_errors(self):
        good = GenesisParticipant(public_key=key(0).public_key(), roles=[Role.OPERATOR], legal_id="op")
        bad_key = GenesisParticipant(public_key="02" + "ff" * 32, roles=[Role.OPERATOR], legal_id="op")
        with self.assertRaises(NodeError.InvalidConfig) as err:
            SoloNode(SoloConfig(chain_id="c", genesis_day="2025-03-01", participants=[good, bad_key], data_dir=None))
        self.assertEqual(err.exception.field, "participants[1].public_key")
        with self.assertRaises(NodeError.InvalidConfig) as err:
            SoloNode(SoloConfig(chain_id="c", genesis_day="March 1st", participants=[good], data_dir=None))
        self.assertEqual(err.exception.field, "genesis_day")
        supplier_only = GenesisParticipant(public_key=key(0).public_key(), roles=[Role.SUPPLIER], legal_id="s")
        with self.assertRaises(NodeError.InvalidConfig):
            SoloNode(SoloConfig(chain_id="c", genesis_day="2025-03-01", participants=[supplier_only], data_dir=None))
        with self.assertRaises(NodeError.InvalidInput) as err:
            self.c.node.advance_days(0)
        self.assertEqual(err.exception.field, "days")

    def test_signer_failures_are_typed(self):
        c = self.c
        with self.assertRaises(WalletError.Signer):
            Wallet.solo_with_signer(c.node, BrokenSigner(key(1), "bad-key"), None)
        for mode in ["short", "raise", "typed"]:
            with self.subTest(mode=mode):
                w = Wallet.solo_with_signer(c.node, BrokenSigner(key(1), mode), None)
                run(w.refresh())
                mempool = c.node.pending_transactions()
                with self.assertRaises(WalletError.Signer) as err:
                    run(w.anchor_document("doc-" + mode, 1_00, CNY, c.addr("core"), c.addr("t1")))
                self.assertEqual(c.node.pending_transactions(), mempool)
                if mode == "typed":
                    self.assertIn("biometric", err.exception.reason)
                if mode == "raise":
                    self.assertIn("keystore is locked", err.exception.reason)


class AsyncAndListenerTest(unittest.TestCase):
    def test_concurrent_refreshes_and_a_failing_listener(self):
        c = Chain()
        run(c.w["bank"].refresh())
        tx = run(c.w["bank"].set_credit_line(c.addr("core"), CNY, FACE))

        async def all_refresh():
            return await asyncio.gather(*(w.refresh() for w in c.w.values()))

        # Six wallets refresh at once on one solo node: each gets a consistent, verified view.
        results = run(all_refresh())
        self.assertEqual(len(results), 6)
        heights = [w.view().height for w in c.w.values()]
        self.assertTrue(all(h >= 1 for h in heights), heights)
        run(all_refresh())
        self.assertEqual(c.w["bank"].tx_state(tx).is_COMMITTED(), True)

        # A listener that throws does not break the refresh.
        failing = Recorder(fail=True)
        c.w["core"].set_listener(failing)
        events = run(c.w["core"].refresh())
        self.assertEqual(failing.events, events)

        # Many calls on one wallet at once are serialised, not raced.
        async def many_reads():
            return await asyncio.gather(*(c.w["t1"].piece("07" * 32) for _ in range(8)))

        self.assertEqual(run(many_reads()), [None] * 8)


class PersistenceTest(unittest.TestCase):
    def test_wallet_cache_and_node_directory_survive_reopening(self):
        with tempfile.TemporaryDirectory() as tmp:
            chain_dir = os.path.join(tmp, "chain")
            c = Chain(data_dir=chain_dir)
            anchor = c.node.trust_anchor()
            cache = os.path.join(tmp, "bank.redb")
            bank = Wallet.solo(c.node, c.keys["bank"], cache)
            run(bank.refresh())
            tx = run(bank.set_credit_line(c.addr("core"), CNY, FACE))
            c.node.produce_block()
            run(bank.refresh())
            view = bank.view()
            del bank
            gc.collect()
            reopened = Wallet.solo(c.node, c.keys["bank"], cache)
            self.assertEqual(reopened.view(), view, "the cache opens without the network")
            self.assertTrue(reopened.tx_state(tx).is_COMMITTED())
            height = c.node.height()
            del reopened, c
            gc.collect()
            again = Chain(data_dir=chain_dir)
            self.assertEqual(again.node.height(), height)
            self.assertEqual(again.node.trust_anchor(), anchor, "the validator key persists")
            with self.assertRaises(WalletError.Storage):
                Wallet.solo(again.node, again.keys["t1"], os.path.join(tmp, "no-such-dir", "x.redb"))


class HttpClientTest(unittest.TestCase):
    """The app's HTTP client: the library builds the CometBFT URLs and checks every answer,
    so a client that serves garbage or fails gives a typed error, never a crash."""

    @classmethod
    def setUpClass(cls):
        cls.c = Chain()

    def wallet(self, client, url="https://rpc.cascade.invalid/"):
        return Wallet.connect_with_client(
            self.c.node.trust_anchor(), url, [], client, PySigner(key(2), high_s=False), None
        )

    def test_garbage_is_a_verification_error(self):
        client = CannedHttp(reply=HttpReply(status=200, body=b"<html>not json</html>"))
        with self.assertRaises(WalletError.Verification):
            run(self.wallet(client).refresh())
        self.assertTrue(client.urls)
        # A refresh asks the ledger's parameters first, then the account's lists; the garbage
        # answer to the first question ends it.
        self.assertEqual(client.urls, ["https://rpc.cascade.invalid/abci_query?path=%22%2Fparams%22"])

    def test_a_well_formed_answer_with_a_bogus_value_is_a_verification_error(self):
        body = b'{"jsonrpc":"2.0","id":-1,"result":{"response":{"code":0,"log":"","value":"AAAA","height":"5"}}}'
        with self.assertRaises(WalletError.Verification):
            run(self.wallet(CannedHttp(reply=HttpReply(status=200, body=body))).refresh())

    def test_client_failures_are_network_errors(self):
        down = CannedHttp(error=WalletError.Network("rpc", "no route to host"))
        with self.assertRaises(WalletError.Network) as err:
            run(self.wallet(down).refresh())
        self.assertIn("no route to host", err.exception.reason)
        self.assertEqual(err.exception.node, "https://rpc.cascade.invalid")
        busy = CannedHttp(reply=HttpReply(status=503, body=b"busy"))
        with self.assertRaises(WalletError.Network):
            run(self.wallet(busy).refresh())
        crashing = CannedHttp(error=ZeroDivisionError("bug in the app's client"))
        with self.assertRaises(WalletError.Network) as err:
            run(self.wallet(crashing).refresh())
        self.assertIn("bug in the app's client", err.exception.reason)

    def test_urls_are_checked(self):
        with self.assertRaises(WalletError.InvalidInput) as err:
            self.wallet(CannedHttp(), url="ftp://node")
        self.assertEqual(err.exception.field, "primary_url")
        with self.assertRaises(WalletError.InvalidInput) as err:
            Wallet.connect(self.c.node.trust_anchor(), "https://node", [], key(2), None)
        self.assertEqual(err.exception.field, "primary_url")
        anchor = cascade.TrustAnchor(chain_id="cascade-py", validators_hash="12")
        with self.assertRaises(WalletError.InvalidInput) as err:
            Wallet.connect(anchor, "http://127.0.0.1:1", [], key(2), None)
        self.assertEqual(err.exception.field, "anchor.validators_hash")

    def test_the_built_in_client_reports_an_unreachable_node(self):
        w = Wallet.connect(self.c.node.trust_anchor(), "http://127.0.0.1:1", [], key(2), None)
        with self.assertRaises(WalletError.Network):
            run(w.refresh())


class SoloRpcTest(unittest.TestCase):
    """A Python HttpClient carrying a wallet over CometBFT JSON-RPC end to end: the library
    builds the URLs, the client moves the bytes (here from the solo chain's `rpc_get`), and
    the wallet verifies real headers, commits and proofs, with a witness cross-check, on the
    phone's clock (so the chain starts yesterday)."""

    def test_a_python_http_client_carries_a_verified_wallet(self):
        yesterday = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=1)
        c = Chain(genesis_day=yesterday.isoformat())
        w = c.w
        for name in ("bank", "core"):
            run(w[name].refresh())
        c.commit("bank", run(w["bank"].set_credit_line(c.addr("core"), CNY, FACE)))
        c.commit("core", run(w["core"].anchor_document("INV-RPC", FACE, CNY, c.addr("core"), c.addr("t1"))))
        maturity = (day(c.node.today()) + datetime.timedelta(days=20)).isoformat()
        c.commit("core", run(w["core"].issue(c.addr("t1"), FACE, CNY, maturity, "INV-RPC", c.addr("bank"))))
        root = w["core"].view().offers_out[0].id

        proxy = SoloProxy(c.node)
        t1 = Wallet.connect_with_client(
            c.node.trust_anchor(), "https://solo.example/rpc", ["https://witness.example"],
            proxy, PySigner(c.keys["t1"]), None,
        )
        events = run(t1.refresh())
        self.assertEqual([(e.piece, e.amount) for e in events_of(events, "OFFER_RECEIVED")], [(root, FACE)])
        for needed in ["https://solo.example/rpc/commit?height=1", "https://solo.example/rpc/validators?height=1",
                       "https://witness.example/commit?height=1", "https://solo.example/rpc/abci_query?path="]:
            self.assertTrue(any(u.startswith(needed) for u in proxy.urls), (needed, proxy.urls[:8]))
        tx = run(t1.accept(root))
        self.assertTrue(any(u.startswith("https://solo.example/rpc/broadcast_tx_sync?tx=0x") for u in proxy.urls))
        self.assertEqual(c.node.pending_transactions(), 1)
        c.node.produce_block()
        events = run(t1.refresh())
        self.assertIn(tx, [e.tx for e in events_of(events, "CONFIRMED")])
        # The block holding it came from the node's transaction index, as CometBFT's `/tx`.
        self.assertIn(f"https://solo.example/rpc/tx?hash=0x{tx}", proxy.urls)
        self.assertEqual([(e.piece, e.amount) for e in events_of(events, "HOLDING_ADDED")], [(root, FACE)])
        self.assertEqual(run(t1.lineage(root)).pieces, run(w["t1"].lineage(root)).pieces)
        # Re-broadcasting the same bytes is idempotent through the client too.
        self.assertEqual(run(t1.resubmit(tx)), tx)

        # A man in the middle hiding a piece is caught; the verified view stays.
        before = t1.view()
        liar = Wallet.connect_with_client(
            c.node.trust_anchor(), "https://solo.example", [], SoloProxy(c.node, lie=True),
            PySigner(c.keys["t1"]), None,
        )
        with self.assertRaises(WalletError.Verification) as err:
            run(liar.refresh())
        self.assertIn("list has 0 pieces but the ledger proves 1", err.exception.reason)
        self.assertIsNone(liar.view())
        self.assertEqual(t1.view(), before)
        # Unknown methods and missing heights are JSON-RPC errors, not crashes.
        self.assertEqual(c.node.rpc_get("https://x/nope").status, 404)
        missing = c.node.rpc_get("https://x/commit?height=999999")
        self.assertIn(b"must be less than or equal to", missing.body)
        unknown = c.node.rpc_get("https://x/tx?hash=0x" + "00" * 32)
        self.assertIn(b"tx (" + b"00" * 32 + b") not found", unknown.body)


class GatedProxy(SoloProxy):
    """A `SoloProxy` whose GETs, once `close_gate()` is called, wait until `open_gate()`: a
    slow network, held at a known point."""

    def __init__(self, node):
        super().__init__(node)
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()

    def close_gate(self):
        self.waiting.clear()
        self.gate.clear()

    def open_gate(self):
        self.gate.set()

    def get(self, url):
        if not self.gate.is_set():
            self.waiting.set()
            self.gate.wait(30)
        return super().get(url)


class AuditTest(unittest.TestCase):
    """Defects found by the FFI audit, kept as regression tests."""

    def test_a_generated_phrase_is_not_in_str_or_repr(self):
        generated = cascade.generate_key()
        self.assertEqual(len(generated.phrase.split()), 24)
        for shown in (str(generated), repr(generated)):
            for word in set(generated.phrase.split()):
                self.assertNotRegex(shown, r"\b%s\b" % word, "the recovery phrase leaks into " + shown)
        self.assertIn(generated.key.address(), str(generated))

    def test_a_signer_failure_says_what_failed_once(self):
        # The variant already says "signer"; the reason is what the signer said (Kotlin's
        # message / Swift's description prefix it once: "the signer failed: ...").
        c = Chain()
        expected = {
            "typed": "user cancelled the biometric prompt",
            "raise": "ValueError('the keystore is locked')",
            "short": "expected a 64-byte compact signature, got 10 bytes (0101010101010101)",
        }
        for mode, reason in expected.items():
            with self.subTest(mode=mode):
                w = Wallet.solo_with_signer(c.node, BrokenSigner(key(1), mode), None)
                run(w.refresh())
                with self.assertRaises(WalletError.Signer) as err:
                    run(w.anchor_document("doc-" + mode, 1_00, CNY, c.addr("core"), c.addr("t1")))
                self.assertEqual(err.exception.reason, reason)
        with self.assertRaises(WalletError.Signer) as err:
            Wallet.solo_with_signer(c.node, BrokenSigner(key(1), "bad-key"), None)
        self.assertEqual(err.exception.reason, "the signer's public key is not a compressed secp256k1 key")

    def test_sync_calls_do_not_wait_for_a_refresh_on_the_network(self):
        yesterday = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=1)
        c = Chain(genesis_day=yesterday.isoformat())
        proxy = GatedProxy(c.node)
        w = Wallet.connect_with_client(
            c.node.trust_anchor(), "https://solo.example", [], proxy, PySigner(c.keys["t1"]), None
        )
        run(w.refresh())
        before = w.view()
        self.assertIsNotNone(before)
        c.node.produce_block()
        proxy.close_gate()
        refreshing = threading.Thread(target=lambda: run(w.refresh()), daemon=True)
        refreshing.start()
        try:
            self.assertTrue(proxy.waiting.wait(30), "the refresh never reached the network")
            answers = {}

            def local_calls():
                answers["view"] = w.view()
                answers["tx_state"] = w.tx_state("00" * 32)
                try:
                    w.quote("11" * 32, 1, 100)
                except WalletError.NotInWallet as e:
                    answers["quote"] = e.list

            reader = threading.Thread(target=local_calls, daemon=True)
            reader.start()
            reader.join(5)
            self.assertFalse(reader.is_alive(), "view/tx_state/quote waited for the network refresh")
            self.assertEqual(answers, {"view": before, "tx_state": None, "quote": "holdings"})
        finally:
            proxy.open_gate()
            refreshing.join(30)
        self.assertFalse(refreshing.is_alive())
        self.assertGreater(w.view().height, before.height)


class SurfaceTest(unittest.TestCase):
    def test_free_functions(self):
        self.assertRegex(cascade.library_version(), r"^\d+\.\d+\.\d+$")
        self.assertEqual(cascade.legal_id_hash("91310000MA1FL1234X"),
                         hashlib.sha256(b"91310000MA1FL1234X").hexdigest())
        self.assertEqual(cascade.document_hash("INV-1"), hashlib.sha256(b"INV-1").hexdigest())
        self.assertTrue(re.fullmatch(r"[0-9a-f]{40}", key(0).address()))
        self.assertTrue(re.fullmatch(r"0[23][0-9a-f]{64}", key(0).public_key()))

    def test_currency_minor_digits(self):
        digits = {code: cascade.currency_minor_digits(code)
                  for code in ["CNY", "USD", "JPY", "KRW", "KWD", "CLF", "XAU"]}
        self.assertEqual(digits, {"CNY": 2, "USD": 2, "JPY": 0, "KRW": 0, "KWD": 3,
                                  "CLF": 4, "XAU": 0})
        with self.assertRaises(cascade.WalletError.InvalidInput) as bad:
            cascade.currency_minor_digits("yen")
        self.assertEqual(bad.exception.field, "currency")


if __name__ == "__main__":
    unittest.main(verbosity=2)
