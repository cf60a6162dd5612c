//! The adversarial transaction corpus: one world with a piece in every state, and a table
//! of hostile transactions against it, each with the exact error the ledger must give.
//!
//! Shared (by `#[path]`) between the corpus test `core/tests/adversarial.rs`, which feeds
//! every case through the ABCI application and the ledger, and the fuzz targets in `fuzz/`,
//! which start from the same world and use the same cases as seeds. Keeping one copy means
//! the fuzzers explore exactly the states the corpus documents.
#![allow(dead_code)] // each includer uses a different part

use cascade_core::codec::{self, DecodeError};
use cascade_core::crypto::{CryptoError, SignatureBytes};
use cascade_core::testkit::{cny, first_piece, offered_and_change, validator_key, Fixture};
use cascade_core::tx::{Output, SignedTx, Tx, TxBody, TxDecodeError};
use cascade_core::*;
use std::collections::BTreeMap;

/// Every transaction of the world expires at this height, far beyond any test.
pub const FAR_EXPIRY: u64 = 1_000_000;
/// Freeze reason code used for the frozen piece.
pub const FREEZE_REASON: u16 = 7;
/// Keys the world knows, registered or not; fuzzers pick signers from this list.
pub const SIGNERS: &[&str] = &[
    "operator", "auditor", "core", "t1", "t2a", "t2b", "t3a", "t3b", "bank", "factor", "mallory",
    "stranger",
];

/// A committed block of the world's setup, to replay on another replica.
#[derive(Clone, Debug)]
pub struct SetupBlock {
    /// Height.
    pub height: u64,
    /// Block time (Unix seconds).
    pub time: i64,
    /// Transaction bytes, all valid.
    pub txs: Vec<Vec<u8>>,
}

/// Piece, certificate and document ids of the world.
#[derive(Clone, Debug)]
pub struct Ids {
    /// Certificate settled at maturity; its one piece is `Settled`.
    pub root_s: Hash32,
    /// Certificate past maturity, not settled; `root_m` is also its piece, active at t1.
    pub root_m: Hash32,
    /// Maturity of `root_m`.
    pub maturity_m: Day,
    /// Live certificate split four ways.
    pub root_a: Hash32,
    /// Maturity of `root_a`.
    pub maturity_a: Day,
    /// t1's change from splitting `root_a`: active, 6,000.00.
    pub a_change: Hash32,
    /// Offered by t1 to t3b, not answered: pending.
    pub pending: Hash32,
    /// Accepted by t2a and frozen by the auditor.
    pub frozen: Hash32,
    /// Accepted by t2b, financing requested from bank.
    pub requested: Hash32,
    /// Accepted by t3a, then financed: consumed.
    pub consumed: Hash32,
    /// The financed piece bank holds.
    pub financed: Hash32,
    /// A second live certificate held by t1 (another root, for merges).
    pub root_b: Hash32,
    /// Document of `root_a`, fully issued.
    pub doc_a: Hash32,
    /// A 100,000.00 document sold by t1, nothing issued.
    pub doc_x: Hash32,
    /// A 500.00 document sold by t1, nothing issued.
    pub doc_small: Hash32,
}

/// The world every case runs against (see [`World::build`]).
pub struct World {
    /// Keys (its own ledger is not used).
    pub fx: Fixture,
    /// Genesis of the world's chain.
    pub genesis: Genesis,
    /// Next nonce per signer name.
    pub nonces: BTreeMap<String, u64>,
    /// The setup blocks, in order.
    pub setup: Vec<SetupBlock>,
    /// Height of the next block.
    pub next_height: u64,
    /// Time of the next block.
    pub time: i64,
    /// Ids of interesting records.
    pub ids: Ids,
    /// A committed transaction (bank's first credit line), for replay.
    pub replay: Vec<u8>,
}

fn h(label: &str) -> Hash32 {
    Hash32(crypto::sha256(label.as_bytes()))
}

fn cny_money(amount: u64) -> Money {
    Money {
        amount: Amount(amount),
        currency: cny(),
    }
}

impl World {
    /// Builds the world on a fresh in-memory ledger, block by block, and returns the ledger
    /// with it. Day 0: credit lines, two short certificates S and M issued and accepted.
    /// Day 3: S settled (M is now past maturity); certificate A split four ways (one offer
    /// left pending, one piece frozen, one awaiting financing, one financed) and B issued.
    pub fn build() -> (World, Ledger) {
        let mut fx = Fixture::standard();
        fx.add_key("mallory");
        fx.add_key("stranger");
        let genesis = fx.genesis().clone();
        let mut ledger = Ledger::in_memory().expect("in-memory ledger");
        ledger.init_chain(&genesis).expect("genesis");
        let placeholder = Hash32([0; 32]);
        let mut w = World {
            fx,
            genesis,
            nonces: BTreeMap::new(),
            setup: Vec::new(),
            next_height: 1,
            time: cascade_core::testkit::GENESIS_TIME + 3600,
            ids: Ids {
                root_s: placeholder,
                root_m: placeholder,
                maturity_m: Day(0),
                root_a: placeholder,
                maturity_a: Day(0),
                a_change: placeholder,
                pending: placeholder,
                frozen: placeholder,
                requested: placeholder,
                consumed: placeholder,
                financed: placeholder,
                root_b: placeholder,
                doc_a: h("doc-a"),
                doc_x: h("doc-x"),
                doc_small: h("doc-small"),
            },
            replay: Vec::new(),
        };
        let (core, bank) = (w.addr("core"), w.addr("bank"));
        let mallory_key = w.fx.key("mallory").public_key();

        let r = w.run(
            &mut ledger,
            vec![
                (
                    "bank",
                    TxBody::SetCreditLine {
                        obligor: core,
                        currency: cny(),
                        limit: Amount(1_000_000_000),
                    },
                ),
                (
                    "factor",
                    TxBody::SetCreditLine {
                        obligor: core,
                        currency: cny(),
                        limit: Amount(500_00),
                    },
                ),
                (
                    "operator",
                    TxBody::RegisterParticipant {
                        public_key: mallory_key,
                        roles: Roles::SUPPLIER,
                        legal_id_hash: h("mallory"),
                    },
                ),
            ],
        );
        w.replay = w.setup[0].txs[0].clone();
        assert_eq!(r[0].hash, Hash32(crypto::sha256(&w.replay)));
        let mallory = w.addr("mallory");
        w.run(
            &mut ledger,
            vec![
                ("core", w.anchor_body("doc-s", 1000_00)),
                ("core", w.anchor_body("doc-m", 1000_00)),
                (
                    "operator",
                    TxBody::UpdateParticipant {
                        address: mallory,
                        roles: Roles::SUPPLIER,
                        active: false,
                    },
                ),
            ],
        );
        let today = w.today();
        let r = w.run(
            &mut ledger,
            vec![
                ("core", w.issue_body(1000_00, Day(today.0 + 1), h("doc-s"))),
                ("core", w.issue_body(1000_00, Day(today.0 + 2), h("doc-m"))),
            ],
        );
        w.ids.root_s = first_piece(&r[0].events);
        w.ids.root_m = first_piece(&r[1].events);
        w.ids.maturity_m = Day(today.0 + 2);
        let (s, m) = (w.ids.root_s, w.ids.root_m);
        w.run(
            &mut ledger,
            vec![
                ("t1", TxBody::Accept { piece: s }),
                ("t1", TxBody::Accept { piece: m }),
            ],
        );

        w.time += 3 * 86_400;
        w.run(&mut ledger, vec![("core", TxBody::Settle { root: s })]);
        w.run(
            &mut ledger,
            vec![
                ("core", w.anchor_body("doc-a", 10_000_00)),
                ("core", w.anchor_body("doc-b", 2000_00)),
                ("core", w.anchor_body("doc-x", 100_000_00)),
                ("core", w.anchor_body("doc-small", 500_00)),
            ],
        );
        let today = w.today();
        w.ids.maturity_a = Day(today.0 + 90);
        let r = w.run(
            &mut ledger,
            vec![
                (
                    "core",
                    w.issue_body(10_000_00, w.ids.maturity_a, h("doc-a")),
                ),
                ("core", w.issue_body(2000_00, Day(today.0 + 60), h("doc-b"))),
            ],
        );
        w.ids.root_a = first_piece(&r[0].events);
        w.ids.root_b = first_piece(&r[1].events);
        let (a, b) = (w.ids.root_a, w.ids.root_b);
        w.run(
            &mut ledger,
            vec![
                ("t1", TxBody::Accept { piece: a }),
                ("t1", TxBody::Accept { piece: b }),
            ],
        );
        let outputs = ["t2a", "t2b", "t3a", "t3b"]
            .iter()
            .map(|n| Output {
                to: w.addr(n),
                amount: Amount(1000_00),
            })
            .collect();
        let r = w.run(
            &mut ledger,
            vec![("t1", TxBody::Transfer { piece: a, outputs })],
        );
        let (offered, change) = offered_and_change(&r[0].events);
        let [to_t2a, to_t2b, to_t3a, to_t3b] = offered[..] else {
            panic!("four offers expected, got {offered:?}");
        };
        w.ids.a_change = change.expect("t1 keeps change");
        w.ids.pending = to_t3b;
        w.ids.frozen = to_t2a;
        w.run(
            &mut ledger,
            vec![
                ("t2a", TxBody::Accept { piece: to_t2a }),
                ("t2b", TxBody::Accept { piece: to_t2b }),
                ("t3a", TxBody::Accept { piece: to_t3a }),
            ],
        );
        let financing = |piece| TxBody::RequestFinancing {
            piece,
            financier: bank,
            amount: Amount(1000_00),
            rate: AnnualRate(43_500),
        };
        let r = w.run(
            &mut ledger,
            vec![
                (
                    "auditor",
                    TxBody::Freeze {
                        piece: to_t2a,
                        reason: FREEZE_REASON,
                    },
                ),
                ("t2b", financing(to_t2b)),
                ("t3a", financing(to_t3a)),
            ],
        );
        // A full-amount request locks the piece itself (no split, no change).
        assert!(r[1].events.iter().any(|e| matches!(e, Event::FinancingRequested { piece, change: None, .. } if *piece == to_t2b)));
        w.ids.requested = to_t2b;
        w.ids.consumed = to_t3a;
        let r = w.run(
            &mut ledger,
            vec![(
                "bank",
                TxBody::AcceptFinancing {
                    piece: to_t3a,
                    payment_reference: "wire-0001".into(),
                },
            )],
        );
        w.ids.financed = r[0]
            .events
            .iter()
            .find_map(|e| match e {
                Event::Financed { piece, .. } => Some(*piece),
                _ => None,
            })
            .expect("financed piece");
        (w, ledger)
    }

    /// Signs, executes and commits one block on `ledger`; every transaction must pass.
    fn run(&mut self, ledger: &mut Ledger, txs: Vec<(&str, TxBody)>) -> Vec<TxReceipt> {
        let bytes: Vec<Vec<u8>> = txs
            .into_iter()
            .map(|(who, body)| {
                let b = self.sign(who, body);
                *self.nonces.entry(who.to_string()).or_insert(0) += 1;
                b
            })
            .collect();
        ledger
            .begin_block(self.next_height, self.time)
            .expect("begin_block");
        let receipts = bytes
            .iter()
            .map(|b| ledger.deliver_tx(b).expect("setup transaction"))
            .collect();
        ledger.commit().expect("commit");
        self.setup.push(SetupBlock {
            height: self.next_height,
            time: self.time,
            txs: bytes,
        });
        self.advance();
        receipts
    }

    /// Moves to the next block (ten seconds later, same day).
    pub fn advance(&mut self) {
        self.next_height += 1;
        self.time += 10;
    }

    /// Address of a named key.
    pub fn addr(&self, who: &str) -> Address {
        self.fx.key(who).address()
    }

    /// The signer's next nonce.
    pub fn nonce(&self, who: &str) -> u64 {
        self.nonces.get(who).copied().unwrap_or(0)
    }

    /// Day of the next block.
    pub fn today(&self) -> Day {
        Day::from_unix_seconds(self.time).expect("day")
    }

    /// A transaction with every envelope field explicit, signed by `who`.
    pub fn envelope(
        &self,
        who: &str,
        chain_id: &str,
        nonce: u64,
        expiry_height: u64,
        body: TxBody,
    ) -> SignedTx {
        let key = self.fx.key(who);
        Tx {
            chain_id: chain_id.into(),
            signer: key.public_key(),
            nonce,
            expiry_height,
            body,
        }
        .sign(key)
    }

    /// `body` signed by `who` with its next nonce, as the world's chain expects.
    pub fn signed(&self, who: &str, body: TxBody) -> SignedTx {
        self.envelope(
            who,
            &self.genesis.chain_id,
            self.nonce(who),
            FAR_EXPIRY,
            body,
        )
    }

    /// Wire bytes of [`World::signed`].
    pub fn sign(&self, who: &str, body: TxBody) -> Vec<u8> {
        self.signed(who, body).to_bytes()
    }

    /// A fresh document `label` between core and t1.
    pub fn anchor_body(&self, label: &str, amount: u64) -> TxBody {
        TxBody::AnchorDocument {
            hash: h(label),
            amount: cny_money(amount),
            buyer: self.addr("core"),
            seller: self.addr("t1"),
        }
    }

    /// core issues to t1 against `document`, on bank's line.
    pub fn issue_body(&self, amount: u64, maturity: Day, document: Hash32) -> TxBody {
        TxBody::Issue {
            to: self.addr("t1"),
            amount: Amount(amount),
            currency: cny(),
            maturity,
            document,
            credit_grantor: self.addr("bank"),
        }
    }

    /// A transaction that is valid in every respect: core anchors a fresh document.
    pub fn valid(&self) -> SignedTx {
        self.signed("core", self.anchor_body("fresh-doc", 1000_00))
    }

    /// A transfer of `piece` by `who` to `(recipient, amount)` outputs.
    pub fn transfer(&self, who: &str, piece: Hash32, outputs: &[(&str, u64)]) -> Vec<u8> {
        let outputs = outputs
            .iter()
            .map(|(to, amount)| Output {
                to: self.addr(to),
                amount: Amount(*amount),
            })
            .collect();
        self.sign(who, TxBody::Transfer { piece, outputs })
    }

    /// `who` asks `financier` to discount `amount` of `piece` at 4.35 %.
    pub fn finance(&self, who: &str, piece: Hash32, financier: &str, amount: u64) -> Vec<u8> {
        self.sign(
            who,
            TxBody::RequestFinancing {
                piece,
                financier: self.addr(financier),
                amount: Amount(amount),
                rate: AnnualRate(43_500),
            },
        )
    }

    /// Credit in use on bank's line to core.
    pub fn bank_line_used(&self) -> Amount {
        // A (10,000.00) + B (2,000.00) + M (1,000.00); S was released at settlement.
        Amount(13_000_00)
    }
}

/// What a case must produce.
#[derive(Clone, Debug)]
pub enum Want {
    /// Exactly this error (every field).
    Is(TxError),
    /// A decoding failure whose message is borsh's (`DecodeError::Malformed`).
    Malformed,
}

impl Want {
    /// The ABCI code the case must get.
    pub fn code(&self) -> u32 {
        match self {
            Want::Is(e) => e.code(),
            Want::Malformed => 1,
        }
    }

    /// True if `err` is what is wanted.
    pub fn matches(&self, err: &TxError) -> bool {
        match self {
            Want::Is(e) => e == err,
            Want::Malformed => matches!(
                err,
                TxError::Decode(TxDecodeError::Encoding(DecodeError::Malformed { .. }))
            ),
        }
    }
}

/// One adversarial transaction.
pub struct Case {
    /// What it tries.
    pub name: &'static str,
    /// The ABCI code it must get (a check on the table: it must equal the error's code).
    pub code: u32,
    /// Builds the bytes and the exact expected error against the world.
    pub build: fn(&World) -> (Vec<u8>, Want),
}

fn case(name: &'static str, code: u32, build: fn(&World) -> (Vec<u8>, Want)) -> Case {
    Case { name, code, build }
}

fn is(e: TxError) -> Want {
    Want::Is(e)
}

/// Where the body's enum tag sits in a signed transaction's bytes.
fn body_tag_at(chain_id: &str) -> usize {
    4 + chain_id.len() + 33 + 8 + 8
}

/// The whole corpus. Each case is independent: it is built against the world as it stands
/// (every earlier case was rejected, so the world never changes but for its height).
pub fn cases() -> Vec<Case> {
    use TxError as E;
    vec![
        // ---- signatures and keys ---------------------------------------------------------
        case("signature by another key", 2, |w| {
            let mut tx = w.valid();
            tx.signature = w.fx.key("t1").sign_prehash(&tx.tx.sign_digest());
            (tx.to_bytes(), is(E::Signature(CryptoError::BadSignature)))
        }),
        case("signature r with a bit flipped", 2, |w| {
            let mut tx = w.valid();
            tx.signature.0[31] ^= 0x01;
            (tx.to_bytes(), is(E::Signature(CryptoError::BadSignature)))
        }),
        case("signature s with a bit flipped", 2, |w| {
            let mut tx = w.valid();
            tx.signature.0[63] ^= 0x01;
            (tx.to_bytes(), is(E::Signature(CryptoError::BadSignature)))
        }),
        case("signature over another nonce", 2, |w| {
            let mut tx = w.valid();
            let other = w.envelope(
                "core",
                &w.genesis.chain_id,
                tx.tx.nonce + 1,
                FAR_EXPIRY,
                tx.tx.body.clone(),
            );
            tx.signature = other.signature;
            (tx.to_bytes(), is(E::Signature(CryptoError::BadSignature)))
        }),
        case("high-S twin of a valid signature", 2, |w| {
            let mut tx = w.valid();
            let sig = k256::ecdsa::Signature::from_slice(&tx.signature.0).expect("valid");
            let high = k256::ecdsa::Signature::from_scalars(sig.r(), -*sig.s()).expect("n - s");
            tx.signature.0.copy_from_slice(&high.to_bytes());
            (tx.to_bytes(), is(E::Signature(CryptoError::HighS)))
        }),
        case("all-zero signature", 2, |w| {
            let mut tx = w.valid();
            tx.signature = SignatureBytes([0; 64]);
            (
                tx.to_bytes(),
                is(E::Signature(CryptoError::MalformedSignature)),
            )
        }),
        case("signature s above the group order", 2, |w| {
            let mut tx = w.valid();
            tx.signature.0[32..].copy_from_slice(&[0xff; 32]);
            (
                tx.to_bytes(),
                is(E::Signature(CryptoError::MalformedSignature)),
            )
        }),
        case("uncompressed-key marker on a valid key", 2, |w| {
            let mut tx = w.valid();
            tx.tx.signer.0[0] = 0x04;
            (
                tx.to_bytes(),
                is(E::Signature(CryptoError::InvalidPublicKey)),
            )
        }),
        case("public key not on the curve", 2, |w| {
            let mut tx = w.valid();
            tx.tx.signer.0 = [0xff; 33];
            tx.tx.signer.0[0] = 0x02;
            (
                tx.to_bytes(),
                is(E::Signature(CryptoError::InvalidPublicKey)),
            )
        }),
        // ---- chain, nonce, expiry, signer ------------------------------------------------
        case("signed for another chain", 3, |w| {
            let body = w.anchor_body("fresh-doc", 1000_00);
            let tx = w.envelope("core", "cascade-other", w.nonce("core"), FAR_EXPIRY, body);
            (
                tx.to_bytes(),
                is(E::WrongChain {
                    expected: w.genesis.chain_id.clone(),
                    got: "cascade-other".into(),
                }),
            )
        }),
        case("empty chain id", 3, |w| {
            let body = w.anchor_body("fresh-doc", 1000_00);
            let tx = w.envelope("core", "", w.nonce("core"), FAR_EXPIRY, body);
            (
                tx.to_bytes(),
                is(E::WrongChain {
                    expected: w.genesis.chain_id.clone(),
                    got: String::new(),
                }),
            )
        }),
        case("chain id in another case", 3, |w| {
            let body = w.anchor_body("fresh-doc", 1000_00);
            let other = w.genesis.chain_id.to_uppercase();
            let tx = w.envelope("core", &other, w.nonce("core"), FAR_EXPIRY, body);
            (
                tx.to_bytes(),
                is(E::WrongChain {
                    expected: w.genesis.chain_id.clone(),
                    got: other,
                }),
            )
        }),
        case("expired one block ago", 4, |w| {
            let body = w.anchor_body("fresh-doc", 1000_00);
            let expiry = w.next_height - 1;
            let tx = w.envelope("core", &w.genesis.chain_id, w.nonce("core"), expiry, body);
            (
                tx.to_bytes(),
                is(E::Expired {
                    expiry_height: expiry,
                    height: w.next_height,
                }),
            )
        }),
        case("expiry height zero", 4, |w| {
            let body = w.anchor_body("fresh-doc", 1000_00);
            let tx = w.envelope("core", &w.genesis.chain_id, w.nonce("core"), 0, body);
            (
                tx.to_bytes(),
                is(E::Expired {
                    expiry_height: 0,
                    height: w.next_height,
                }),
            )
        }),
        case("replay of a committed transaction", 5, |w| {
            (
                w.replay.clone(),
                is(E::BadNonce {
                    expected: w.nonce("bank"),
                    got: 0,
                }),
            )
        }),
        case("old nonce with new content", 5, |w| {
            let n = w.nonce("core");
            let tx = w.envelope(
                "core",
                &w.genesis.chain_id,
                n - 1,
                FAR_EXPIRY,
                w.anchor_body("fresh-doc", 1000_00),
            );
            (
                tx.to_bytes(),
                is(E::BadNonce {
                    expected: n,
                    got: n - 1,
                }),
            )
        }),
        case("nonce one ahead (out of order)", 5, |w| {
            let n = w.nonce("core");
            let tx = w.envelope(
                "core",
                &w.genesis.chain_id,
                n + 1,
                FAR_EXPIRY,
                w.anchor_body("fresh-doc", 1000_00),
            );
            (
                tx.to_bytes(),
                is(E::BadNonce {
                    expected: n,
                    got: n + 1,
                }),
            )
        }),
        case("nonce u64::MAX", 5, |w| {
            let n = w.nonce("core");
            let tx = w.envelope(
                "core",
                &w.genesis.chain_id,
                u64::MAX,
                FAR_EXPIRY,
                w.anchor_body("fresh-doc", 1000_00),
            );
            (
                tx.to_bytes(),
                is(E::BadNonce {
                    expected: n,
                    got: u64::MAX,
                }),
            )
        }),
        case("unregistered signer", 6, |w| {
            let bytes = w.sign("stranger", w.anchor_body("fresh-doc", 1000_00));
            (
                bytes,
                is(E::UnknownSigner {
                    signer: w.addr("stranger"),
                }),
            )
        }),
        case("deactivated signer", 7, |w| {
            let bytes = w.transfer("mallory", w.ids.a_change, &[("t2a", 100_00)]);
            (
                bytes,
                is(E::Inactive {
                    address: w.addr("mallory"),
                }),
            )
        }),
        // ---- encodings: truncated, oversized, non-canonical --------------------------------
        case("empty bytes", 1, |_| (Vec::new(), Want::Malformed)),
        case("a single zero byte", 1, |_| (vec![0], Want::Malformed)),
        case("truncated by one byte", 1, |w| {
            let b = w.valid().to_bytes();
            (b[..b.len() - 1].to_vec(), Want::Malformed)
        }),
        case("truncated to half", 1, |w| {
            let b = w.valid().to_bytes();
            (b[..b.len() / 2].to_vec(), Want::Malformed)
        }),
        case("signature cut off", 1, |w| {
            let b = w.valid().to_bytes();
            (b[..b.len() - 64].to_vec(), Want::Malformed)
        }),
        case("trailing zero byte", 1, |w| {
            let mut b = w.valid().to_bytes();
            b.push(0);
            (b, Want::Malformed)
        }),
        case("valid transaction twice in one buffer", 1, |w| {
            let b = w.valid().to_bytes();
            ([b.clone(), b].concat(), Want::Malformed)
        }),
        case("bool encoded as 2", 1, |w| {
            let mut b = w.sign(
                "operator",
                TxBody::UpdateParticipant {
                    address: w.addr("t1"),
                    roles: Roles::SUPPLIER,
                    active: true,
                },
            );
            let at = b.len() - 65; // ... || active: bool || signature (64 bytes)
            assert_eq!(b[at], 1);
            b[at] = 2;
            (b, Want::Malformed)
        }),
        case("unknown transaction kind tag", 1, |w| {
            let mut b = w.valid().to_bytes();
            b[body_tag_at(&w.genesis.chain_id)] = 0xee;
            (b, Want::Malformed)
        }),
        case("chain id not UTF-8", 1, |w| {
            let mut b = w.valid().to_bytes();
            b[4] = 0xff;
            (b, Want::Malformed)
        }),
        case("string length prefix past the end", 1, |w| {
            let mut b = w.valid().to_bytes();
            b[..4].copy_from_slice(&u32::MAX.to_le_bytes());
            (b, Want::Malformed)
        }),
        case("vector length prefix of 2^32-1", 1, |w| {
            let bytes = w.transfer("t1", w.ids.a_change, &[("t2a", 100_00)]);
            let mut b = bytes.clone();
            // Transfer: tag || piece (32) || outputs: u32 length || ...
            let at = body_tag_at(&w.genesis.chain_id) + 1 + 32;
            assert_eq!(b[at..at + 4], 1u32.to_le_bytes());
            b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            (b, Want::Malformed)
        }),
        case("one byte over max_tx_bytes", 1, |w| {
            let limit = w.genesis.params.max_tx_bytes as usize;
            let body = |r: String| TxBody::AcceptFinancing {
                piece: w.ids.requested,
                payment_reference: r,
            };
            let base = w.sign("bank", body(String::new())).len();
            let b = w.sign("bank", body("x".repeat(limit + 1 - base)));
            assert_eq!(b.len(), limit + 1);
            (
                b,
                is(E::Decode(TxDecodeError::TooLarge {
                    size: limit + 1,
                    limit,
                })),
            )
        }),
        case("one MiB of garbage", 1, |w| {
            let limit = w.genesis.params.max_tx_bytes as usize;
            (
                vec![0xa5; 1 << 20],
                is(E::Decode(TxDecodeError::TooLarge {
                    size: 1 << 20,
                    limit,
                })),
            )
        }),
        // ---- amounts ---------------------------------------------------------------------
        case("zero transfer output", 30, |w| {
            (
                w.transfer("t1", w.ids.a_change, &[("t2a", 0)]),
                is(E::ZeroAmount),
            )
        }),
        case("transfer output below the minimum unit", 31, |w| {
            (
                w.transfer("t1", w.ids.a_change, &[("t2a", 99)]),
                is(E::BelowMinimum {
                    amount: Amount(99),
                    min_unit: Amount(100),
                }),
            )
        }),
        case("change below the minimum unit", 31, |w| {
            (
                w.transfer("t1", w.ids.a_change, &[("t2a", 6000_00 - 50)]),
                is(E::BelowMinimum {
                    amount: Amount(50),
                    min_unit: Amount(100),
                }),
            )
        }),
        case("outputs whose sum overflows u64", 32, |w| {
            (
                w.transfer("t1", w.ids.a_change, &[("t2a", u64::MAX), ("t2b", 100)]),
                is(E::Overflow),
            )
        }),
        case("zero issue amount", 30, |w| {
            let body = w.issue_body(0, Day(w.today().0 + 30), w.ids.doc_x);
            (w.sign("core", body), is(E::ZeroAmount))
        }),
        case("zero document amount", 30, |w| {
            (
                w.sign("core", w.anchor_body("fresh-doc", 0)),
                is(E::ZeroAmount),
            )
        }),
        case("zero financing amount", 30, |w| {
            (
                w.finance("t1", w.ids.a_change, "bank", 0),
                is(E::ZeroAmount),
            )
        }),
        // ---- splits that do not add up -------------------------------------------------------
        case("outputs exceed the piece by one unit", 33, |w| {
            (
                w.transfer("t1", w.ids.a_change, &[("t2a", 5000_00), ("t2b", 1000_01)]),
                is(E::SplitExceedsPiece {
                    outputs: Amount(6000_01),
                    available: Amount(6000_00),
                }),
            )
        }),
        case("financing more than the piece", 33, |w| {
            (
                w.finance("t1", w.ids.a_change, "bank", 6000_01),
                is(E::SplitExceedsPiece {
                    outputs: Amount(6000_01),
                    available: Amount(6000_00),
                }),
            )
        }),
        case("transfer without outputs", 48, |w| {
            (w.transfer("t1", w.ids.a_change, &[]), is(E::NoOutputs))
        }),
        case("seventeen outputs", 47, |w| {
            let outputs = vec![("t2a", 100); 17];
            (
                w.transfer("t1", w.ids.a_change, &outputs),
                is(E::TooManyOutputs { count: 17, max: 16 }),
            )
        }),
        case("the same recipient twice", 49, |w| {
            (
                w.transfer("t1", w.ids.a_change, &[("t2a", 100_00), ("t2a", 100_00)]),
                is(E::DuplicateRecipient { to: w.addr("t2a") }),
            )
        }),
        case("transfer to oneself", 50, |w| {
            (
                w.transfer("t1", w.ids.a_change, &[("t1", 100_00)]),
                is(E::SelfTransfer),
            )
        }),
        case("recipient is not a supplier", 13, |w| {
            (
                w.transfer("t1", w.ids.a_change, &[("bank", 100_00)]),
                is(E::CounterpartyRole {
                    address: w.addr("bank"),
                    role: "supplier",
                    what: "receive a transfer",
                }),
            )
        }),
        case("recipient is not registered", 11, |w| {
            (
                w.transfer("t1", w.ids.a_change, &[("stranger", 100_00)]),
                is(E::UnknownParticipant {
                    address: w.addr("stranger"),
                }),
            )
        }),
        case("recipient is deactivated", 7, |w| {
            (
                w.transfer("t1", w.ids.a_change, &[("mallory", 100_00)]),
                is(E::Inactive {
                    address: w.addr("mallory"),
                }),
            )
        }),
        case("merge of a single piece", 52, |w| {
            (
                w.sign(
                    "t1",
                    TxBody::Merge {
                        pieces: vec![w.ids.a_change],
                    },
                ),
                is(E::BadMergeCount { count: 1, max: 16 }),
            )
        }),
        case("merge of a piece with itself", 53, |w| {
            let p = w.ids.a_change;
            (
                w.sign("t1", TxBody::Merge { pieces: vec![p, p] }),
                is(E::DuplicatePiece { piece: p }),
            )
        }),
        case("merge across certificates", 54, |w| {
            (
                w.sign(
                    "t1",
                    TxBody::Merge {
                        pieces: vec![w.ids.a_change, w.ids.root_b],
                    },
                ),
                is(E::DifferentRoots),
            )
        }),
        // ---- transfers by non-holders ----------------------------------------------------
        case("transfer by a non-holder", 42, |w| {
            (
                w.transfer("t2b", w.ids.a_change, &[("t2a", 100_00)]),
                is(E::NotHolder {
                    piece: w.ids.a_change,
                    signer: w.addr("t2b"),
                }),
            )
        }),
        case("merge by a non-holder", 42, |w| {
            (
                w.sign(
                    "t2b",
                    TxBody::Merge {
                        pieces: vec![w.ids.a_change, w.ids.root_b],
                    },
                ),
                is(E::NotHolder {
                    piece: w.ids.a_change,
                    signer: w.addr("t2b"),
                }),
            )
        }),
        case("financing request by a non-holder", 42, |w| {
            (
                w.finance("t2a", w.ids.a_change, "bank", 1000_00),
                is(E::NotHolder {
                    piece: w.ids.a_change,
                    signer: w.addr("t2a"),
                }),
            )
        }),
        case("accepting an offer made to someone else", 42, |w| {
            (
                w.sign(
                    "t2a",
                    TxBody::Accept {
                        piece: w.ids.pending,
                    },
                ),
                is(E::NotHolder {
                    piece: w.ids.pending,
                    signer: w.addr("t2a"),
                }),
            )
        }),
        case("cancelling someone else's offer", 9, |w| {
            (
                w.sign(
                    "t2a",
                    TxBody::Cancel {
                        piece: w.ids.pending,
                    },
                ),
                is(E::Unauthorized {
                    signer: w.addr("t2a"),
                    action: "cancel this offer",
                    reason: "only its sender may",
                }),
            )
        }),
        case("transfer of a piece that does not exist", 40, |w| {
            let ghost = h("ghost-piece");
            (
                w.transfer("t1", ghost, &[("t2a", 100_00)]),
                is(E::UnknownPiece { piece: ghost }),
            )
        }),
        // ---- pending pieces --------------------------------------------------------------
        case("recipient moves a pending offer", 42, |w| {
            (
                w.transfer("t3b", w.ids.pending, &[("t2a", 100_00)]),
                is(E::NotHolder {
                    piece: w.ids.pending,
                    signer: w.addr("t3b"),
                }),
            )
        }),
        case("sender moves its own pending offer", 42, |w| {
            (
                w.transfer("t1", w.ids.pending, &[("t2a", 100_00)]),
                is(E::NotHolder {
                    piece: w.ids.pending,
                    signer: w.addr("t1"),
                }),
            )
        }),
        case("recipient finances a pending offer", 42, |w| {
            (
                w.finance("t3b", w.ids.pending, "bank", 1000_00),
                is(E::NotHolder {
                    piece: w.ids.pending,
                    signer: w.addr("t3b"),
                }),
            )
        }),
        case("financier accepts financing of a pending piece", 43, |w| {
            (
                w.sign(
                    "bank",
                    TxBody::AcceptFinancing {
                        piece: w.ids.pending,
                        payment_reference: "wire".into(),
                    },
                ),
                is(E::WrongStatus {
                    piece: w.ids.pending,
                    status: "pending",
                    action: "accept financing",
                }),
            )
        }),
        // ---- frozen pieces ---------------------------------------------------------------
        case("transfer of a frozen piece", 44, |w| {
            (
                w.transfer("t2a", w.ids.frozen, &[("t3a", 100_00)]),
                is(E::Frozen {
                    piece: w.ids.frozen,
                    reason: FREEZE_REASON,
                }),
            )
        }),
        case("financing request on a frozen piece", 44, |w| {
            (
                w.finance("t2a", w.ids.frozen, "bank", 1000_00),
                is(E::Frozen {
                    piece: w.ids.frozen,
                    reason: FREEZE_REASON,
                }),
            )
        }),
        case("freezing a frozen piece", 44, |w| {
            (
                w.sign(
                    "auditor",
                    TxBody::Freeze {
                        piece: w.ids.frozen,
                        reason: 1,
                    },
                ),
                is(E::Frozen {
                    piece: w.ids.frozen,
                    reason: FREEZE_REASON,
                }),
            )
        }),
        case("unfreezing a piece that is not frozen", 45, |w| {
            (
                w.sign(
                    "auditor",
                    TxBody::Unfreeze {
                        piece: w.ids.a_change,
                    },
                ),
                is(E::NotFrozen {
                    piece: w.ids.a_change,
                }),
            )
        }),
        // ---- financing requested, financed, double financing ------------------------------
        case("transfer of a piece awaiting financing", 43, |w| {
            (
                w.transfer("t2b", w.ids.requested, &[("t3a", 100_00)]),
                is(E::WrongStatus {
                    piece: w.ids.requested,
                    status: "financing-requested",
                    action: "transfer",
                }),
            )
        }),
        case("second financing request on a requested piece", 43, |w| {
            (
                w.finance("t2b", w.ids.requested, "factor", 1000_00),
                is(E::WrongStatus {
                    piece: w.ids.requested,
                    status: "financing-requested",
                    action: "request financing",
                }),
            )
        }),
        case("a financier not asked accepts the financing", 9, |w| {
            (
                w.sign(
                    "factor",
                    TxBody::AcceptFinancing {
                        piece: w.ids.requested,
                        payment_reference: "wire".into(),
                    },
                ),
                is(E::Unauthorized {
                    signer: w.addr("factor"),
                    action: "accept this financing",
                    reason: "only the financier asked may",
                }),
            )
        }),
        case("empty payment reference", 38, |w| {
            (
                w.sign(
                    "bank",
                    TxBody::AcceptFinancing {
                        piece: w.ids.requested,
                        payment_reference: String::new(),
                    },
                ),
                is(E::BadPaymentReference { max: 64 }),
            )
        }),
        case("payment reference of 65 bytes", 38, |w| {
            (
                w.sign(
                    "bank",
                    TxBody::AcceptFinancing {
                        piece: w.ids.requested,
                        payment_reference: "r".repeat(65),
                    },
                ),
                is(E::BadPaymentReference { max: 64 }),
            )
        }),
        case("transfer of a financed piece", 43, |w| {
            (
                w.transfer("bank", w.ids.financed, &[("t2a", 100_00)]),
                is(E::WrongStatus {
                    piece: w.ids.financed,
                    status: "financed",
                    action: "transfer",
                }),
            )
        }),
        case("double financing: refinancing a financed piece", 55, |w| {
            (
                w.finance("bank", w.ids.financed, "factor", 1000_00),
                is(E::AlreadyFinanced {
                    piece: w.ids.financed,
                }),
            )
        }),
        case(
            "double financing: accepting the same request again",
            43,
            |w| {
                (
                    w.sign(
                        "bank",
                        TxBody::AcceptFinancing {
                            piece: w.ids.consumed,
                            payment_reference: "wire-0002".into(),
                        },
                    ),
                    is(E::WrongStatus {
                        piece: w.ids.consumed,
                        status: "consumed",
                        action: "accept financing",
                    }),
                )
            },
        ),
        case("seller moves the piece it sold", 42, |w| {
            (
                w.transfer("t3a", w.ids.consumed, &[("t2a", 100_00)]),
                is(E::NotHolder {
                    piece: w.ids.consumed,
                    signer: w.addr("t3a"),
                }),
            )
        }),
        case("financing rate zero", 36, |w| {
            (
                w.sign(
                    "t1",
                    TxBody::RequestFinancing {
                        piece: w.ids.a_change,
                        financier: w.addr("bank"),
                        amount: Amount(1000_00),
                        rate: AnnualRate(0),
                    },
                ),
                is(E::RateOutOfRange {
                    rate: AnnualRate(0),
                    max: AnnualRate(500_000),
                }),
            )
        }),
        case("financing rate above the maximum", 36, |w| {
            (
                w.sign(
                    "t1",
                    TxBody::RequestFinancing {
                        piece: w.ids.a_change,
                        financier: w.addr("bank"),
                        amount: Amount(1000_00),
                        rate: AnnualRate(500_001),
                    },
                ),
                is(E::RateOutOfRange {
                    rate: AnnualRate(500_001),
                    max: AnnualRate(500_000),
                }),
            )
        }),
        // ---- matured and settled ----------------------------------------------------------
        case("transfer after maturity", 46, |w| {
            (
                w.transfer("t1", w.ids.root_m, &[("t2a", 100_00)]),
                is(E::Matured {
                    maturity: w.ids.maturity_m,
                    today: w.today(),
                }),
            )
        }),
        case("financing after maturity", 46, |w| {
            (
                w.finance("t1", w.ids.root_m, "bank", 1000_00),
                is(E::Matured {
                    maturity: w.ids.maturity_m,
                    today: w.today(),
                }),
            )
        }),
        case("marking overdue within the grace period", 62, |w| {
            (
                w.sign("t1", TxBody::MarkOverdue { root: w.ids.root_m }),
                is(E::NotYetOverdue {
                    from: Day(w.ids.maturity_m.0 + 3 + 1),
                    today: w.today(),
                }),
            )
        }),
        case("settling before maturity", 61, |w| {
            (
                w.sign("core", TxBody::Settle { root: w.ids.root_a }),
                is(E::NotMatured {
                    maturity: w.ids.maturity_a,
                    today: w.today(),
                }),
            )
        }),
        case("settling by someone other than the obligor", 9, |w| {
            (
                w.sign("t1", TxBody::Settle { root: w.ids.root_m }),
                is(E::Unauthorized {
                    signer: w.addr("t1"),
                    action: "settle this certificate",
                    reason: "only its obligor may",
                }),
            )
        }),
        case("transfer of a settled piece", 42, |w| {
            (
                w.transfer("t1", w.ids.root_s, &[("t2a", 100_00)]),
                is(E::NotHolder {
                    piece: w.ids.root_s,
                    signer: w.addr("t1"),
                }),
            )
        }),
        case("settling twice", 60, |w| {
            (
                w.sign("core", TxBody::Settle { root: w.ids.root_s }),
                is(E::WrongRootStatus {
                    root: w.ids.root_s,
                    status: "settled",
                    action: "settle",
                }),
            )
        }),
        case("freezing a settled piece", 43, |w| {
            (
                w.sign(
                    "auditor",
                    TxBody::Freeze {
                        piece: w.ids.root_s,
                        reason: 1,
                    },
                ),
                is(E::WrongStatus {
                    piece: w.ids.root_s,
                    status: "settled",
                    action: "freeze",
                }),
            )
        }),
        case("marking a settled certificate overdue", 60, |w| {
            (
                w.sign("t1", TxBody::MarkOverdue { root: w.ids.root_s }),
                is(E::WrongRootStatus {
                    root: w.ids.root_s,
                    status: "settled",
                    action: "mark overdue",
                }),
            )
        }),
        case("settling a certificate that does not exist", 41, |w| {
            let ghost = h("ghost-root");
            (
                w.sign("core", TxBody::Settle { root: ghost }),
                is(E::UnknownRoot { root: ghost }),
            )
        }),
        // ---- credit line and documents ----------------------------------------------------
        case("issue over the credit line", 22, |w| {
            let body = TxBody::Issue {
                to: w.addr("t1"),
                amount: Amount(1000_00),
                currency: cny(),
                maturity: Day(w.today().0 + 30),
                document: w.ids.doc_x,
                credit_grantor: w.addr("factor"),
            };
            (
                w.sign("core", body),
                is(E::CreditExceeded {
                    requested: Amount(1000_00),
                    available: Amount(500_00),
                }),
            )
        }),
        case("issue on a line nobody granted", 21, |w| {
            let body = TxBody::Issue {
                to: w.addr("t1"),
                amount: Amount(1000_00),
                currency: cny(),
                maturity: Day(w.today().0 + 30),
                document: w.ids.doc_x,
                credit_grantor: w.addr("t2a"),
            };
            (
                w.sign("core", body),
                is(E::NoCreditLine {
                    obligor: w.addr("core"),
                    grantor: w.addr("t2a"),
                    currency: cny(),
                }),
            )
        }),
        case("issue over the document amount", 26, |w| {
            let body = w.issue_body(600_00, Day(w.today().0 + 30), w.ids.doc_small);
            (
                w.sign("core", body),
                is(E::DocumentExceeded {
                    requested: Amount(600_00),
                    remaining: Amount(500_00),
                }),
            )
        }),
        case("issue again on a fully issued document", 26, |w| {
            let body = w.issue_body(100_00, Day(w.today().0 + 30), w.ids.doc_a);
            (
                w.sign("core", body),
                is(E::DocumentExceeded {
                    requested: Amount(100_00),
                    remaining: Amount(0),
                }),
            )
        }),
        case("issue on a document never anchored", 24, |w| {
            let ghost = h("ghost-doc");
            let body = w.issue_body(100_00, Day(w.today().0 + 30), ghost);
            (w.sign("core", body), is(E::UnknownDocument { hash: ghost }))
        }),
        case(
            "issue to someone other than the document's seller",
            25,
            |w| {
                let mut body = w.issue_body(100_00, Day(w.today().0 + 30), w.ids.doc_x);
                if let TxBody::Issue { to, .. } = &mut body {
                    *to = w.addr("t2a");
                }
                (
                    w.sign("core", body),
                    is(E::DocumentMismatch {
                        reason: "the recipient is not the document's seller",
                    }),
                )
            },
        ),
        case("anchoring a document twice", 23, |w| {
            (
                w.sign("core", w.anchor_body("doc-a", 10_000_00)),
                is(E::DocumentExists { hash: w.ids.doc_a }),
            )
        }),
        case("the seller anchors a document", 9, |w| {
            (
                w.sign("t1", w.anchor_body("fresh-doc", 1000_00)),
                is(E::Unauthorized {
                    signer: w.addr("t1"),
                    action: "anchor this document",
                    reason: "only its buyer (the obligor) may",
                }),
            )
        }),
        case("credit limit below what is in use", 20, |w| {
            let body = TxBody::SetCreditLine {
                obligor: w.addr("core"),
                currency: cny(),
                limit: Amount(1),
            };
            (
                w.sign("bank", body),
                is(E::LimitBelowUsed {
                    limit: Amount(1),
                    used: w.bank_line_used(),
                }),
            )
        }),
        case("maturity today", 34, |w| {
            let body = w.issue_body(100_00, w.today(), w.ids.doc_x);
            (
                w.sign("core", body),
                is(E::MaturityNotInFuture {
                    maturity: w.today(),
                    today: w.today(),
                }),
            )
        }),
        case("maturity beyond the maximum tenor", 35, |w| {
            let today = w.today();
            let body = w.issue_body(100_00, Day(today.0 + 366), w.ids.doc_x);
            (
                w.sign("core", body),
                is(E::TenorTooLong {
                    maturity: Day(today.0 + 366),
                    max_days: 365,
                    latest: Day(today.0 + 365),
                }),
            )
        }),
        case("lower-case currency code", 16, |w| {
            let mut body = w.issue_body(100_00, Day(w.today().0 + 30), w.ids.doc_x);
            if let TxBody::Issue { currency, .. } = &mut body {
                *currency = codec::decode_stored(b"cny").expect("any 3 bytes decode");
            }
            (w.sign("core", body), is(E::InvalidCurrency))
        }),
        // ---- roles -------------------------------------------------------------------------
        case("registering an undefined role bit", 12, |w| {
            let body = TxBody::RegisterParticipant {
                public_key: w.fx.key("stranger").public_key(),
                roles: Roles(0x20),
                legal_id_hash: h("stranger"),
            };
            (
                w.sign("operator", body),
                is(E::InvalidRoles { roles: 0x20 }),
            )
        }),
        case("registering with no role", 12, |w| {
            let body = TxBody::RegisterParticipant {
                public_key: w.fx.key("stranger").public_key(),
                roles: Roles(0),
                legal_id_hash: h("stranger"),
            };
            (w.sign("operator", body), is(E::InvalidRoles { roles: 0 }))
        }),
        case("updating to every role bit", 12, |w| {
            let body = TxBody::UpdateParticipant {
                address: w.addr("t1"),
                roles: Roles(0xff),
                active: true,
            };
            (
                w.sign("operator", body),
                is(E::InvalidRoles { roles: 0xff }),
            )
        }),
        case("registering a key that is not a curve point", 2, |w| {
            let mut public_key = w.fx.key("stranger").public_key();
            public_key.0 = [0xff; 33];
            public_key.0[0] = 0x03;
            let body = TxBody::RegisterParticipant {
                public_key,
                roles: Roles::SUPPLIER,
                legal_id_hash: h("stranger"),
            };
            (
                w.sign("operator", body),
                is(E::Signature(CryptoError::InvalidPublicKey)),
            )
        }),
        case("registering a participant twice", 10, |w| {
            let body = TxBody::RegisterParticipant {
                public_key: w.fx.key("t1").public_key(),
                roles: Roles::SUPPLIER,
                legal_id_hash: h("t1"),
            };
            (
                w.sign("operator", body),
                is(E::AlreadyRegistered {
                    address: w.addr("t1"),
                }),
            )
        }),
        case("updating a participant never registered", 11, |w| {
            let body = TxBody::UpdateParticipant {
                address: w.addr("stranger"),
                roles: Roles::SUPPLIER,
                active: true,
            };
            (
                w.sign("operator", body),
                is(E::UnknownParticipant {
                    address: w.addr("stranger"),
                }),
            )
        }),
        case("a supplier registers a participant", 8, |w| {
            let body = TxBody::RegisterParticipant {
                public_key: w.fx.key("stranger").public_key(),
                roles: Roles::SUPPLIER,
                legal_id_hash: h("stranger"),
            };
            (
                w.sign("t1", body),
                is(E::MissingRole {
                    signer: w.addr("t1"),
                    role: "operator",
                    action: "register participants",
                }),
            )
        }),
        case("a supplier issues a certificate", 8, |w| {
            let body = w.issue_body(100_00, Day(w.today().0 + 30), w.ids.doc_x);
            (
                w.sign("t1", body),
                is(E::MissingRole {
                    signer: w.addr("t1"),
                    role: "obligor",
                    action: "issue certificates",
                }),
            )
        }),
        case("a supplier grants a credit line", 8, |w| {
            let body = TxBody::SetCreditLine {
                obligor: w.addr("core"),
                currency: cny(),
                limit: Amount(1),
            };
            (
                w.sign("t1", body),
                is(E::MissingRole {
                    signer: w.addr("t1"),
                    role: "financier or operator",
                    action: "grant credit lines",
                }),
            )
        }),
        case("a supplier freezes a piece", 8, |w| {
            (
                w.sign(
                    "t1",
                    TxBody::Freeze {
                        piece: w.ids.a_change,
                        reason: 1,
                    },
                ),
                is(E::MissingRole {
                    signer: w.addr("t1"),
                    role: "operator or auditor",
                    action: "freeze pieces",
                }),
            )
        }),
        case("a supplier changes the parameters", 8, |w| {
            (
                w.sign(
                    "t1",
                    TxBody::UpdateParams {
                        params: w.genesis.params.clone(),
                    },
                ),
                is(E::MissingRole {
                    signer: w.addr("t1"),
                    role: "operator",
                    action: "change parameters",
                }),
            )
        }),
        case("a credit line for a non-obligor", 13, |w| {
            let body = TxBody::SetCreditLine {
                obligor: w.addr("t1"),
                currency: cny(),
                limit: Amount(1),
            };
            (
                w.sign("bank", body),
                is(E::CounterpartyRole {
                    address: w.addr("t1"),
                    role: "obligor",
                    what: "receive a credit line",
                }),
            )
        }),
        case("the operator deactivates itself", 14, |w| {
            let body = TxBody::UpdateParticipant {
                address: w.addr("operator"),
                roles: Roles::OPERATOR,
                active: false,
            };
            (w.sign("operator", body), is(E::SelfLockout))
        }),
        case("parameters with a zero minimum unit", 15, |w| {
            let mut params = w.genesis.params.clone();
            params.min_unit = Amount(0);
            (
                w.sign("operator", TxBody::UpdateParams { params }),
                is(E::InvalidParams {
                    reason: "min_unit must be at least one minor unit",
                }),
            )
        }),
        // ---- validator governance ----------------------------------------------------------
        case("validator key that is not an Ed25519 point", 70, |w| {
            let pub_key = (0u8..=255)
                .map(|b| ValidatorKey([b; 32]))
                .find(|k| !k.is_valid())
                .expect("some byte pattern is not a point");
            (
                w.sign(
                    "operator",
                    TxBody::ApproveValidatorChange { pub_key, power: 1 },
                ),
                is(E::InvalidValidatorKey { pub_key }),
            )
        }),
        case("validator power above the cap", 71, |w| {
            let pub_key = validator_key("validator-new");
            (
                w.sign(
                    "operator",
                    TxBody::ApproveValidatorChange {
                        pub_key,
                        power: 1_000_001,
                    },
                ),
                is(E::ValidatorPowerTooHigh {
                    power: 1_000_001,
                    max: 1_000_000,
                }),
            )
        }),
        case("validator change that changes nothing", 72, |w| {
            let pub_key = validator_key("validator-0");
            (
                w.sign(
                    "operator",
                    TxBody::ApproveValidatorChange { pub_key, power: 10 },
                ),
                is(E::NoValidatorChange {
                    pub_key,
                    current: 10,
                }),
            )
        }),
        case("removing the last validator", 73, |w| {
            let pub_key = validator_key("validator-0");
            (
                w.sign(
                    "operator",
                    TxBody::ApproveValidatorChange { pub_key, power: 0 },
                ),
                is(E::ValidatorSetSize { max: 100 }),
            )
        }),
        case("a supplier approves a validator change", 8, |w| {
            let pub_key = validator_key("validator-new");
            (
                w.sign("t1", TxBody::ApproveValidatorChange { pub_key, power: 1 }),
                is(E::MissingRole {
                    signer: w.addr("t1"),
                    role: "operator",
                    action: "approve validator changes",
                }),
            )
        }),
    ]
}

impl World {
    /// Every piece id of the world.
    pub fn pieces(&self) -> Vec<Hash32> {
        let i = &self.ids;
        vec![
            i.root_s,
            i.root_m,
            i.root_a,
            i.a_change,
            i.pending,
            i.frozen,
            i.requested,
            i.consumed,
            i.financed,
            i.root_b,
        ]
    }

    /// State keys worth proving: one of every record kind, and a few absent keys.
    pub fn known_keys(&self) -> Vec<Vec<u8>> {
        use cascade_core::keys;
        let i = &self.ids;
        let mut out: Vec<Vec<u8>> = self.pieces().iter().map(keys::piece).collect();
        for root in [i.root_s, i.root_m, i.root_a, i.root_b] {
            out.push(keys::root(&root));
        }
        for who in ["t1", "t3b", "bank", "core", "stranger"] {
            out.push(keys::account(&self.addr(who)));
            out.push(keys::participant(&self.addr(who)));
        }
        out.push(keys::document(&i.doc_a));
        out.push(keys::document(&h("ghost-doc")));
        out.push(keys::clearing(&i.root_s));
        out.push(keys::clearing(&i.root_a));
        out.push(keys::credit_line(
            &self.addr("core"),
            &cny(),
            &self.addr("bank"),
        ));
        out.push(keys::validator(&validator_key("validator-0")));
        out.push(keys::piece(&h("ghost-piece")));
        out.push(keys::CONSORTIUM.to_vec());
        out.push(keys::PARAMS.to_vec());
        out.push(Vec::new());
        out
    }

    /// ABCI query paths worth asking: every kind, about records that exist and that do not.
    pub fn known_paths(&self) -> Vec<String> {
        use cascade_core::query::Query;
        let i = &self.ids;
        let mut out: Vec<String> = self
            .pieces()
            .iter()
            .map(|p| Query::Piece(*p).path())
            .collect();
        for who in ["t1", "t3b", "bank", "stranger"] {
            let a = self.addr(who);
            out.extend(
                [
                    Query::Account(a),
                    Query::Participant(a),
                    Query::Holdings(a),
                    Query::OffersIn(a),
                    Query::OffersOut(a),
                ]
                .iter()
                .map(Query::path),
            );
        }
        for root in [i.root_s, i.root_a, h("ghost-root")] {
            out.extend(
                [
                    Query::Root(root),
                    Query::Lineage(root),
                    Query::Clearing(root),
                ]
                .iter()
                .map(Query::path),
            );
        }
        out.extend(
            [
                Query::Document(i.doc_a),
                Query::Validator(validator_key("validator-0")),
                Query::Consortium,
                Query::Receipt(Hash32(crypto::sha256(&self.replay))),
                Query::History(i.a_change),
            ]
            .iter()
            .map(Query::path),
        );
        out
    }
}
