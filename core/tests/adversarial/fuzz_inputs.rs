//! Input formats of the fuzz targets in `fuzz/`, with encoders for their seeds.
//!
//! Shared (by `#[path]`) between the fuzz targets, which decode arbitrary bytes with these
//! parsers, and the corpus test, which encodes the adversarial cases and the world's setup
//! as seeds and checks that every seed decodes back to what was encoded. The formats are
//! small hand-written byte languages rather than `arbitrary` derivations so that seeds can be
//! written from real transactions and proofs, and so libFuzzer's byte mutations map onto
//! meaningful changes (another transaction, another height, one flipped field).
//!
//! Every parser accepts any input without panicking: missing bytes end the input.
#![allow(dead_code)] // each includer uses a different part

/// Reads bytes off the front of a fuzz input.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `data` from the start.
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data }
    }
    /// The next byte, if any.
    pub fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }
    /// The next two bytes as a little-endian `u16`.
    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }
    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

// ---- tx: decoding and validation ------------------------------------------------------------

/// One input of the `tx` target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxInput<'a> {
    /// Wire bytes as they would arrive from the network.
    Raw(&'a [u8]),
    /// A borsh-encoded `TxBody` that the harness signs with a world key (`SIGNERS[signer %
    /// len]`) at that signer's nonce plus `nonce_delta`, so mutations reach the rules
    /// behind the signature check.
    Signed {
        /// Index into `cases::SIGNERS` (modulo its length).
        signer: u8,
        /// Added to the signer's expected nonce (wrapping).
        nonce_delta: i8,
        /// Candidate `TxBody` bytes.
        body: &'a [u8],
    },
}

/// Parses a `tx` input: even first byte = raw, odd = signed.
pub fn parse_tx(data: &[u8]) -> Option<TxInput<'_>> {
    let mut r = Reader::new(data);
    let mode = r.byte()?;
    if mode % 2 == 0 {
        return Some(TxInput::Raw(r.rest()));
    }
    let signer = r.byte()?;
    let nonce_delta = r.byte()? as i8;
    Some(TxInput::Signed {
        signer,
        nonce_delta,
        body: r.rest(),
    })
}

/// Encodes a raw `tx` input.
pub fn tx_raw(bytes: &[u8]) -> Vec<u8> {
    [&[0u8][..], bytes].concat()
}

/// Encodes a signed `tx` input.
pub fn tx_signed(signer: u8, nonce_delta: i8, body: &[u8]) -> Vec<u8> {
    [&[1u8, signer, nonce_delta as u8][..], body].concat()
}

// ---- abci: request sequences ---------------------------------------------------------------

/// Most operations one `abci` input runs (bounds the time per input).
pub const MAX_OPS: usize = 64;
/// Most transactions in one proposal or block of an `abci` input.
pub const MAX_BLOCK_TXS: u8 = 8;
/// Pool and path references at or above this byte are raw bytes instead.
const RAW_MARK: u8 = 0xf0;

/// A transaction in an `abci` input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxRef {
    /// Index into the harness's pool (the world's setup, then the corpus), modulo its length.
    Pool(u8),
    /// Bytes of the input's own.
    Raw(Vec<u8>),
}

/// A query path in an `abci` input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathRef {
    /// Index into the harness's known paths, modulo their number.
    Known(u8),
    /// A path of the input's own (lossy UTF-8).
    Raw(Vec<u8>),
}

/// One ABCI request (or, for `Block`, the FinalizeBlock + Commit pair of a decided block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `CheckTx` (new).
    Check(TxRef),
    /// `PrepareProposal` at the next height, `tens` × 10 s after the last block time.
    Prepare {
        /// Time step.
        tens: u16,
        /// Mempool transactions offered.
        txs: Vec<TxRef>,
    },
    /// `ProcessProposal` at the next height.
    Process {
        /// Time step.
        tens: u16,
        /// Proposed transactions.
        txs: Vec<TxRef>,
    },
    /// `FinalizeBlock` at the next height.
    Finalize {
        /// Time step.
        tens: u16,
        /// Decided transactions.
        txs: Vec<TxRef>,
    },
    /// `Commit`.
    Commit,
    /// `Query` at the latest height.
    Query(PathRef),
    /// `Info`.
    Info,
    /// `FinalizeBlock` then `Commit`.
    Block {
        /// Time step.
        tens: u16,
        /// Decided transactions.
        txs: Vec<TxRef>,
    },
}

fn read_tx(r: &mut Reader<'_>) -> Option<TxRef> {
    let b = r.byte()?;
    if b < RAW_MARK {
        return Some(TxRef::Pool(b));
    }
    let len = usize::from(r.u16()?);
    Some(TxRef::Raw(r.take(len).to_vec()))
}

fn read_txs(r: &mut Reader<'_>) -> Option<(u16, Vec<TxRef>)> {
    let tens = r.u16()?;
    let count = r.byte()? % (MAX_BLOCK_TXS + 1);
    let mut txs = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        txs.push(read_tx(r)?);
    }
    Some((tens, txs))
}

/// Parses an `abci` input into at most [`MAX_OPS`] operations.
pub fn parse_abci(data: &[u8]) -> Vec<Op> {
    let mut r = Reader::new(data);
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS {
        let Some(code) = r.byte() else { break };
        let op = match code % 8 {
            0 => read_tx(&mut r).map(Op::Check),
            1 => read_txs(&mut r).map(|(tens, txs)| Op::Prepare { tens, txs }),
            2 => read_txs(&mut r).map(|(tens, txs)| Op::Process { tens, txs }),
            3 => read_txs(&mut r).map(|(tens, txs)| Op::Finalize { tens, txs }),
            4 => Some(Op::Commit),
            5 => r
                .byte()
                .map(|b| {
                    if b < RAW_MARK {
                        PathRef::Known(b)
                    } else {
                        let len = usize::from(r.byte().unwrap_or(0));
                        PathRef::Raw(r.take(len).to_vec())
                    }
                })
                .map(Op::Query),
            6 => Some(Op::Info),
            _ => read_txs(&mut r).map(|(tens, txs)| Op::Block { tens, txs }),
        };
        match op {
            Some(op) => ops.push(op),
            None => break,
        }
    }
    ops
}

fn write_tx(out: &mut Vec<u8>, tx: &TxRef) {
    match tx {
        TxRef::Pool(i) => {
            assert!(*i < RAW_MARK, "pool index {i} collides with the raw marker");
            out.push(*i);
        }
        TxRef::Raw(bytes) => {
            let len = u16::try_from(bytes.len()).expect("raw transaction under 64 KiB");
            out.push(RAW_MARK);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(bytes);
        }
    }
}

fn write_txs(out: &mut Vec<u8>, code: u8, tens: u16, txs: &[TxRef]) {
    assert!(
        txs.len() <= usize::from(MAX_BLOCK_TXS),
        "too many transactions"
    );
    out.push(code);
    out.extend_from_slice(&tens.to_le_bytes());
    out.push(txs.len() as u8);
    for tx in txs {
        write_tx(out, tx);
    }
}

/// Encodes operations as an `abci` input.
pub fn encode_abci(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Check(tx) => {
                out.push(0);
                write_tx(&mut out, tx);
            }
            Op::Prepare { tens, txs } => write_txs(&mut out, 1, *tens, txs),
            Op::Process { tens, txs } => write_txs(&mut out, 2, *tens, txs),
            Op::Finalize { tens, txs } => write_txs(&mut out, 3, *tens, txs),
            Op::Commit => out.push(4),
            Op::Query(PathRef::Known(i)) => {
                assert!(*i < RAW_MARK, "path index {i} collides with the raw marker");
                out.extend_from_slice(&[5, *i]);
            }
            Op::Query(PathRef::Raw(path)) => {
                let len = u8::try_from(path.len()).expect("raw path under 256 bytes");
                out.extend_from_slice(&[5, RAW_MARK, len]);
                out.extend_from_slice(path);
            }
            Op::Info => out.push(6),
            Op::Block { tens, txs } => write_txs(&mut out, 7, *tens, txs),
        }
    }
    out
}

// ---- proof: proofs against a real app hash ---------------------------------------------------

/// One input of the `proof` target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofInput<'a> {
    /// A borsh `StateProof`, verified for its own key.
    State(&'a [u8]),
    /// A borsh `AccountListProof`.
    List(&'a [u8]),
    /// A borsh `LineageProof`.
    Lineage(&'a [u8]),
    /// Raw ICS-23 proof bytes for a known key, claiming the true value (`claim` 0), absence
    /// (1) or the true value with one byte changed (2 and up).
    Raw {
        /// Index into the harness's known keys (modulo their number).
        key: u8,
        /// What the proof claims.
        claim: u8,
        /// Protobuf `CommitmentProof` bytes.
        proof: &'a [u8],
    },
}

/// Parses a `proof` input (first byte: mode modulo 4).
pub fn parse_proof(data: &[u8]) -> Option<ProofInput<'_>> {
    let mut r = Reader::new(data);
    Some(match r.byte()? % 4 {
        0 => ProofInput::State(r.rest()),
        1 => ProofInput::List(r.rest()),
        2 => ProofInput::Lineage(r.rest()),
        _ => {
            let key = r.byte()?;
            let claim = r.byte()?;
            ProofInput::Raw {
                key,
                claim,
                proof: r.rest(),
            }
        }
    })
}

/// Encodes a `proof` input.
pub fn encode_proof(input: &ProofInput<'_>) -> Vec<u8> {
    match input {
        ProofInput::State(b) => [&[0u8][..], b].concat(),
        ProofInput::List(b) => [&[1u8][..], b].concat(),
        ProofInput::Lineage(b) => [&[2u8][..], b].concat(),
        ProofInput::Raw { key, claim, proof } => [&[3u8, *key, *claim][..], proof].concat(),
    }
}

// ---- light: headers for the wallet's light client --------------------------------------------

/// Blocks of the light target's chain (heights 1 to this).
pub const LIGHT_CHAIN_LEN: u64 = 8;

/// How the light target uses its block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LightMode {
    /// The primary serves the block at `height` during a skipping sync from block 1.
    Skipping,
    /// The primary serves the block as the anchor (height 1).
    Anchor,
    /// A witness serves the block; the primary is honest.
    Witness,
    /// The primary serves the block during backward verification from the chain's last block.
    Backward,
}

/// The block the light target serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LightBlockSpec<'a> {
    /// CometBFT JSON of a `LightBlock`.
    Json(&'a [u8]),
    /// The genuine block at the target height with field mutations (see the target).
    Mutated(&'a [u8]),
}

/// One input of the `light` target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LightInput<'a> {
    /// A block served in some role at some height.
    Block {
        /// Role.
        mode: LightMode,
        /// Target height, `1 + height % LIGHT_CHAIN_LEN`.
        height: u8,
        /// The block.
        block: LightBlockSpec<'a>,
    },
    /// Saved light-client state (JSON `TrustedState`) restored, then synced to the chain.
    Restore(&'a [u8]),
}

/// Parses a `light` input: `[mode, height, kind, ...]`.
pub fn parse_light(data: &[u8]) -> Option<LightInput<'_>> {
    let mut r = Reader::new(data);
    let mode = match r.byte()? % 5 {
        0 => LightMode::Skipping,
        1 => LightMode::Anchor,
        2 => LightMode::Witness,
        3 => LightMode::Backward,
        _ => return Some(LightInput::Restore(r.rest())),
    };
    let height = r.byte()?;
    let block = if r.byte()? % 2 == 0 {
        LightBlockSpec::Json(r.rest())
    } else {
        LightBlockSpec::Mutated(r.rest())
    };
    Some(LightInput::Block {
        mode,
        height,
        block,
    })
}

/// Encodes a `light` input.
pub fn encode_light(input: &LightInput<'_>) -> Vec<u8> {
    match input {
        LightInput::Restore(b) => [&[4u8][..], b].concat(),
        LightInput::Block {
            mode,
            height,
            block,
        } => {
            let m = match mode {
                LightMode::Skipping => 0u8,
                LightMode::Anchor => 1,
                LightMode::Witness => 2,
                LightMode::Backward => 3,
            };
            let (kind, rest) = match block {
                LightBlockSpec::Json(b) => (0u8, *b),
                LightBlockSpec::Mutated(b) => (1u8, *b),
            };
            [&[m, *height, kind][..], rest].concat()
        }
    }
}

/// The light target's chain: a solo node on the world's genesis producing
/// [`LIGHT_CHAIN_LEN`] blocks a minute apart. Returns the genuine light blocks (index 0 is
/// height 1) and the wallet's "now" (a second after the last block).
pub fn light_chain(
    genesis: &cascade_core::Genesis,
) -> (
    Vec<tendermint_light_client_verifier::types::LightBlock>,
    tendermint::Time,
) {
    use cascade_core::solo::SoloNode;
    use cascade_core::wallet::solo_transport::SoloTransport;
    use cascade_core::wallet::transport::Transport;
    use std::sync::{Arc, Mutex};
    let key = cascade_core::testkit::validator_signing_key("validator-0");
    let node = SoloNode::in_memory(genesis, key).expect("solo node");
    let node = Arc::new(Mutex::new(node));
    let mut time = genesis.genesis_time;
    for _ in 0..LIGHT_CHAIN_LEN {
        time += 60;
        node.lock()
            .expect("lock")
            .produce_block(time)
            .expect("block");
    }
    let transport = SoloTransport::new(node);
    let blocks = (1..=LIGHT_CHAIN_LEN)
        .map(|h| transport.light_block(h).expect("light block"))
        .collect();
    let now = tendermint::Time::from_unix_timestamp(time + 1, 0).expect("time");
    (blocks, now)
}
