//! Signing and submitting ledger transactions against a [`Network`], with nonces tracked
//! on the client side, and a lifecycle workload that keeps several certificates moving
//! through issue, acceptance, split-transfers and financing.

use crate::net::{wait_until, Network};
use cascade_core::crypto::sha256;
use cascade_core::testkit::{cny, financing_requested, first_piece, offered_and_change};
use cascade_core::tx::{Output, Tx, TxBody};
use cascade_core::{
    Address, Amount, AnnualRate, Day, Event, Hash32, Money, Roles, SecretKey, TxReceipt,
};
use cascade_node::genesis::{dev_participants, DEV_OPERATORS};
use std::collections::BTreeMap;
use std::time::Duration;

/// Expiry height put on every transaction (far beyond any test's chain).
pub const EXPIRY_HEIGHT: u64 = 1_000_000;

/// Participant keys with the next nonce of each, tracked client-side: a nonce is used when
/// a transaction is signed, so every transaction signed must be committed.
pub struct Client {
    chain_id: String,
    keys: BTreeMap<String, SecretKey>,
    nonces: BTreeMap<String, u64>,
}

impl Client {
    /// The development participants of `chain_id` (the default testnet genesis).
    pub fn new(chain_id: &str) -> Client {
        let keys = dev_participants(DEV_OPERATORS)
            .into_iter()
            .map(|p| (p.name.clone(), p.key()))
            .collect();
        Client {
            chain_id: chain_id.to_string(),
            keys,
            nonces: BTreeMap::new(),
        }
    }

    /// Adds a key derived from `name` (for a participant registered later).
    pub fn add_key(&mut self, name: &str) {
        self.keys
            .insert(name.to_string(), SecretKey::from_seed(name.as_bytes()));
    }

    fn key(&self, name: &str) -> &SecretKey {
        self.keys
            .get(name)
            .unwrap_or_else(|| panic!("the client has no key named {name}"))
    }

    /// The address of `name`.
    pub fn address(&self, name: &str) -> Address {
        self.key(name).address()
    }

    /// The next nonce of `name`.
    pub fn nonce(&self, name: &str) -> u64 {
        self.nonces.get(name).copied().unwrap_or(0)
    }

    /// Signs `body` as `name` with its next nonce, which is then used up.
    pub fn sign(&mut self, name: &str, body: TxBody) -> Vec<u8> {
        let nonce = self.nonce(name);
        let bytes = self.sign_raw(name, &self.chain_id.clone(), nonce, body);
        self.nonces.insert(name.to_string(), nonce + 1);
        bytes
    }

    /// Signs `body` as `name` for any chain and nonce, without touching the tracked nonce.
    pub fn sign_raw(&self, name: &str, chain_id: &str, nonce: u64, body: TxBody) -> Vec<u8> {
        let key = self.key(name);
        Tx {
            chain_id: chain_id.to_string(),
            signer: key.public_key(),
            nonce,
            expiry_height: EXPIRY_HEIGHT,
            body,
        }
        .sign(key)
        .to_bytes()
    }
}

/// The transaction hash (SHA-256 of the bytes).
pub fn tx_hash(bytes: &[u8]) -> Hash32 {
    Hash32(sha256(bytes))
}

/// A transaction submitted and not yet seen committed.
#[derive(Clone, Debug)]
pub struct Submitted {
    /// Hash.
    pub hash: Hash32,
    /// Signer name.
    pub signer: String,
    /// Transaction kind.
    pub kind: &'static str,
    /// Node it was sent to.
    pub node: usize,
}

/// Broadcasts `bytes` to `node` and asserts that `CheckTx` accepted it.
pub fn submit(net: &Network, node: usize, bytes: &[u8]) -> Hash32 {
    let result = net
        .rpc(node)
        .broadcast_tx_sync(bytes)
        .unwrap_or_else(|e| panic!("node{node}: broadcast_tx_sync: {e}"));
    assert_eq!(
        result.code, 0,
        "node{node} refused a transaction in CheckTx: {}",
        result.log
    );
    tx_hash(bytes)
}

/// Waits until `observer`'s application has a receipt for every transaction of `txs`, and
/// asserts each succeeded. Returns the receipts in the order of `txs`.
pub fn wait_committed(
    net: &Network,
    observer: usize,
    txs: &[Submitted],
    timeout: Duration,
) -> Vec<TxReceipt> {
    let mut receipts: Vec<Option<TxReceipt>> = vec![None; txs.len()];
    wait_until(
        &format!(
            "{} transactions to be committed (seen by node{observer})",
            txs.len()
        ),
        timeout,
        || {
            let mut missing = Vec::new();
            for (tx, slot) in txs.iter().zip(receipts.iter_mut()) {
                if slot.is_some() {
                    continue;
                }
                match net.rpc(observer).receipt(&tx.hash) {
                    Ok(Some(r)) => *slot = Some(r),
                    Ok(None) => missing.push(format!(
                        "{} by {} (sent to node{}) {}",
                        tx.kind, tx.signer, tx.node, tx.hash
                    )),
                    Err(e) => return Err(format!("node{observer}: {e}")),
                }
            }
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("not yet committed: {}", missing.join("; ")))
            }
        },
    );
    txs.iter()
        .zip(receipts)
        .map(|(tx, r)| {
            let r = r.unwrap_or_else(|| unreachable!("waited for every receipt"));
            assert_eq!(
                r.code, 0,
                "{} by {} failed in block {}: {}",
                tx.kind, tx.signer, r.height, r.log
            );
            r
        })
        .collect()
}

/// Today (UTC), as block times will see it.
pub fn today() -> Day {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Day::from_unix_seconds(now).unwrap_or_else(|| panic!("the clock is before 1970"))
}

/// Face value of each certificate, in minor units.
const FACE: u64 = 1_000_000_00;

/// Where one certificate's journey is.
#[derive(Clone, Debug)]
enum Stage {
    /// Next: the obligor anchors a document and issues a certificate on it.
    Start,
    /// Next: tier 1 accepts the issue.
    Issued { root: Hash32 },
    /// Next: tier 1 splits it to two tier-2 suppliers.
    Held { root: Hash32 },
    /// Next: both tier-2 suppliers accept.
    Split { a: Hash32, b: Hash32 },
    /// Next: one passes part on to tier 3, the other asks the bank to finance its piece.
    Accepted { a: Hash32, b: Hash32 },
    /// Next: tier 3 accepts and the bank finances.
    Moved { c: Hash32, b: Hash32 },
}

struct Lane {
    stage: Stage,
    tier3: &'static str,
    cycle: u64,
}

/// One transaction of a round: who signs what, for which lane (`None`: set-up).
struct Planned {
    signer: &'static str,
    body: TxBody,
    lane: Option<usize>,
}

/// What a round committed.
#[derive(Clone, Debug, Default)]
pub struct RoundReport {
    /// Transactions committed.
    pub txs: usize,
    /// Heights they landed in.
    pub heights: Vec<u64>,
}

/// A round's transactions, submitted and waiting to be committed.
pub struct PendingRound {
    txs: Vec<Submitted>,
    lanes: Vec<Option<usize>>,
}

impl PendingRound {
    /// The submitted transactions.
    pub fn txs(&self) -> &[Submitted] {
        &self.txs
    }
}

/// A transaction of a round, signed and not yet submitted.
#[derive(Clone, Debug)]
pub struct SignedTx {
    /// The transaction bytes.
    pub bytes: Vec<u8>,
    /// Their hash.
    pub hash: Hash32,
    /// Signer name.
    pub signer: &'static str,
    /// Transaction kind.
    pub kind: &'static str,
}

/// A round's transactions, signed (each signer's in nonce order) and not yet submitted: for
/// drivers that submit and track commits themselves (see [`crate::load`]).
pub struct SignedRound {
    /// The transactions, in the order they must be submitted per signer.
    pub txs: Vec<SignedTx>,
    lanes: Vec<Option<usize>>,
}

/// Several certificates moving through their lifecycle at once, one step per lane per
/// round, signed by the development participants.
pub struct Lifecycle {
    /// The signing client.
    pub client: Client,
    lanes: Vec<Lane>,
    set_up: bool,
    next_node: usize,
    /// Every transaction this workload committed: hash and height.
    pub committed: Vec<(Hash32, u64)>,
}

impl Lifecycle {
    /// A workload of `lanes` concurrent certificates on `chain_id`.
    pub fn new(chain_id: &str, lanes: usize) -> Lifecycle {
        Lifecycle::with_client(Client::new(chain_id), lanes)
    }

    /// A workload of `lanes` concurrent certificates signed by `client` (whose nonces must
    /// match the chain's).
    pub fn with_client(mut client: Client, lanes: usize) -> Lifecycle {
        const TIER3: [&str; 4] = ["t3a", "new-supplier-0", "t3b", "new-supplier-1"];
        client.add_key("new-supplier-0");
        client.add_key("new-supplier-1");
        Lifecycle {
            client,
            lanes: (0..lanes)
                .map(|i| Lane {
                    stage: Stage::Start,
                    tier3: TIER3[i % TIER3.len()],
                    cycle: 0,
                })
                .collect(),
            set_up: false,
            next_node: 0,
            committed: Vec::new(),
        }
    }

    fn plan(&mut self) -> Vec<Planned> {
        let c = &self.client;
        if !self.set_up {
            // The bank's credit line for the obligor, and two suppliers registered on chain.
            let mut plan = vec![Planned {
                signer: "bank",
                body: TxBody::SetCreditLine {
                    obligor: c.address("core"),
                    currency: cny(),
                    limit: Amount(1_000_000_000_000_00),
                },
                lane: None,
            }];
            for name in ["new-supplier-0", "new-supplier-1"] {
                plan.push(Planned {
                    signer: "operator",
                    body: TxBody::RegisterParticipant {
                        public_key: SecretKey::from_seed(name.as_bytes()).public_key(),
                        roles: Roles::SUPPLIER,
                        legal_id_hash: Hash32(sha256(name.as_bytes())),
                    },
                    lane: None,
                });
            }
            return plan;
        }
        let mut plan = Vec::new();
        for (i, lane) in self.lanes.iter().enumerate() {
            let lane_id = Some(i);
            match &lane.stage {
                Stage::Start => {
                    let document = Hash32(sha256(format!("invoice/{i}/{}", lane.cycle).as_bytes()));
                    plan.push(Planned {
                        signer: "core",
                        body: TxBody::AnchorDocument {
                            hash: document,
                            amount: Money {
                                amount: Amount(FACE),
                                currency: cny(),
                            },
                            buyer: c.address("core"),
                            seller: c.address("t1"),
                        },
                        lane: lane_id,
                    });
                    plan.push(Planned {
                        signer: "core",
                        body: TxBody::Issue {
                            to: c.address("t1"),
                            amount: Amount(FACE),
                            currency: cny(),
                            maturity: Day(today().0 + 90),
                            document,
                            credit_grantor: c.address("bank"),
                        },
                        lane: lane_id,
                    });
                }
                Stage::Issued { root } => plan.push(Planned {
                    signer: "t1",
                    body: TxBody::Accept { piece: *root },
                    lane: lane_id,
                }),
                Stage::Held { root } => plan.push(Planned {
                    signer: "t1",
                    body: TxBody::Transfer {
                        piece: *root,
                        outputs: vec![
                            Output {
                                to: c.address("t2a"),
                                amount: Amount(FACE * 4 / 10),
                            },
                            Output {
                                to: c.address("t2b"),
                                amount: Amount(FACE * 3 / 10),
                            },
                        ],
                    },
                    lane: lane_id,
                }),
                Stage::Split { a, b } => {
                    plan.push(Planned {
                        signer: "t2a",
                        body: TxBody::Accept { piece: *a },
                        lane: lane_id,
                    });
                    plan.push(Planned {
                        signer: "t2b",
                        body: TxBody::Accept { piece: *b },
                        lane: lane_id,
                    });
                }
                Stage::Accepted { a, b } => {
                    plan.push(Planned {
                        signer: "t2a",
                        body: TxBody::Transfer {
                            piece: *a,
                            outputs: vec![Output {
                                to: c.address(lane.tier3),
                                amount: Amount(FACE * 2 / 10),
                            }],
                        },
                        lane: lane_id,
                    });
                    plan.push(Planned {
                        signer: "t2b",
                        body: TxBody::RequestFinancing {
                            piece: *b,
                            financier: c.address("bank"),
                            amount: Amount(FACE * 3 / 10),
                            rate: AnnualRate(43_500),
                        },
                        lane: lane_id,
                    });
                }
                Stage::Moved { c: piece, b } => {
                    plan.push(Planned {
                        signer: lane.tier3,
                        body: TxBody::Accept { piece: *piece },
                        lane: lane_id,
                    });
                    plan.push(Planned {
                        signer: "bank",
                        body: TxBody::AcceptFinancing {
                            piece: *b,
                            payment_reference: format!("pay/{i}/{}", lane.cycle),
                        },
                        lane: lane_id,
                    });
                }
            }
        }
        plan
    }

    /// Number of concurrent certificates.
    pub fn lanes(&self) -> usize {
        self.lanes.len()
    }

    /// Signs the next round without submitting it (the nonces are used up: every
    /// transaction of the round must be committed before [`Lifecycle::complete_round`]).
    pub fn sign_round(&mut self) -> SignedRound {
        let plan = self.plan();
        let mut round = SignedRound {
            txs: Vec::with_capacity(plan.len()),
            lanes: Vec::with_capacity(plan.len()),
        };
        for p in plan {
            let kind = p.body.kind();
            let bytes = self.client.sign(p.signer, p.body);
            round.txs.push(SignedTx {
                hash: tx_hash(&bytes),
                bytes,
                signer: p.signer,
                kind,
            });
            round.lanes.push(p.lane);
        }
        round
    }

    /// Moves the lanes on after every transaction of `round` was committed; `receipts` are
    /// their successful receipts, in the order of `round.txs`.
    pub fn complete_round(&mut self, round: SignedRound, receipts: &[TxReceipt]) -> RoundReport {
        assert_eq!(
            receipts.len(),
            round.txs.len(),
            "one receipt per transaction of the round"
        );
        for (tx, r) in round.txs.iter().zip(receipts) {
            assert_eq!(
                (r.hash, r.code),
                (tx.hash, 0),
                "{} by {} failed in block {}: {}",
                tx.kind,
                tx.signer,
                r.height,
                r.log
            );
        }
        self.advance(&round.lanes, receipts)
    }

    /// Signs and submits the next round: each signer's transactions go, in nonce order, to
    /// one node of `targets`, the next signer's to the next node (round-robin).
    pub fn send_round(&mut self, net: &Network, targets: &[usize]) -> PendingRound {
        assert!(!targets.is_empty(), "no node to send transactions to");
        let signed = self.sign_round();
        let mut node_of: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut round = PendingRound {
            txs: Vec::with_capacity(signed.txs.len()),
            lanes: signed.lanes,
        };
        for tx in signed.txs {
            let node = *node_of.entry(tx.signer).or_insert_with(|| {
                let n = targets[self.next_node % targets.len()];
                self.next_node += 1;
                n
            });
            let hash = submit(net, node, &tx.bytes);
            round.txs.push(Submitted {
                hash,
                signer: tx.signer.to_string(),
                kind: tx.kind,
                node,
            });
        }
        round
    }

    /// Waits until the round is committed (seen by `observer`) and moves the lanes on.
    pub fn finish_round(
        &mut self,
        net: &Network,
        observer: usize,
        round: PendingRound,
        timeout: Duration,
    ) -> RoundReport {
        let receipts = wait_committed(net, observer, &round.txs, timeout);
        self.advance(&round.lanes, &receipts)
    }

    fn advance(&mut self, lanes: &[Option<usize>], receipts: &[TxReceipt]) -> RoundReport {
        let mut report = RoundReport::default();
        let mut events_of: BTreeMap<usize, Vec<Event>> = BTreeMap::new();
        for (receipt, lane) in receipts.iter().zip(lanes) {
            self.committed.push((receipt.hash, receipt.height));
            report.txs += 1;
            report.heights.push(receipt.height);
            if let Some(lane) = lane {
                events_of
                    .entry(*lane)
                    .or_default()
                    .extend(receipt.events.iter().cloned());
            }
        }
        if !self.set_up {
            self.set_up = true;
            return report;
        }
        for (i, events) in events_of {
            let lane = &mut self.lanes[i];
            lane.stage = match &lane.stage {
                Stage::Start => Stage::Issued {
                    root: first_piece(&events),
                },
                Stage::Issued { root } => Stage::Held { root: *root },
                Stage::Held { .. } => {
                    let (offered, _change) = offered_and_change(&events);
                    assert_eq!(offered.len(), 2, "a two-way split offers two pieces");
                    Stage::Split {
                        a: offered[0],
                        b: offered[1],
                    }
                }
                Stage::Split { a, b } => Stage::Accepted { a: *a, b: *b },
                Stage::Accepted { b, .. } => {
                    let (offered, _change) = offered_and_change(&events);
                    assert_eq!(offered.len(), 1, "a one-way transfer offers one piece");
                    let locked = financing_requested(&events).unwrap_or(*b);
                    Stage::Moved {
                        c: offered[0],
                        b: locked,
                    }
                }
                Stage::Moved { .. } => {
                    lane.cycle += 1;
                    Stage::Start
                }
            };
        }
        report
    }

    /// Sends a round and waits for it.
    pub fn round(
        &mut self,
        net: &Network,
        targets: &[usize],
        observer: usize,
        timeout: Duration,
    ) -> RoundReport {
        let round = self.send_round(net, targets);
        self.finish_round(net, observer, round, timeout)
    }
}
