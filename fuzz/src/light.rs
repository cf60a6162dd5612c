//! `light`: hostile headers for the wallet's light client.
//!
//! The chain is a solo node with one validator ([`inputs::light_chain`]), so no input can
//! carry a valid signature on anything but the genuine blocks. A block from the input
//! (CometBFT JSON, or a genuine block with field mutations, round-tripped through JSON so it
//! is something a node could really send) is served in one role: at a height a skipping
//! sync fetches, as the anchor, by a witness, or during backward verification. Whatever
//! happens, every block the client ends up trusting must be the genuine block of its height,
//! and an honest primary with a lying witness is never a fork (`Conflict`).

use crate::cases::World;
use crate::inputs::{
    light_chain, parse_light, LightBlockSpec, LightInput, LightMode, Reader, LIGHT_CHAIN_LEN,
};
use cascade_core::crypto::Hash32;
use cascade_core::wallet::light::{
    app_hash_of, header_hash, LightClient, LightClientError, Options, TrustAnchor, TrustedState,
};
use cascade_core::wallet::transport::{
    decode_json, BlockOutcome, BroadcastResult, NodeStatus, QueryResult, Transport, TransportError,
    TxLocation,
};
use std::cell::RefCell;
use tendermint::block::{CommitSig, Round};
use tendermint::{Hash, Time};
use tendermint_light_client_verifier::types::LightBlock;

struct Fixture {
    chain_id: String,
    blocks: Vec<LightBlock>,
    now: Time,
    anchor: TrustAnchor,
}

thread_local! {
    static FIXTURE: RefCell<Option<Fixture>> = const { RefCell::new(None) };
}

fn fixture() -> Fixture {
    let (world, _) = World::build();
    let (blocks, now) = light_chain(&world.genesis);
    let vset = blocks[0].validators.hash();
    let vset = Hash32(
        vset.as_bytes()
            .try_into()
            .expect("32-byte validator set hash"),
    );
    Fixture {
        anchor: TrustAnchor::genesis_validators(world.genesis.chain_id.clone(), vset),
        chain_id: world.genesis.chain_id,
        blocks,
        now,
    }
}

/// Serves the genuine chain, except `fake` at its height.
struct Served<'a> {
    name: &'static str,
    f: &'a Fixture,
    fake: Option<(u64, LightBlock)>,
}

impl Transport for Served<'_> {
    fn name(&self) -> String {
        self.name.into()
    }
    fn status(&self) -> Result<NodeStatus, TransportError> {
        Ok(NodeStatus {
            chain_id: self.f.chain_id.clone(),
            latest_height: LIGHT_CHAIN_LEN,
        })
    }
    fn light_block(&self, height: u64) -> Result<LightBlock, TransportError> {
        if let Some((h, block)) = &self.fake {
            if *h == height {
                return Ok(block.clone());
            }
        }
        height
            .checked_sub(1)
            .and_then(|i| self.f.blocks.get(i as usize))
            .cloned()
            .ok_or_else(|| TransportError::NotFound {
                node: self.name.into(),
                what: format!("block {height}"),
            })
    }
    fn query(&self, _path: &str) -> Result<QueryResult, TransportError> {
        Err(self.unreachable())
    }
    fn broadcast(&self, _tx: &[u8]) -> Result<BroadcastResult, TransportError> {
        Err(self.unreachable())
    }
    fn block_outcome(&self, _height: u64) -> Result<BlockOutcome, TransportError> {
        Err(self.unreachable())
    }
    fn tx_location(&self, _hash: &Hash32) -> Result<Option<TxLocation>, TransportError> {
        Err(self.unreachable())
    }
}

impl Served<'_> {
    fn unreachable(&self) -> TransportError {
        TransportError::Unreachable {
            node: self.name.into(),
            reason: "the fuzz transport only serves blocks".into(),
        }
    }
}

/// A client that already trusts the genuine blocks at `heights`.
fn trusting(f: &Fixture, heights: &[u64]) -> LightClient {
    let state = TrustedState {
        version: TrustedState::VERSION,
        anchor: f.anchor.clone(),
        blocks: heights
            .iter()
            .map(|h| f.blocks[*h as usize - 1].clone())
            .collect(),
    };
    LightClient::restore(state, Options::default()).expect("genuine state restores")
}

/// The block must be the genuine one of its height.
fn assert_genuine(f: &Fixture, block: &LightBlock, what: &str) {
    let h = block.height().value();
    let genuine = h
        .checked_sub(1)
        .and_then(|i| f.blocks.get(i as usize))
        .unwrap_or_else(|| panic!("{what}: trusted a block at height {h}, beyond the chain"));
    assert_eq!(
        header_hash(block),
        header_hash(genuine),
        "{what}: trusted a forged header at {h}"
    );
    assert_eq!(
        app_hash_of(block).ok(),
        app_hash_of(genuine).ok(),
        "{what}: forged app hash"
    );
}

fn assert_all_genuine(f: &Fixture, client: &LightClient, what: &str) {
    for h in client.stored_heights() {
        if let Some(block) = client.block(h) {
            assert_genuine(f, block, what);
        }
    }
}

/// Runs one input.
pub fn run(data: &[u8]) {
    crate::contain_known_upstream_panics();
    let Some(input) = parse_light(data) else {
        return;
    };
    FIXTURE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let f = slot.get_or_insert_with(fixture);
        match input {
            LightInput::Restore(bytes) => restore(f, bytes),
            LightInput::Block {
                mode,
                height,
                block,
            } => {
                let h = 1 + u64::from(height) % LIGHT_CHAIN_LEN;
                let Some(fake) = build_block(f, h, &block) else {
                    return;
                };
                serve(f, mode, h, fake);
            }
        }
    });
}

/// Saved state is trusted by definition (it is the phone's own storage); restoring and
/// syncing it against the genuine chain must simply never panic.
fn restore(f: &Fixture, bytes: &[u8]) {
    let Ok(state) = TrustedState::from_bytes(bytes) else {
        return;
    };
    let Ok(mut client) = LightClient::restore(state, Options::default()) else {
        return;
    };
    let honest = Served {
        name: "honest",
        f,
        fake: None,
    };
    let _ = client.sync_to_latest(&honest, &[], f.now);
    let _ = client.sync_to(1, &honest, &[], f.now);
}

fn serve(f: &Fixture, mode: LightMode, h: u64, fake: LightBlock) {
    let honest = Served {
        name: "honest",
        f,
        fake: None,
    };
    match mode {
        LightMode::Skipping => {
            let primary = Served {
                name: "primary",
                f,
                fake: Some((h, fake)),
            };
            let mut client = trusting(f, &[1]);
            if let Ok(block) = client.sync_to(h.max(2), &primary, &[], f.now) {
                assert_genuine(f, block, "skipping sync");
            }
            assert_all_genuine(f, &client, "skipping sync");
        }
        LightMode::Anchor => {
            let primary = Served {
                name: "primary",
                f,
                fake: Some((1, fake)),
            };
            if let Ok(client) =
                LightClient::new(f.anchor.clone(), Options::default(), &primary, &[], f.now)
            {
                assert_genuine(f, client.trusted(), "anchor");
            }
        }
        LightMode::Witness => {
            let witness = Served {
                name: "witness",
                f,
                fake: Some((h, fake)),
            };
            let mut client = trusting(f, &[1]);
            match client.sync_to(h.max(2), &honest, &[&witness], f.now) {
                Ok(block) => assert_genuine(f, block, "witness check"),
                Err(LightClientError::Conflict { .. }) => {
                    panic!("a lying witness was reported as a fork of an honest chain")
                }
                Err(_) => {}
            }
            assert_all_genuine(f, &client, "witness check");
        }
        LightMode::Backward => {
            let target = h.min(LIGHT_CHAIN_LEN - 1);
            let primary = Served {
                name: "primary",
                f,
                fake: Some((target, fake)),
            };
            let mut client = trusting(f, &[1, LIGHT_CHAIN_LEN]);
            if let Ok(block) = client.sync_to(target, &primary, &[], f.now) {
                assert_genuine(f, block, "backward verification");
            }
            assert_all_genuine(f, &client, "backward verification");
        }
    }
}

/// The input's block: parsed JSON, or the genuine block at `h` mutated; either way it must
/// survive a JSON round trip (what a node can actually send). JSON is parsed the way the
/// wallet parses a node's answers ([`decode_json`]).
fn build_block(f: &Fixture, h: u64, spec: &LightBlockSpec<'_>) -> Option<LightBlock> {
    let block = match spec {
        LightBlockSpec::Json(bytes) => decode_json(bytes).ok()?,
        LightBlockSpec::Mutated(ops) => {
            let mut block = f.blocks[h as usize - 1].clone();
            mutate(f, &mut block, ops);
            block
        }
    };
    let json = serde_json::to_vec(&block).ok()?;
    decode_json(&json).ok()
}

fn flip_hash(hash: &mut Hash, r: &mut Reader<'_>) {
    let at = usize::from(r.byte().unwrap_or(0)) % 32;
    let x = r.byte().unwrap_or(1) | 1;
    *hash = match *hash {
        Hash::Sha256(mut b) => {
            b[at] ^= x;
            Hash::Sha256(b)
        }
        Hash::None => Hash::Sha256([x; 32]),
    };
}

fn flip_opt_hash(hash: &mut Option<Hash>, r: &mut Reader<'_>) {
    match hash {
        Some(h) => flip_hash(h, r),
        None => *hash = Some(Hash::Sha256([r.byte().unwrap_or(1); 32])),
    }
}

fn shift_time(t: Time, r: &mut Reader<'_>) -> Time {
    let delta = i64::from(r.u16().unwrap_or(1) as i16);
    Time::from_unix_timestamp(t.unix_timestamp() + delta, 0).unwrap_or(t)
}

/// Applies field mutations: each is an opcode byte and its arguments.
fn mutate(f: &Fixture, block: &mut LightBlock, ops: &[u8]) {
    let mut r = Reader::new(ops);
    let mut steps = 0;
    while let Some(op) = r.byte() {
        steps += 1;
        if steps > 16 {
            break;
        }
        let header = &mut block.signed_header.header;
        match op % 16 {
            0 => {
                let delta = i64::from(r.byte().unwrap_or(1) as i8);
                if let Ok(h) =
                    tendermint::block::Height::try_from(header.height.value() as i64 + delta)
                {
                    header.height = h;
                }
            }
            1 => header.time = shift_time(header.time, &mut r),
            2 => {
                let name = if r.byte().unwrap_or(0) % 2 == 0 {
                    "cascade-other"
                } else {
                    ""
                };
                if let Ok(id) = name.parse() {
                    header.chain_id = id;
                }
            }
            3 => {
                let mut bytes = header.app_hash.as_bytes().to_vec();
                if !bytes.is_empty() {
                    let at = usize::from(r.byte().unwrap_or(0)) % bytes.len();
                    bytes[at] ^= r.byte().unwrap_or(1) | 1;
                }
                if let Ok(h) = tendermint::AppHash::try_from(bytes) {
                    header.app_hash = h;
                }
            }
            4 => flip_hash(&mut header.validators_hash, &mut r),
            5 => flip_hash(&mut header.next_validators_hash, &mut r),
            6 => match &mut header.last_block_id {
                Some(id) if r.byte().unwrap_or(0) % 2 == 0 => flip_hash(&mut id.hash, &mut r),
                _ => header.last_block_id = None,
            },
            7 => {
                let mut bytes: [u8; 20] = header
                    .proposer_address
                    .as_bytes()
                    .try_into()
                    .unwrap_or([0; 20]);
                bytes[usize::from(r.byte().unwrap_or(0)) % 20] ^= 1;
                header.proposer_address = tendermint::account::Id::new(bytes);
            }
            8 => match r.byte().unwrap_or(0) % 5 {
                0 => flip_opt_hash(&mut header.last_commit_hash, &mut r),
                1 => flip_opt_hash(&mut header.data_hash, &mut r),
                2 => flip_hash(&mut header.consensus_hash, &mut r),
                3 => flip_opt_hash(&mut header.last_results_hash, &mut r),
                _ => flip_opt_hash(&mut header.evidence_hash, &mut r),
            },
            9 => {
                let commit = &mut block.signed_header.commit;
                let delta = i64::from(r.byte().unwrap_or(1) as i8);
                if let Ok(h) =
                    tendermint::block::Height::try_from(commit.height.value() as i64 + delta)
                {
                    commit.height = h;
                }
            }
            10 => mutate_signature(&mut block.signed_header.commit.signatures, &mut r),
            11 => {
                let commit = &mut block.signed_header.commit;
                if r.byte().unwrap_or(0) % 2 == 0 {
                    flip_hash(&mut commit.block_id.hash, &mut r);
                } else {
                    commit.block_id.part_set_header.total ^= 1;
                }
            }
            12 => {
                let round = r.byte().unwrap_or(1);
                block.signed_header.commit.round = Round::from(round);
            }
            13 | 14 => {
                let set = if op % 16 == 13 {
                    &mut block.validators
                } else {
                    &mut block.next_validators
                };
                let mut validators = set.validators().to_vec();
                match r.byte().unwrap_or(0) % 3 {
                    0 => validators.clear(),
                    1 => {
                        if let Some(v) = validators.first_mut() {
                            let power = u64::from(r.byte().unwrap_or(0));
                            if let Ok(p) = tendermint::vote::Power::try_from(power) {
                                v.power = p;
                            }
                        }
                    }
                    _ => {
                        let seed = format!("fuzz-validator-{}", r.byte().unwrap_or(0));
                        let key = cascade_core::testkit::validator_key(&seed);
                        if let Some(pk) = tendermint::PublicKey::from_raw_ed25519(&key.0) {
                            validators.push(tendermint::validator::Info::new(pk, 10u32.into()));
                        }
                    }
                }
                *set = tendermint::validator::Set::new(validators, None);
            }
            _ => {
                // Another height's genuine commit or validator sets.
                let other = &f.blocks[usize::from(r.byte().unwrap_or(0)) % f.blocks.len()];
                match r.byte().unwrap_or(0) % 3 {
                    0 => block.signed_header.commit = other.signed_header.commit.clone(),
                    1 => block.validators = other.validators.clone(),
                    _ => block.signed_header.header = other.signed_header.header.clone(),
                }
            }
        }
    }
}

fn mutate_signature(sigs: &mut Vec<CommitSig>, r: &mut Reader<'_>) {
    let kind = r.byte().unwrap_or(0) % 5;
    let Some(first) = sigs.first().cloned() else {
        return;
    };
    let mutated = match (kind, first) {
        (
            0,
            CommitSig::BlockIdFlagCommit {
                validator_address,
                timestamp,
                signature: Some(s),
            },
        ) => {
            let mut bytes = s.as_bytes().to_vec();
            if !bytes.is_empty() {
                let at = usize::from(r.byte().unwrap_or(0)) % bytes.len();
                bytes[at] ^= 1;
            }
            let signature = tendermint::Signature::new(bytes).ok().flatten();
            CommitSig::BlockIdFlagCommit {
                validator_address,
                timestamp,
                signature,
            }
        }
        (1, _) => CommitSig::BlockIdFlagAbsent,
        (
            2,
            CommitSig::BlockIdFlagCommit {
                validator_address,
                timestamp,
                signature,
            },
        ) => {
            let mut bytes: [u8; 20] = validator_address.as_bytes().try_into().unwrap_or([0; 20]);
            bytes[0] ^= 1;
            let validator_address = tendermint::account::Id::new(bytes);
            CommitSig::BlockIdFlagCommit {
                validator_address,
                timestamp,
                signature,
            }
        }
        (
            3,
            CommitSig::BlockIdFlagCommit {
                validator_address,
                timestamp,
                signature,
            },
        ) => {
            let timestamp = shift_time(timestamp, r);
            CommitSig::BlockIdFlagCommit {
                validator_address,
                timestamp,
                signature,
            }
        }
        (
            4,
            CommitSig::BlockIdFlagCommit {
                validator_address,
                timestamp,
                signature,
            },
        ) => CommitSig::BlockIdFlagNil {
            validator_address,
            timestamp,
            signature,
        },
        (_, other) => {
            // Counted twice: the same signature listed again.
            sigs.push(other);
            return;
        }
    };
    sigs[0] = mutated;
}
