//! The Cascade demo: the whole life of a receivable certificate on a solo chain, checked the
//! way a wallet or bank would check a real network.
//!
//! A core enterprise issues 1,000,000.00 CNY to its tier-1 supplier; the certificate is
//! split and passed down three supplier tiers; a tier-3 supplier discounts part of its piece
//! with a bank; at maturity the core enterprise settles and every holder is paid.
//!
//! Every transaction goes through a [`SoloNode`]'s mempool into a block, exactly as under
//! CometBFT. A light client (`tendermint-light-client-verifier`) verifies every header in
//! sequence from genesis, trusting only the genesis validator set and the genesis state it
//! computes itself; the holdings, the clearing list and the lineage shown are taken from
//! node answers whose proofs verify against a verified header's app hash. It lives in the
//! library (not only in the `cascade-demo` binary) so the node's `demo` command and the tests
//! run the same scenario.

use crate::crypto::{Address, Hash32};
use crate::error::LedgerError;
use crate::event::Event;
use crate::keys;
use crate::ledger::{Ledger, TxReceipt};
use crate::money::{Amount, Money};
use crate::pricing::{AnnualRate, Quote};
use crate::proof::{ListKind, ProofError};
use crate::query::{Answer, Query};
use crate::solo::{SoloError, SoloNode, SubmitError};
use crate::store::StoreError;
use crate::testkit::{cny, validator_signing_key, Fixture, CHAIN_ID, STANDARD_PARTICIPANTS};
use crate::tx::{Output, Tx, TxBody};
use crate::types::{ClearingList, Genesis, Piece, PieceStatus, RootRecord};
use crate::Day;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;
use tendermint::block::signed_header::SignedHeader;
use tendermint::{validator, PublicKey};
use tendermint_light_client_verifier::options::Options;
use tendermint_light_client_verifier::types::{
    TrustThreshold, TrustedBlockState, UntrustedBlockState,
};
use tendermint_light_client_verifier::{ProdVerifier, Verdict, Verifier};

/// Seed of the demo's validator key ([`validator_signing_key`]); the fixture genesis lists it.
const VALIDATOR_SEED: &str = "validator-0";

/// Seconds between ordinary blocks.
const BLOCK_INTERVAL: i64 = 6;

/// Transactions may be included up to this many blocks after they are signed.
const TX_TTL_BLOCKS: u64 = 100;

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The solo node failed.
    #[error("solo node: {0}")]
    Solo(#[from] SoloError),
    /// A transaction the scenario needs was refused by the mempool.
    #[error("transaction refused: {0}")]
    Submit(#[from] SubmitError),
    /// A transaction the scenario needs failed in its block.
    #[error("{who} {kind} failed in block {height} (code {code}): {log}")]
    TxFailed {
        /// Signer's name.
        who: String,
        /// Transaction kind.
        kind: &'static str,
        /// Block height.
        height: u64,
        /// Ledger error code.
        code: u32,
        /// Ledger error message.
        log: String,
    },
    /// The light client refused a header.
    #[error("light client refused header {height}: {reason}")]
    Header {
        /// Header height.
        height: u64,
        /// The verifier's verdict or what was missing.
        reason: String,
    },
    /// A proof did not verify against the verified app hash.
    #[error("proof refused: {0}")]
    Proof(#[from] ProofError),
    /// A query failed or gave an unexpected answer.
    #[error("query {path}: {reason}")]
    Query {
        /// Query path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A local ledger read failed.
    #[error("ledger read: {0}")]
    Store(#[from] StoreError),
    /// The light client's scratch ledger refused the genesis.
    #[error("genesis: {0}")]
    Ledger(#[from] LedgerError),
    /// Something the scenario expects (an event, a record) is not there.
    #[error("expected {what}, which is missing")]
    Missing {
        /// What was expected.
        what: String,
    },
    /// The double spend the demo tries was accepted.
    #[error("the double spend was accepted")]
    DoubleSpendAccepted,
    /// One or more conservation checks failed.
    #[error("checks failed: {}", .0.join("; "))]
    ChecksFailed(Vec<String>),
    /// Writing the report failed.
    #[error("writing the demo output: {0}")]
    Io(#[from] std::io::Error),
}

/// The figures the demo's checks used, for tests and callers to assert on. Amounts are in
/// minor units (fen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoReport {
    /// Height of the last block.
    pub height: u64,
    /// App hash of the last verified header.
    pub app_hash: Hash32,
    /// Headers the light client verified, in sequence from height 1.
    pub headers_verified: u64,
    /// State proofs verified against verified app hashes (each list counts its record and
    /// every piece).
    pub proofs_verified: u64,
    /// Face value of the certificate.
    pub face: u64,
    /// Sum of the proven holdings of all participants before maturity.
    pub held_before_maturity: u64,
    /// Sum of the settled pieces of the proven lineage.
    pub settled_sum: u64,
    /// Sum of the proven clearing list's entries.
    pub clearing_sum: u64,
    /// The clearing list's total.
    pub clearing_total: u64,
    /// Entries in the clearing list.
    pub clearing_entries: usize,
    /// Pieces still outstanding after settlement.
    pub outstanding: usize,
    /// Pieces in the proven lineage.
    pub lineage_pieces: usize,
    /// Face of the financed piece.
    pub financed_face: u64,
    /// Discount interest.
    pub interest: u64,
    /// Proceeds paid to the supplier.
    pub proceeds: u64,
    /// What the clearing list pays the bank.
    pub bank_paid: u64,
    /// Credit line use after settlement.
    pub credit_used_after: u64,
    /// Error code the double spend was rejected with.
    pub double_spend_code: Option<u32>,
}

/// A light client that trusts the genesis and then only what it verifies.
struct LightClient {
    verifier: ProdVerifier,
    options: Options,
    genesis_validators: validator::Set,
    genesis_app_hash: Hash32,
    trusted: Option<(SignedHeader, validator::Set)>,
    verified: u64,
}

impl LightClient {
    /// Trust roots from the genesis document alone: its validator set, and the app hash
    /// of its state computed on a scratch ledger.
    fn from_genesis(genesis: &Genesis) -> Result<LightClient, DemoError> {
        let mut infos = Vec::new();
        for v in &genesis.validators {
            let key =
                PublicKey::from_raw_ed25519(&v.pub_key.0).ok_or_else(|| DemoError::Missing {
                    what: "a valid genesis validator key".into(),
                })?;
            let power =
                tendermint::vote::Power::try_from(v.power).map_err(|e| DemoError::Missing {
                    what: format!("a valid validator power ({e})"),
                })?;
            infos.push(validator::Info::new(key, power));
        }
        let mut scratch = Ledger::in_memory()?;
        let genesis_app_hash = scratch.init_chain(genesis)?;
        Ok(LightClient {
            verifier: ProdVerifier::default(),
            options: Options {
                trust_threshold: TrustThreshold::ONE_THIRD,
                // The demo jumps 60 days between two blocks; a consortium chain's trusting
                // period follows its governance, here a year.
                trusting_period: Duration::from_secs(365 * 86_400),
                clock_drift: Duration::from_secs(10),
            },
            genesis_validators: validator::Set::without_proposer(infos),
            genesis_app_hash,
            trusted: None,
            verified: 0,
        })
    }

    fn refuse(height: u64, reason: impl Into<String>) -> DemoError {
        DemoError::Header {
            height,
            reason: reason.into(),
        }
    }

    /// Verifies every header the node has beyond the trusted one, in order.
    fn catch_up(&mut self, node: &SoloNode) -> Result<(), DemoError> {
        let mut next = self
            .trusted
            .as_ref()
            .map_or(1, |(sh, _)| sh.header.height.value() + 1);
        while next <= node.latest_height() {
            self.verify(node, next)?;
            next += 1;
        }
        Ok(())
    }

    fn verify(&mut self, node: &SoloNode, height: u64) -> Result<(), DemoError> {
        let sh = node
            .signed_header(height)?
            .ok_or_else(|| Self::refuse(height, "the node has no such header"))?;
        let vals = node
            .validator_set(height)
            .ok_or_else(|| Self::refuse(height, "the node has no validator set"))?;
        let untrusted = UntrustedBlockState {
            signed_header: &sh,
            validators: &vals,
            next_validators: Some(&vals),
        };
        let verdict = match &self.trusted {
            None => {
                // Header 1: signed by the genesis validators, carrying the genesis state.
                if vals.hash() != self.genesis_validators.hash() {
                    return Err(Self::refuse(height, "not the genesis validator set"));
                }
                if sh.header.app_hash.as_bytes() != self.genesis_app_hash.0.as_slice() {
                    return Err(Self::refuse(height, "app hash is not the genesis state"));
                }
                match self.verifier.verify_validator_sets(&untrusted) {
                    Verdict::Success => self.verifier.verify_commit(&untrusted),
                    other => other,
                }
            }
            Some((trusted, trusted_vals)) => {
                let trusted_state = TrustedBlockState {
                    chain_id: &trusted.header.chain_id,
                    header_time: trusted.header.time,
                    height: trusted.header.height,
                    next_validators: trusted_vals,
                    next_validators_hash: trusted.header.next_validators_hash,
                };
                // The client's clock: just after the block was made.
                let now = (sh.header.time + Duration::from_secs(1))
                    .map_err(|e| Self::refuse(height, e.to_string()))?;
                self.verifier
                    .verify_update_header(untrusted, trusted_state, &self.options, now)
            }
        };
        if verdict != Verdict::Success {
            return Err(Self::refuse(height, format!("{verdict:?}")));
        }
        self.trusted = Some((sh, vals));
        self.verified += 1;
        Ok(())
    }

    /// Height and app hash of the latest verified header.
    fn latest(&self) -> Option<(u64, Hash32)> {
        let (sh, _) = self.trusted.as_ref()?;
        let hash = <[u8; 32]>::try_from(sh.header.app_hash.as_bytes()).ok()?;
        Some((sh.header.height.value(), Hash32(hash)))
    }
}

/// The scenario's state: the node, the cast's keys, nonces, the clock and the light client.
struct Demo<'a> {
    out: &'a mut dyn Write,
    node: SoloNode,
    cast: Fixture,
    nonces: BTreeMap<Address, u64>,
    time: i64,
    light: LightClient,
    proofs: u64,
}

fn short(id: &Hash32) -> String {
    id.to_hex()[..8].to_string()
}

fn find<T>(events: &[Event], what: &str, f: impl Fn(&Event) -> Option<T>) -> Result<T, DemoError> {
    events.iter().find_map(f).ok_or_else(|| DemoError::Missing {
        what: format!("a {what} event"),
    })
}

impl Demo<'_> {
    fn name_of(&self, a: &Address) -> String {
        STANDARD_PARTICIPANTS
            .iter()
            .map(|(n, _)| *n)
            .find(|n| self.cast.addr(n) == *a)
            .map_or_else(|| a.to_hex()[..8].to_string(), str::to_string)
    }

    fn addr(&self, name: &str) -> Address {
        self.cast.addr(name)
    }

    fn today(&self) -> Day {
        Day::from_unix_seconds(self.time).unwrap_or_default()
    }

    fn sign(&mut self, who: &str, body: TxBody) -> Vec<u8> {
        let key = self.cast.key(who);
        let nonce = self.nonces.entry(key.address()).or_insert(0);
        let tx = Tx {
            chain_id: CHAIN_ID.into(),
            signer: key.public_key(),
            nonce: *nonce,
            expiry_height: self.node.latest_height() + 1 + TX_TTL_BLOCKS,
            body,
        };
        *nonce += 1;
        tx.sign(key).to_bytes()
    }

    /// Produces the next block at the demo clock and verifies its header.
    fn block(&mut self) -> Result<crate::solo::BlockSummary, DemoError> {
        self.time += BLOCK_INTERVAL;
        let summary = self.node.produce_block(self.time)?;
        self.light.catch_up(&self.node)?;
        Ok(summary)
    }

    /// Moves the clock forward by whole days and produces an empty block at the new time, as
    /// a running chain would have: `CheckTx` judges a transaction by the last block's day,
    /// so a settlement at maturity needs a block on or after maturity first.
    fn advance_days(&mut self, days: i64) -> Result<(), DemoError> {
        self.time += days * 86_400;
        let summary = self.block()?;
        writeln!(
            self.out,
            "   block {:>3}  (empty, {} days later: {})",
            summary.height,
            days,
            self.today()
        )?;
        Ok(())
    }

    /// Submits transactions, puts them in one block and returns their receipts; any failure
    /// stops the demo.
    fn txs(&mut self, txs: Vec<(&str, TxBody)>) -> Result<Vec<TxReceipt>, DemoError> {
        let mut sent = Vec::new();
        for (who, body) in txs {
            let kind = body.kind();
            let bytes = self.sign(who, body);
            sent.push((who.to_string(), kind, self.node.submit(bytes)?));
        }
        let summary = self.block()?;
        let mut receipts = Vec::new();
        for (who, kind, hash) in sent {
            let outcome =
                summary
                    .txs
                    .iter()
                    .find(|t| t.hash == hash)
                    .ok_or_else(|| DemoError::Missing {
                        what: format!("{who} {kind} in block {}", summary.height),
                    })?;
            if outcome.code != 0 {
                return Err(DemoError::TxFailed {
                    who,
                    kind,
                    height: summary.height,
                    code: outcome.code,
                    log: outcome.log.clone(),
                });
            }
            writeln!(
                self.out,
                "   block {:>3}  {:<7} {:<17} tx {}",
                summary.height,
                who,
                kind,
                short(&hash)
            )?;
            receipts.push(
                self.node
                    .receipt(&hash)?
                    .ok_or_else(|| DemoError::Missing {
                        what: format!("the receipt of {who} {kind}"),
                    })?,
            );
        }
        Ok(receipts)
    }

    fn tx(&mut self, who: &str, body: TxBody) -> Result<TxReceipt, DemoError> {
        self.txs(vec![(who, body)])?
            .pop()
            .ok_or_else(|| DemoError::Missing {
                what: "a receipt".into(),
            })
    }

    /// Asks the node (at its latest height) for several answers.
    fn ask(&self, queries: &[Query]) -> Result<(u64, Vec<Answer>), DemoError> {
        let height = self.node.latest_height();
        let mut answers = Vec::new();
        for q in queries {
            let path = q.path();
            let resp = self.node.query(&path);
            if resp.code.is_err() {
                return Err(DemoError::Query {
                    path,
                    reason: resp.log,
                });
            }
            if resp.height.value() != height {
                return Err(DemoError::Query {
                    path,
                    reason: format!("answered for height {}", resp.height),
                });
            }
            answers.push(
                borsh::from_slice(&resp.value).map_err(|e| DemoError::Query {
                    path,
                    reason: e.to_string(),
                })?,
            );
        }
        Ok((height, answers))
    }

    /// The app hash that commits to the state at `height`: carried by header `height + 1`,
    /// which is produced if needed and verified by the light client.
    fn verified_app_hash(&mut self, height: u64) -> Result<Hash32, DemoError> {
        if self.node.latest_height() == height {
            self.block()?;
        }
        let header = height + 1;
        let (verified, hash) = self
            .light
            .latest()
            .ok_or_else(|| LightClient::refuse(header, "nothing verified"))?;
        if verified != header {
            return Err(LightClient::refuse(
                header,
                "not the latest verified header",
            ));
        }
        Ok(hash)
    }
}

/// Runs the demo, writing its report to `out`; returns the figures its checks used.
pub fn run(out: &mut dyn Write) -> Result<DemoReport, DemoError> {
    let cast = Fixture::standard();
    let genesis = cast.genesis().clone();
    writeln!(
        out,
        "Cascade demo: splittable receivables from a core enterprise down three supplier tiers"
    )?;
    writeln!(
        out,
        "(solo chain {CHAIN_ID:?}: one validator producing CometBFT v0.38 blocks; a light client verifies every header)"
    )?;
    let node = SoloNode::in_memory(&genesis, validator_signing_key(VALIDATOR_SEED))?;
    let light = LightClient::from_genesis(&genesis)?;
    let mut d = Demo {
        out,
        time: genesis.genesis_time + 3600,
        node,
        cast,
        nonces: BTreeMap::new(),
        light,
        proofs: 0,
    };
    scenario(&mut d)
}

fn step(d: &mut Demo<'_>, s: &str) -> Result<(), DemoError> {
    writeln!(d.out, "\n== {s}")?;
    Ok(())
}

fn scenario(d: &mut Demo<'_>) -> Result<DemoReport, DemoError> {
    let (core, bank) = (d.addr("core"), d.addr("bank"));

    step(d, "0. genesis: 10 participants and one validator; the bank grants the core enterprise a 10,000,000.00 CNY credit line")?;
    d.tx(
        "bank",
        TxBody::SetCreditLine {
            obligor: core,
            currency: cny(),
            limit: Amount(10_000_000_00),
        },
    )?;
    writeln!(
        d.out,
        "   header 1 verified: signed by the genesis validator {}, app hash = genesis state computed locally",
        d.node.validator().address
    )?;

    step(d, "1. core enterprise issues 1,000,000.00 CNY to tier-1 supplier t1 (maturity in 90 days), t1 accepts")?;
    let document = Hash32(crate::crypto::sha256(b"invoice-1"));
    let t1 = d.addr("t1");
    d.tx(
        "core",
        TxBody::AnchorDocument {
            hash: document,
            amount: Money {
                amount: Amount(1_000_000_00),
                currency: cny(),
            },
            buyer: core,
            seller: t1,
        },
    )?;
    let maturity = Day(d.today().0 + 90);
    let r = d.tx(
        "core",
        TxBody::Issue {
            to: t1,
            amount: Amount(1_000_000_00),
            currency: cny(),
            maturity,
            document,
            credit_grantor: bank,
        },
    )?;
    let root = find(&r.events, "offered", |e| match e {
        Event::Offered { piece, .. } => Some(*piece),
        _ => None,
    })?;
    d.tx("t1", TxBody::Accept { piece: root })?;
    let terms = d
        .node
        .app()
        .ledger()
        .root(&root)?
        .ok_or_else(|| DemoError::Missing {
            what: "the certificate record".into(),
        })?
        .terms;
    writeln!(
        d.out,
        "   certificate {} matures {}",
        short(&root),
        terms.maturity
    )?;

    step(d, "2. t1 splits: 600,000.00 to t2a, 150,000.00 to t2b, keeps the change; both accept in one block")?;
    let r = d.tx(
        "t1",
        TxBody::Transfer {
            piece: root,
            outputs: vec![
                Output {
                    to: d.addr("t2a"),
                    amount: Amount(600_000_00),
                },
                Output {
                    to: d.addr("t2b"),
                    amount: Amount(150_000_00),
                },
            ],
        },
    )?;
    let (t2, _) = crate::testkit::offered_and_change(&r.events);
    let [t2a_piece, t2b_piece] = t2[..] else {
        return Err(DemoError::Missing {
            what: "two tier-2 offers".into(),
        });
    };
    d.txs(vec![
        ("t2a", TxBody::Accept { piece: t2a_piece }),
        ("t2b", TxBody::Accept { piece: t2b_piece }),
    ])?;

    step(d, "3. tier 2 passes on to tier 3: t2a → t3a 400,000.00 and t3b 100,000.00; t2b → t3b 50,000.00")?;
    let r = d.tx(
        "t2a",
        TxBody::Transfer {
            piece: t2a_piece,
            outputs: vec![
                Output {
                    to: d.addr("t3a"),
                    amount: Amount(400_000_00),
                },
                Output {
                    to: d.addr("t3b"),
                    amount: Amount(100_000_00),
                },
            ],
        },
    )?;
    let (t3, _) = crate::testkit::offered_and_change(&r.events);
    let r = d.tx(
        "t2b",
        TxBody::Transfer {
            piece: t2b_piece,
            outputs: vec![Output {
                to: d.addr("t3b"),
                amount: Amount(50_000_00),
            }],
        },
    )?;
    let (t3b2, _) = crate::testkit::offered_and_change(&r.events);
    let [t3a_piece, t3b_piece] = t3[..] else {
        return Err(DemoError::Missing {
            what: "two tier-3 offers".into(),
        });
    };
    let t3b2_piece = *t3b2.first().ok_or_else(|| DemoError::Missing {
        what: "the second tier-3 offer".into(),
    })?;
    d.txs(vec![
        ("t3a", TxBody::Accept { piece: t3a_piece }),
        ("t3b", TxBody::Accept { piece: t3b_piece }),
    ])?;
    d.tx("t3b", TxBody::Accept { piece: t3b2_piece })?;
    writeln!(
        d.out,
        "   a rejected move, for contrast: t2a tries to spend the piece it already split:"
    )?;
    let again = d.sign(
        "t2a",
        TxBody::Transfer {
            piece: t2a_piece,
            outputs: vec![Output {
                to: d.addr("t3a"),
                amount: Amount(1_000_00),
            }],
        },
    );
    let double_spend_code = match d.node.submit(again) {
        Err(e @ SubmitError::Rejected { .. }) => {
            writeln!(d.out, "   rejected as expected by CheckTx: {e}")?;
            // The nonce was not used: the next transaction of t2a reuses it.
            if let Some(n) = d.nonces.get_mut(&d.cast.addr("t2a")) {
                *n -= 1;
            }
            e.code()
        }
        Err(e) => return Err(e.into()),
        Ok(_) => return Err(DemoError::DoubleSpendAccepted),
    };

    step(
        d,
        "4. 30 days later t3a discounts 300,000.00 with the bank at 4.35 % (ACT/360)",
    )?;
    d.advance_days(30)?;
    let r = d.tx(
        "t3a",
        TxBody::RequestFinancing {
            piece: t3a_piece,
            financier: bank,
            amount: Amount(300_000_00),
            rate: AnnualRate(43_500),
        },
    )?;
    let locked = find(&r.events, "financing requested", |e| match e {
        Event::FinancingRequested { piece, .. } => Some(*piece),
        _ => None,
    })?;
    let r = d.tx(
        "bank",
        TxBody::AcceptFinancing {
            piece: locked,
            payment_reference: "CNAPS-2026-0001".into(),
        },
    )?;
    let quote: Quote = find(&r.events, "financed", |e| match e {
        Event::Financed { quote, .. } => Some(*quote),
        _ => None,
    })?;
    writeln!(
        d.out,
        "   face {}, rate {}, {} days ({:?})",
        in_cny(quote.face),
        quote.rate,
        quote.days,
        quote.day_count
    )?;
    writeln!(
        d.out,
        "   interest = {} × {} × {} / {} = {} (rounded half-up to the fen)",
        in_cny(quote.face),
        quote.rate,
        quote.days,
        quote.day_count.basis(),
        in_cny(quote.interest)
    )?;
    writeln!(
        d.out,
        "   proceeds paid to t3a now = {}; the bank is paid {} at maturity",
        in_cny(quote.proceeds),
        in_cny(quote.face)
    )?;
    let expected_interest =
        (u128::from(quote.face.0) * u128::from(quote.rate.0) * u128::from(quote.days)
            + 180_000_000)
            / 360_000_000;
    let figures_ok = u128::from(quote.interest.0) == expected_interest
        && quote.interest.0.checked_add(quote.proceeds.0) == Some(quote.face.0);

    writeln!(
        d.out,
        "   holdings before maturity, each list proven complete:"
    )?;
    let holders = ["t1", "t2a", "t2b", "t3a", "t3b", "bank"];
    let queries: Vec<Query> = holders.iter().map(|n| Query::Holdings(d.addr(n))).collect();
    let (height, answers) = d.ask(&queries)?;
    let app_hash = d.verified_app_hash(height)?;
    let mut held_before_maturity = 0u64;
    for (name, answer) in holders.iter().zip(answers) {
        let Answer::List(list) = answer else {
            return Err(DemoError::Query {
                path: format!("holdings of {name}"),
                reason: "not a list".into(),
            });
        };
        let pieces = list.verify_for(&app_hash, &d.addr(name), ListKind::Holdings)?;
        d.proofs += 1 + pieces.len() as u64;
        let sum: u64 = pieces.iter().map(|(_, p)| p.amount.0).sum();
        held_before_maturity += sum;
        let ids: Vec<String> = pieces
            .iter()
            .map(|(id, p)| format!("{} {}", short(id), p.status.name()))
            .collect();
        writeln!(
            d.out,
            "     {:<5} {:>18}  {}",
            name,
            in_cny(Amount(sum)),
            ids.join(", ")
        )?;
    }
    writeln!(
        d.out,
        "   (state of block {height}, proven against the app hash in verified header {})",
        height + 1
    )?;

    step(
        d,
        "5. maturity: the core enterprise settles; every outstanding piece is paid to its holder",
    )?;
    d.advance_days(60)?;
    d.tx("core", TxBody::Settle { root })?;
    let (height, answers) = d.ask(&[Query::Clearing(root), Query::Lineage(root)])?;
    let app_hash = d.verified_app_hash(height)?;
    let mut answers = answers.into_iter();
    let (Some(Answer::State(clearing)), Some(Answer::Lineage(lineage))) =
        (answers.next(), answers.next())
    else {
        return Err(DemoError::Query {
            path: "clearing and lineage".into(),
            reason: "unexpected answers".into(),
        });
    };
    let clearing: ClearingList = clearing
        .verify_typed(&app_hash, &keys::clearing(&root))?
        .ok_or_else(|| DemoError::Missing {
            what: "the clearing list".into(),
        })?;
    d.proofs += 1;
    writeln!(
        d.out,
        "   clearing list ({}), proven against verified header {}:",
        if clearing.late { "late" } else { "on time" },
        height + 1
    )?;
    for e in &clearing.entries {
        let payee = d.name_of(&e.payee);
        writeln!(
            d.out,
            "     piece {}  pay {:<7} {:>18}{}",
            short(&e.piece),
            payee,
            in_cny(e.amount),
            if e.withheld { "  (withheld)" } else { "" }
        )?;
    }
    writeln!(d.out, "     total {:>34}", in_cny(clearing.total))?;

    step(
        d,
        "6. lineage tree, proven complete against the verified app hash",
    )?;
    let (record, pieces): (RootRecord, Vec<(Hash32, Piece)>) =
        lineage.verify_for(&app_hash, &root)?;
    d.proofs += 1 + pieces.len() as u64;
    writeln!(
        d.out,
        "   app hash {} in header {}; {} pieces verified",
        app_hash,
        height + 1,
        pieces.len()
    )?;
    let lineage_pieces = pieces.len();
    let pieces: BTreeMap<Hash32, Piece> = pieces.into_iter().collect();
    let mut children: BTreeMap<Hash32, Vec<Hash32>> = BTreeMap::new();
    for (id, p) in &pieces {
        if let Some(parent) = p.parent {
            children.entry(parent).or_default().push(*id);
        }
    }
    print_tree(d, &root, &children, &pieces, 0)?;

    step(d, "7. checks")?;
    let face = record.face.0;
    let settled_sum: u64 = pieces
        .values()
        .filter(|p| p.status == PieceStatus::Settled)
        .map(|p| p.amount.0)
        .sum();
    let outstanding = pieces
        .values()
        .filter(|p| p.status.is_outstanding())
        .count();
    let clearing_sum: u64 = clearing.entries.iter().map(|e| e.amount.0).sum();
    let bank_paid: u64 = clearing
        .entries
        .iter()
        .filter(|e| e.payee == bank)
        .map(|e| e.amount.0)
        .sum();
    let line = d
        .node
        .app()
        .ledger()
        .credit_line(&core, &cny(), &bank)?
        .ok_or_else(|| DemoError::Missing {
            what: "the credit line".into(),
        })?;
    let checks = [
        (
            "financing figures add up (interest = face × rate × days / 360, proceeds = face − interest)",
            figures_ok,
        ),
        (
            "conservation before maturity: proven holdings sum to the face value",
            held_before_maturity == face,
        ),
        (
            "conservation: settled pieces sum to the face value",
            settled_sum == face,
        ),
        (
            "clearing list sums to the face value",
            clearing_sum == face && clearing.total == record.face,
        ),
        ("no piece left outstanding", outstanding == 0),
        ("the bank is paid the financed face", bank_paid == quote.face.0),
        ("credit line restored", line.used == Amount::ZERO),
        ("terms unchanged since issue", record.terms == terms),
        (
            "the double spend was rejected",
            double_spend_code.is_some(),
        ),
    ];
    let mut failed = Vec::new();
    for (what, held) in checks {
        writeln!(d.out, "   [{}] {what}", if held { "ok" } else { "FAILED" })?;
        if !held {
            failed.push(what.to_string());
        }
    }
    let rec = d.node.app().ledger().obligor_record(&core)?;
    writeln!(
        d.out,
        "   obligor record: {} settled on time, {} late, {} overdue",
        rec.settled_on_time, rec.settled_late, rec.overdue_now
    )?;
    let (last_height, last_app_hash) = d
        .light
        .latest()
        .ok_or_else(|| LightClient::refuse(1, "nothing verified"))?;
    writeln!(
        d.out,
        "   light client: {} headers verified in sequence from genesis (heights 1–{last_height}); {} state proofs verified against verified app hashes",
        d.light.verified, d.proofs
    )?;
    if !failed.is_empty() {
        return Err(DemoError::ChecksFailed(failed));
    }
    Ok(DemoReport {
        height: last_height,
        app_hash: last_app_hash,
        headers_verified: d.light.verified,
        proofs_verified: d.proofs,
        face,
        held_before_maturity,
        settled_sum,
        clearing_sum,
        clearing_total: clearing.total.0,
        clearing_entries: clearing.entries.len(),
        outstanding,
        lineage_pieces,
        financed_face: quote.face.0,
        interest: quote.interest.0,
        proceeds: quote.proceeds.0,
        bank_paid,
        credit_used_after: line.used.0,
        double_spend_code,
    })
}

/// The demo's amounts are all in CNY.
fn in_cny(amount: Amount) -> Money {
    Money::new(amount, cny())
}

fn print_tree(
    d: &mut Demo<'_>,
    id: &Hash32,
    children: &BTreeMap<Hash32, Vec<Hash32>>,
    pieces: &BTreeMap<Hash32, Piece>,
    depth: usize,
) -> Result<(), DemoError> {
    let p = pieces.get(id).ok_or_else(|| DemoError::Missing {
        what: format!("piece {id} in the lineage"),
    })?;
    let status = match (&p.status, &p.frozen) {
        (_, Some(_)) => format!("{} (frozen)", p.status.name()),
        (PieceStatus::Pending { from, .. }, None) => format!("pending from {}", d.name_of(from)),
        (s, None) => s.name().to_string(),
    };
    let holder = d.name_of(&p.holder);
    writeln!(
        d.out,
        "  {}{} {:>18}  tier {}  holder {:<7} {}",
        "   ".repeat(depth),
        short(id),
        in_cny(p.amount),
        p.tier,
        holder,
        status
    )?;
    for c in children.get(id).into_iter().flatten() {
        print_tree(d, c, children, pieces, depth + 1)?;
    }
    Ok(())
}
