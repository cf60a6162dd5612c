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

/// A transaction on one piece, tried against pieces in every state (see [`World::on`]).
#[derive(Clone, Copy, Debug)]
pub enum Act {
    /// Transfer 100.00 of it to the named participant.
    Transfer(&'static str),
    /// Ask the named financier to discount 1,000.00 of it at 4.35 %.
    Finance(&'static str),
    /// Accept it as an offer.
    Accept,
    /// Cancel it as an offer.
    Cancel,
    /// Freeze it (reason 1).
    Freeze,
    /// Unfreeze it.
    Unfreeze,
    /// Accept the financing requested on it, with this payment reference.
    AcceptFinancing(&'static str),
    /// Merge it with another piece.
    MergeWith(Hash32),
}

/// A hostile transaction and who signed it, waiting for the exact error it must get.
///
/// The errors most cases expect name the signer and the piece; deriving them from the
/// attempt keeps a case from naming one signer in the transaction and another in the error.
pub struct Attempt {
    bytes: Vec<u8>,
    signer: Address,
    piece: Option<Hash32>,
}

impl Attempt {
    /// Must fail with exactly `e`.
    pub fn is(self, e: TxError) -> (Vec<u8>, Want) {
        (self.bytes, Want::Is(e))
    }

    fn piece(&self) -> Hash32 {
        self.piece
            .expect("a piece error on an attempt that names no piece")
    }

    /// Must fail because the signer does not hold the piece.
    pub fn not_holder(self) -> (Vec<u8>, Want) {
        let (piece, signer) = (self.piece(), self.signer);
        self.is(TxError::NotHolder { piece, signer })
    }

    /// Must fail because the piece, in `status`, does not allow `action`.
    pub fn wrong_status(self, status: &'static str, action: &'static str) -> (Vec<u8>, Want) {
        let piece = self.piece();
        self.is(TxError::WrongStatus {
            piece,
            status,
            action,
        })
    }

    /// Must fail because the piece is frozen (with the world's [`FREEZE_REASON`]).
    pub fn frozen(self) -> (Vec<u8>, Want) {
        let piece = self.piece();
        self.is(TxError::Frozen {
            piece,
            reason: FREEZE_REASON,
        })
    }

    /// Must fail because the signer lacks `role`, which `action` needs.
    pub fn missing_role(self, role: &'static str, action: &'static str) -> (Vec<u8>, Want) {
        let signer = self.signer;
        self.is(TxError::MissingRole {
            signer,
            role,
            action,
        })
    }

    /// Must fail because only someone else may do `action` (`reason` says who).
    pub fn unauthorized(self, action: &'static str, reason: &'static str) -> (Vec<u8>, Want) {
        let signer = self.signer;
        self.is(TxError::Unauthorized {
            signer,
            action,
            reason,
        })
    }
}

impl World {
    /// `who` signs `body` with its next nonce.
    pub fn by(&self, who: &str, body: TxBody) -> Attempt {
        Attempt {
            bytes: self.sign(who, body),
            signer: self.addr(who),
            piece: None,
        }
    }

    /// `who` tries `act` on `piece`.
    pub fn on(&self, who: &str, piece: Hash32, act: Act) -> Attempt {
        let bytes = match act {
            Act::Transfer(to) => self.transfer(who, piece, &[(to, 100_00)]),
            Act::Finance(financier) => self.finance(who, piece, financier, 1000_00),
            Act::Accept => self.sign(who, TxBody::Accept { piece }),
            Act::Cancel => self.sign(who, TxBody::Cancel { piece }),
            Act::Freeze => self.sign(who, TxBody::Freeze { piece, reason: 1 }),
            Act::Unfreeze => self.sign(who, TxBody::Unfreeze { piece }),
            Act::AcceptFinancing(reference) => self.sign(
                who,
                TxBody::AcceptFinancing {
                    piece,
                    payment_reference: reference.into(),
                },
            ),
            Act::MergeWith(other) => self.sign(
                who,
                TxBody::Merge {
                    pieces: vec![piece, other],
                },
            ),
        };
        Attempt {
            bytes,
            signer: self.addr(who),
            piece: Some(piece),
        }
    }

    /// t1 transfers its change of certificate A (6,000.00) to `outputs`.
    pub fn split(&self, outputs: &[(&str, u64)]) -> Attempt {
        let piece = self.ids.a_change;
        Attempt {
            bytes: self.transfer("t1", piece, outputs),
            signer: self.addr("t1"),
            piece: Some(piece),
        }
    }

    /// [`World::valid`] with `tamper` applied to the signed transaction before encoding.
    pub fn forged(&self, tamper: impl FnOnce(&mut SignedTx)) -> Attempt {
        let mut tx = self.valid();
        tamper(&mut tx);
        Attempt {
            bytes: tx.to_bytes(),
            signer: self.addr("core"),
            piece: None,
        }
    }

    /// The bytes of [`World::valid`] with `mangle` applied: no longer a canonical encoding.
    pub fn mangled(&self, mangle: impl FnOnce(&mut Vec<u8>)) -> (Vec<u8>, Want) {
        let mut bytes = self.valid().to_bytes();
        mangle(&mut bytes);
        (bytes, Want::Malformed)
    }

    /// core anchors a fresh document, with the envelope fields given.
    pub fn core_envelope(&self, chain_id: &str, nonce: u64, expiry_height: u64) -> Vec<u8> {
        let body = self.anchor_body("fresh-doc", 1000_00);
        self.envelope("core", chain_id, nonce, expiry_height, body)
            .to_bytes()
    }

    /// core's transaction signed for chain `got`: refused as for another chain.
    pub fn wrong_chain(&self, got: String) -> (Vec<u8>, Want) {
        let bytes = self.core_envelope(&got, self.nonce("core"), FAR_EXPIRY);
        let expected = self.genesis.chain_id.clone();
        (bytes, Want::Is(TxError::WrongChain { expected, got }))
    }

    /// core's transaction valid up to `expiry_height`, which is before the next block.
    pub fn expired(&self, expiry_height: u64) -> (Vec<u8>, Want) {
        let bytes = self.core_envelope(&self.genesis.chain_id, self.nonce("core"), expiry_height);
        let height = self.next_height;
        (
            bytes,
            Want::Is(TxError::Expired {
                expiry_height,
                height,
            }),
        )
    }

    /// core's transaction with nonce `got`, which is not its next one.
    pub fn bad_nonce(&self, got: u64) -> (Vec<u8>, Want) {
        let bytes = self.core_envelope(&self.genesis.chain_id, got, FAR_EXPIRY);
        let expected = self.nonce("core");
        (bytes, Want::Is(TxError::BadNonce { expected, got }))
    }

    /// [`World::issue_body`] maturing `days` after today.
    pub fn issue_in(&self, amount: u64, days: u32, document: Hash32) -> TxBody {
        self.issue_body(amount, Day(self.today().0 + days), document)
    }

    /// Registers the key named `name` with `roles`.
    pub fn register(&self, name: &str, roles: Roles) -> TxBody {
        TxBody::RegisterParticipant {
            public_key: self.fx.key(name).public_key(),
            roles,
            legal_id_hash: h(name),
        }
    }

    /// Sets the roles and the active flag of the participant named `name`.
    pub fn update(&self, name: &str, roles: Roles, active: bool) -> TxBody {
        TxBody::UpdateParticipant {
            address: self.addr(name),
            roles,
            active,
        }
    }

    /// A CNY credit line of `limit` (minor units) for `obligor`.
    pub fn credit_line(&self, obligor: &str, limit: u64) -> TxBody {
        TxBody::SetCreditLine {
            obligor: self.addr(obligor),
            currency: cny(),
            limit: Amount(limit),
        }
    }

    /// `who` approves `pub_key` at `power`.
    pub fn validator_change(&self, who: &str, pub_key: ValidatorKey, power: u64) -> Attempt {
        self.by(who, TxBody::ApproveValidatorChange { pub_key, power })
    }
}

/// The whole corpus. Each case is independent: it is built against the world as it stands
/// (every earlier case was rejected, so the world never changes but for its height).
pub fn cases() -> Vec<Case> {
    use Act::*;
    use CryptoError::*;
    use TxError as E;
    vec![
        // ---- signatures and keys ---------------------------------------------------------
        case("signature by another key", 2, |w| {
            let t1 = w.fx.key("t1");
            let forged = w.forged(|tx| tx.signature = t1.sign_prehash(&tx.tx.sign_digest()));
            forged.is(E::Signature(BadSignature))
        }),
        case("signature r with a bit flipped", 2, |w| {
            let forged = w.forged(|tx| tx.signature.0[31] ^= 0x01);
            forged.is(E::Signature(BadSignature))
        }),
        case("signature s with a bit flipped", 2, |w| {
            let forged = w.forged(|tx| tx.signature.0[63] ^= 0x01);
            forged.is(E::Signature(BadSignature))
        }),
        case("signature over another nonce", 2, |w| {
            let forged = w.forged(|tx| {
                let (chain, nonce, body) = (&w.genesis.chain_id, tx.tx.nonce + 1, &tx.tx.body);
                tx.signature = w
                    .envelope("core", chain, nonce, FAR_EXPIRY, body.clone())
                    .signature;
            });
            forged.is(E::Signature(BadSignature))
        }),
        case("high-S twin of a valid signature", 2, |w| {
            let forged = w.forged(|tx| {
                let sig = k256::ecdsa::Signature::from_slice(&tx.signature.0).expect("valid");
                let high = k256::ecdsa::Signature::from_scalars(sig.r(), -*sig.s()).expect("n - s");
                tx.signature.0.copy_from_slice(&high.to_bytes());
            });
            forged.is(E::Signature(HighS))
        }),
        case("all-zero signature", 2, |w| {
            let forged = w.forged(|tx| tx.signature = SignatureBytes([0; 64]));
            forged.is(E::Signature(MalformedSignature))
        }),
        case("signature s above the group order", 2, |w| {
            let forged = w.forged(|tx| tx.signature.0[32..].copy_from_slice(&[0xff; 32]));
            forged.is(E::Signature(MalformedSignature))
        }),
        case("uncompressed-key marker on a valid key", 2, |w| {
            let forged = w.forged(|tx| tx.tx.signer.0[0] = 0x04);
            forged.is(E::Signature(InvalidPublicKey))
        }),
        case("public key not on the curve", 2, |w| {
            let forged = w.forged(|tx| {
                tx.tx.signer.0 = [0xff; 33];
                tx.tx.signer.0[0] = 0x02;
            });
            forged.is(E::Signature(InvalidPublicKey))
        }),
        // ---- chain, nonce, expiry, signer ------------------------------------------------
        case("signed for another chain", 3, |w| {
            w.wrong_chain("cascade-other".into())
        }),
        case("empty chain id", 3, |w| w.wrong_chain(String::new())),
        case("chain id in another case", 3, |w| {
            w.wrong_chain(w.genesis.chain_id.to_uppercase())
        }),
        case("expired one block ago", 4, |w| w.expired(w.next_height - 1)),
        case("expiry height zero", 4, |w| w.expired(0)),
        case("replay of a committed transaction", 5, |w| {
            let want = E::BadNonce {
                expected: w.nonce("bank"),
                got: 0,
            };
            (w.replay.clone(), is(want))
        }),
        case("old nonce with new content", 5, |w| {
            w.bad_nonce(w.nonce("core") - 1)
        }),
        case("nonce one ahead (out of order)", 5, |w| {
            w.bad_nonce(w.nonce("core") + 1)
        }),
        case("nonce u64::MAX", 5, |w| w.bad_nonce(u64::MAX)),
        case("unregistered signer", 6, |w| {
            let attempt = w.by("stranger", w.anchor_body("fresh-doc", 1000_00));
            let signer = attempt.signer;
            attempt.is(E::UnknownSigner { signer })
        }),
        case("deactivated signer", 7, |w| {
            let attempt = w.on("mallory", w.ids.a_change, Transfer("t2a"));
            let address = attempt.signer;
            attempt.is(E::Inactive { address })
        }),
        // ---- encodings: truncated, oversized, non-canonical --------------------------------
        case("empty bytes", 1, |_| (Vec::new(), Want::Malformed)),
        case("a single zero byte", 1, |_| (vec![0], Want::Malformed)),
        case("truncated by one byte", 1, |w| {
            w.mangled(|b| b.truncate(b.len() - 1))
        }),
        case("truncated to half", 1, |w| {
            w.mangled(|b| b.truncate(b.len() / 2))
        }),
        case("signature cut off", 1, |w| {
            w.mangled(|b| b.truncate(b.len() - 64))
        }),
        case("trailing zero byte", 1, |w| w.mangled(|b| b.push(0))),
        case("valid transaction twice in one buffer", 1, |w| {
            w.mangled(|b| b.extend(b.clone()))
        }),
        case("bool encoded as 2", 1, |w| {
            let mut b = w.sign("operator", w.update("t1", Roles::SUPPLIER, true));
            let at = b.len() - 65; // ... || active: bool || signature (64 bytes)
            assert_eq!(b[at], 1);
            b[at] = 2;
            (b, Want::Malformed)
        }),
        case("unknown transaction kind tag", 1, |w| {
            w.mangled(|b| b[body_tag_at(&w.genesis.chain_id)] = 0xee)
        }),
        case("chain id not UTF-8", 1, |w| w.mangled(|b| b[4] = 0xff)),
        case("string length prefix past the end", 1, |w| {
            w.mangled(|b| b[..4].copy_from_slice(&u32::MAX.to_le_bytes()))
        }),
        case("vector length prefix of 2^32-1", 1, |w| {
            let mut b = w.split(&[("t2a", 100_00)]).bytes;
            // Transfer: tag || piece (32) || outputs: u32 length || ...
            let at = body_tag_at(&w.genesis.chain_id) + 1 + 32;
            assert_eq!(b[at..at + 4], 1u32.to_le_bytes());
            b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            (b, Want::Malformed)
        }),
        case("one byte over max_tx_bytes", 1, |w| {
            let limit = w.genesis.params.max_tx_bytes as usize;
            let base = w.on("bank", w.ids.requested, AcceptFinancing("")).bytes;
            let reference = "x".repeat(limit + 1 - base.len());
            let body = TxBody::AcceptFinancing {
                piece: w.ids.requested,
                payment_reference: reference,
            };
            let b = w.sign("bank", body);
            assert_eq!(b.len(), limit + 1);
            let size = limit + 1;
            (b, is(E::Decode(TxDecodeError::TooLarge { size, limit })))
        }),
        case("one MiB of garbage", 1, |w| {
            let limit = w.genesis.params.max_tx_bytes as usize;
            let size = 1 << 20;
            let want = E::Decode(TxDecodeError::TooLarge { size, limit });
            (vec![0xa5; size], is(want))
        }),
        // ---- amounts ---------------------------------------------------------------------
        case("zero transfer output", 30, |w| {
            w.split(&[("t2a", 0)]).is(E::ZeroAmount)
        }),
        case("transfer output below the minimum unit", 31, |w| {
            w.split(&[("t2a", 99)]).is(below_minimum(99))
        }),
        case("change below the minimum unit", 31, |w| {
            w.split(&[("t2a", 6000_00 - 50)]).is(below_minimum(50))
        }),
        case("outputs whose sum overflows u64", 32, |w| {
            w.split(&[("t2a", u64::MAX), ("t2b", 100)]).is(E::Overflow)
        }),
        case("zero issue amount", 30, |w| {
            let body = w.issue_in(0, 30, w.ids.doc_x);
            w.by("core", body).is(E::ZeroAmount)
        }),
        case("zero document amount", 30, |w| {
            let body = w.anchor_body("fresh-doc", 0);
            w.by("core", body).is(E::ZeroAmount)
        }),
        case("zero financing amount", 30, |w| {
            let b = w.finance("t1", w.ids.a_change, "bank", 0);
            (b, is(E::ZeroAmount))
        }),
        // ---- splits that do not add up -------------------------------------------------------
        case("outputs exceed the piece by one unit", 33, |w| {
            let attempt = w.split(&[("t2a", 5000_00), ("t2b", 1000_01)]);
            attempt.is(exceeds_change(6000_01))
        }),
        case("financing more than the piece", 33, |w| {
            let b = w.finance("t1", w.ids.a_change, "bank", 6000_01);
            (b, is(exceeds_change(6000_01)))
        }),
        case("transfer without outputs", 48, |w| {
            w.split(&[]).is(E::NoOutputs)
        }),
        case("seventeen outputs", 47, |w| {
            let attempt = w.split(&[("t2a", 100); 17]);
            attempt.is(E::TooManyOutputs { count: 17, max: 16 })
        }),
        case("the same recipient twice", 49, |w| {
            let attempt = w.split(&[("t2a", 100_00), ("t2a", 100_00)]);
            attempt.is(E::DuplicateRecipient { to: w.addr("t2a") })
        }),
        case("transfer to oneself", 50, |w| {
            w.split(&[("t1", 100_00)]).is(E::SelfTransfer)
        }),
        case("recipient is not a supplier", 13, |w| {
            w.split(&[("bank", 100_00)]).is(E::CounterpartyRole {
                address: w.addr("bank"),
                role: "supplier",
                what: "receive a transfer",
            })
        }),
        case("recipient is not registered", 11, |w| {
            let address = w.addr("stranger");
            w.split(&[("stranger", 100_00)])
                .is(E::UnknownParticipant { address })
        }),
        case("recipient is deactivated", 7, |w| {
            let address = w.addr("mallory");
            w.split(&[("mallory", 100_00)]).is(E::Inactive { address })
        }),
        case("merge of a single piece", 52, |w| {
            let body = TxBody::Merge {
                pieces: vec![w.ids.a_change],
            };
            w.by("t1", body).is(E::BadMergeCount { count: 1, max: 16 })
        }),
        case("merge of a piece with itself", 53, |w| {
            let piece = w.ids.a_change;
            w.on("t1", piece, MergeWith(piece))
                .is(E::DuplicatePiece { piece })
        }),
        case("merge across certificates", 54, |w| {
            w.on("t1", w.ids.a_change, MergeWith(w.ids.root_b))
                .is(E::DifferentRoots)
        }),
        // ---- transfers by non-holders ----------------------------------------------------
        case("transfer by a non-holder", 42, |w| {
            w.on("t2b", w.ids.a_change, Transfer("t2a")).not_holder()
        }),
        case("merge by a non-holder", 42, |w| {
            w.on("t2b", w.ids.a_change, MergeWith(w.ids.root_b))
                .not_holder()
        }),
        case("financing request by a non-holder", 42, |w| {
            w.on("t2a", w.ids.a_change, Finance("bank")).not_holder()
        }),
        case("accepting an offer made to someone else", 42, |w| {
            w.on("t2a", w.ids.pending, Accept).not_holder()
        }),
        case("cancelling someone else's offer", 9, |w| {
            w.on("t2a", w.ids.pending, Cancel)
                .unauthorized("cancel this offer", "only its sender may")
        }),
        case("transfer of a piece that does not exist", 40, |w| {
            let piece = h("ghost-piece");
            w.on("t1", piece, Transfer("t2a"))
                .is(E::UnknownPiece { piece })
        }),
        // ---- pending pieces --------------------------------------------------------------
        case("recipient moves a pending offer", 42, |w| {
            w.on("t3b", w.ids.pending, Transfer("t2a")).not_holder()
        }),
        case("sender moves its own pending offer", 42, |w| {
            w.on("t1", w.ids.pending, Transfer("t2a")).not_holder()
        }),
        case("recipient finances a pending offer", 42, |w| {
            w.on("t3b", w.ids.pending, Finance("bank")).not_holder()
        }),
        case("financier accepts financing of a pending piece", 43, |w| {
            w.on("bank", w.ids.pending, AcceptFinancing("wire"))
                .wrong_status("pending", "accept financing")
        }),
        // ---- frozen pieces ---------------------------------------------------------------
        case("transfer of a frozen piece", 44, |w| {
            w.on("t2a", w.ids.frozen, Transfer("t3a")).frozen()
        }),
        case("financing request on a frozen piece", 44, |w| {
            w.on("t2a", w.ids.frozen, Finance("bank")).frozen()
        }),
        case("freezing a frozen piece", 44, |w| {
            w.on("auditor", w.ids.frozen, Freeze).frozen()
        }),
        case("unfreezing a piece that is not frozen", 45, |w| {
            let piece = w.ids.a_change;
            w.on("auditor", piece, Unfreeze).is(E::NotFrozen { piece })
        }),
        // ---- financing requested, financed, double financing ------------------------------
        case("transfer of a piece awaiting financing", 43, |w| {
            w.on("t2b", w.ids.requested, Transfer("t3a"))
                .wrong_status("financing-requested", "transfer")
        }),
        case("second financing request on a requested piece", 43, |w| {
            w.on("t2b", w.ids.requested, Finance("factor"))
                .wrong_status("financing-requested", "request financing")
        }),
        case("a financier not asked accepts the financing", 9, |w| {
            w.on("factor", w.ids.requested, AcceptFinancing("wire"))
                .unauthorized("accept this financing", "only the financier asked may")
        }),
        case("empty payment reference", 38, |w| {
            w.on("bank", w.ids.requested, AcceptFinancing(""))
                .is(E::BadPaymentReference { max: 64 })
        }),
        case("payment reference of 65 bytes", 38, |w| {
            let body = TxBody::AcceptFinancing {
                piece: w.ids.requested,
                payment_reference: "r".repeat(65),
            };
            w.by("bank", body).is(E::BadPaymentReference { max: 64 })
        }),
        case("transfer of a financed piece", 43, |w| {
            w.on("bank", w.ids.financed, Transfer("t2a"))
                .wrong_status("financed", "transfer")
        }),
        case("double financing: refinancing a financed piece", 55, |w| {
            let piece = w.ids.financed;
            w.on("bank", piece, Finance("factor"))
                .is(E::AlreadyFinanced { piece })
        }),
        case(
            "double financing: accepting the same request again",
            43,
            |w| {
                w.on("bank", w.ids.consumed, AcceptFinancing("wire-0002"))
                    .wrong_status("consumed", "accept financing")
            },
        ),
        case("seller moves the piece it sold", 42, |w| {
            w.on("t3a", w.ids.consumed, Transfer("t2a")).not_holder()
        }),
        case("financing rate zero", 36, |w| bad_rate(w, 0)),
        case("financing rate above the maximum", 36, |w| {
            bad_rate(w, 500_001)
        }),
        // ---- matured and settled ----------------------------------------------------------
        case("transfer after maturity", 46, |w| {
            w.on("t1", w.ids.root_m, Transfer("t2a")).is(E::Matured {
                maturity: w.ids.maturity_m,
                today: w.today(),
            })
        }),
        case("financing after maturity", 46, |w| {
            w.on("t1", w.ids.root_m, Finance("bank")).is(E::Matured {
                maturity: w.ids.maturity_m,
                today: w.today(),
            })
        }),
        case("marking overdue within the grace period", 62, |w| {
            let body = TxBody::MarkOverdue { root: w.ids.root_m };
            w.by("t1", body).is(E::NotYetOverdue {
                from: Day(w.ids.maturity_m.0 + 3 + 1),
                today: w.today(),
            })
        }),
        case("settling before maturity", 61, |w| {
            let body = TxBody::Settle { root: w.ids.root_a };
            w.by("core", body).is(E::NotMatured {
                maturity: w.ids.maturity_a,
                today: w.today(),
            })
        }),
        case("settling by someone other than the obligor", 9, |w| {
            let body = TxBody::Settle { root: w.ids.root_m };
            w.by("t1", body)
                .unauthorized("settle this certificate", "only its obligor may")
        }),
        case("transfer of a settled piece", 42, |w| {
            w.on("t1", w.ids.root_s, Transfer("t2a")).not_holder()
        }),
        case("settling twice", 60, |w| {
            let body = TxBody::Settle { root: w.ids.root_s };
            w.by("core", body).is(settled_root(w, "settle"))
        }),
        case("freezing a settled piece", 43, |w| {
            w.on("auditor", w.ids.root_s, Freeze)
                .wrong_status("settled", "freeze")
        }),
        case("marking a settled certificate overdue", 60, |w| {
            let body = TxBody::MarkOverdue { root: w.ids.root_s };
            w.by("t1", body).is(settled_root(w, "mark overdue"))
        }),
        case("settling a certificate that does not exist", 41, |w| {
            let root = h("ghost-root");
            w.by("core", TxBody::Settle { root })
                .is(E::UnknownRoot { root })
        }),
        // ---- credit line and documents ----------------------------------------------------
        case("issue over the credit line", 22, |w| {
            let body = issue_on_line(w, "factor");
            w.by("core", body).is(E::CreditExceeded {
                requested: Amount(1000_00),
                available: Amount(500_00),
            })
        }),
        case("issue on a line nobody granted", 21, |w| {
            let body = issue_on_line(w, "t2a");
            w.by("core", body).is(E::NoCreditLine {
                obligor: w.addr("core"),
                grantor: w.addr("t2a"),
                currency: cny(),
            })
        }),
        case("issue over the document amount", 26, |w| {
            let body = w.issue_in(600_00, 30, w.ids.doc_small);
            w.by("core", body).is(E::DocumentExceeded {
                requested: Amount(600_00),
                remaining: Amount(500_00),
            })
        }),
        case("issue again on a fully issued document", 26, |w| {
            let body = w.issue_in(100_00, 30, w.ids.doc_a);
            w.by("core", body).is(E::DocumentExceeded {
                requested: Amount(100_00),
                remaining: Amount(0),
            })
        }),
        case("issue on a document never anchored", 24, |w| {
            let hash = h("ghost-doc");
            let body = w.issue_in(100_00, 30, hash);
            w.by("core", body).is(E::UnknownDocument { hash })
        }),
        case(
            "issue to someone other than the document's seller",
            25,
            |w| {
                let mut body = w.issue_in(100_00, 30, w.ids.doc_x);
                if let TxBody::Issue { to, .. } = &mut body {
                    *to = w.addr("t2a");
                }
                w.by("core", body).is(E::DocumentMismatch {
                    reason: "the recipient is not the document's seller",
                })
            },
        ),
        case("anchoring a document twice", 23, |w| {
            let body = w.anchor_body("doc-a", 10_000_00);
            w.by("core", body)
                .is(E::DocumentExists { hash: w.ids.doc_a })
        }),
        case("the seller anchors a document", 9, |w| {
            let body = w.anchor_body("fresh-doc", 1000_00);
            w.by("t1", body)
                .unauthorized("anchor this document", "only its buyer (the obligor) may")
        }),
        case("credit limit below what is in use", 20, |w| {
            let body = w.credit_line("core", 1);
            w.by("bank", body).is(E::LimitBelowUsed {
                limit: Amount(1),
                used: w.bank_line_used(),
            })
        }),
        case("maturity today", 34, |w| {
            let today = w.today();
            let body = w.issue_body(100_00, today, w.ids.doc_x);
            w.by("core", body).is(E::MaturityNotInFuture {
                maturity: today,
                today,
            })
        }),
        case("maturity beyond the maximum tenor", 35, |w| {
            let today = w.today();
            let body = w.issue_in(100_00, 366, w.ids.doc_x);
            w.by("core", body).is(E::TenorTooLong {
                maturity: Day(today.0 + 366),
                max_days: 365,
                latest: Day(today.0 + 365),
            })
        }),
        case("lower-case currency code", 16, |w| {
            let mut body = w.issue_in(100_00, 30, w.ids.doc_x);
            if let TxBody::Issue { currency, .. } = &mut body {
                *currency = codec::decode_stored(b"cny").expect("any 3 bytes decode");
            }
            w.by("core", body).is(E::InvalidCurrency)
        }),
        // ---- roles -------------------------------------------------------------------------
        case("registering an undefined role bit", 12, |w| {
            let body = w.register("stranger", Roles(0x20));
            w.by("operator", body).is(E::InvalidRoles { roles: 0x20 })
        }),
        case("registering with no role", 12, |w| {
            let body = w.register("stranger", Roles(0));
            w.by("operator", body).is(E::InvalidRoles { roles: 0 })
        }),
        case("updating to every role bit", 12, |w| {
            let body = w.update("t1", Roles(0xff), true);
            w.by("operator", body).is(E::InvalidRoles { roles: 0xff })
        }),
        case("registering a key that is not a curve point", 2, |w| {
            let mut body = w.register("stranger", Roles::SUPPLIER);
            if let TxBody::RegisterParticipant { public_key, .. } = &mut body {
                public_key.0 = [0xff; 33];
                public_key.0[0] = 0x03;
            }
            w.by("operator", body).is(E::Signature(InvalidPublicKey))
        }),
        case("registering a participant twice", 10, |w| {
            let body = w.register("t1", Roles::SUPPLIER);
            let address = w.addr("t1");
            w.by("operator", body).is(E::AlreadyRegistered { address })
        }),
        case("updating a participant never registered", 11, |w| {
            let body = w.update("stranger", Roles::SUPPLIER, true);
            let address = w.addr("stranger");
            w.by("operator", body).is(E::UnknownParticipant { address })
        }),
        case("a supplier registers a participant", 8, |w| {
            let body = w.register("stranger", Roles::SUPPLIER);
            w.by("t1", body)
                .missing_role("operator", "register participants")
        }),
        case("a supplier issues a certificate", 8, |w| {
            let body = w.issue_in(100_00, 30, w.ids.doc_x);
            w.by("t1", body)
                .missing_role("obligor", "issue certificates")
        }),
        case("a supplier grants a credit line", 8, |w| {
            let body = w.credit_line("core", 1);
            w.by("t1", body)
                .missing_role("financier or operator", "grant credit lines")
        }),
        case("a supplier freezes a piece", 8, |w| {
            w.on("t1", w.ids.a_change, Freeze)
                .missing_role("operator or auditor", "freeze pieces")
        }),
        case("a supplier changes the parameters", 8, |w| {
            let params = w.genesis.params.clone();
            w.by("t1", TxBody::UpdateParams { params })
                .missing_role("operator", "change parameters")
        }),
        case("a credit line for a non-obligor", 13, |w| {
            let body = w.credit_line("t1", 1);
            w.by("bank", body).is(E::CounterpartyRole {
                address: w.addr("t1"),
                role: "obligor",
                what: "receive a credit line",
            })
        }),
        case("the operator deactivates itself", 14, |w| {
            let body = w.update("operator", Roles::OPERATOR, false);
            w.by("operator", body).is(E::SelfLockout)
        }),
        case("parameters with a zero minimum unit", 15, |w| {
            let mut params = w.genesis.params.clone();
            params.min_unit = Amount(0);
            w.by("operator", TxBody::UpdateParams { params })
                .is(E::InvalidParams {
                    reason: "min_unit must be at least one minor unit",
                })
        }),
        // ---- validator governance ----------------------------------------------------------
        case("validator key that is not an Ed25519 point", 70, |w| {
            let pub_key = (0u8..=255)
                .map(|b| ValidatorKey([b; 32]))
                .find(|k| !k.is_valid())
                .expect("some byte pattern is not a point");
            w.validator_change("operator", pub_key, 1)
                .is(E::InvalidValidatorKey { pub_key })
        }),
        case("validator power above the cap", 71, |w| {
            let pub_key = validator_key("validator-new");
            w.validator_change("operator", pub_key, 1_000_001)
                .is(E::ValidatorPowerTooHigh {
                    power: 1_000_001,
                    max: 1_000_000,
                })
        }),
        case("validator change that changes nothing", 72, |w| {
            let pub_key = validator_key("validator-0");
            w.validator_change("operator", pub_key, 10)
                .is(E::NoValidatorChange {
                    pub_key,
                    current: 10,
                })
        }),
        case("removing the last validator", 73, |w| {
            let pub_key = validator_key("validator-0");
            w.validator_change("operator", pub_key, 0)
                .is(E::ValidatorSetSize { max: 100 })
        }),
        case("a supplier approves a validator change", 8, |w| {
            let pub_key = validator_key("validator-new");
            w.validator_change("t1", pub_key, 1)
                .missing_role("operator", "approve validator changes")
        }),
    ]
}

/// An output or a financing amount of `amount` minor units, below the 1.00 minimum unit.
fn below_minimum(amount: u64) -> TxError {
    TxError::BelowMinimum {
        amount: Amount(amount),
        min_unit: Amount(100),
    }
}

/// `outputs` minor units taken from t1's change of certificate A (6,000.00).
fn exceeds_change(outputs: u64) -> TxError {
    TxError::SplitExceedsPiece {
        outputs: Amount(outputs),
        available: Amount(6000_00),
    }
}

/// t1 asks bank to discount 1,000.00 of its change at `rate`, outside the allowed range.
fn bad_rate(w: &World, rate: u32) -> (Vec<u8>, Want) {
    let body = TxBody::RequestFinancing {
        piece: w.ids.a_change,
        financier: w.addr("bank"),
        amount: Amount(1000_00),
        rate: AnnualRate(rate),
    };
    w.by("t1", body).is(TxError::RateOutOfRange {
        rate: AnnualRate(rate),
        max: AnnualRate(500_000),
    })
}

/// `action` on the settled certificate S.
fn settled_root(w: &World, action: &'static str) -> TxError {
    TxError::WrongRootStatus {
        root: w.ids.root_s,
        status: "settled",
        action,
    }
}

/// core issues 1,000.00 on document X, maturing in 30 days, on `grantor`'s credit line.
fn issue_on_line(w: &World, grantor: &str) -> TxBody {
    let mut body = w.issue_in(1000_00, 30, w.ids.doc_x);
    if let TxBody::Issue { credit_grantor, .. } = &mut body {
        *credit_grantor = w.addr(grantor);
    }
    body
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
    pub fn known_keys(&self) -> Vec<cascade_core::keys::Key> {
        use cascade_core::keys;
        let i = &self.ids;
        let mut out: Vec<keys::Key> = self.pieces().iter().map(keys::piece).collect();
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
        out.push(keys::CONSORTIUM.into());
        out.push(keys::PARAMS.into());
        out.push(keys::Key::new());
        out.push(keys::obligor(&self.addr("core")));
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
                Query::History(i.a_change),
                Query::ObligorRecord(self.addr("core")),
                Query::ObligorRecord(self.addr("stranger")),
                Query::Params,
            ]
            .iter()
            .map(Query::path),
        );
        out
    }
}
