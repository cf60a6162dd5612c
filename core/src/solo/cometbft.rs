//! The CometBFT v0.38 data-structure rules solo mode needs: header field hashes, the block
//! id (header hash and part-set header), canonical vote signing and the consensus
//! parameters. Everything here is a pure function of its inputs.
//!
//! The rules are those of CometBFT's `types` and `state` packages; each function names the
//! Go function it mirrors, so a reviewer can compare them line by line. Where the tendermint
//! crate already implements a rule (`Header::hash`, `validator::Set::hash`, the canonical
//! vote encoding) it is used rather than re-implemented, because light clients use the same
//! code to check the result.

use super::SoloError;
use crate::block_outcome::{self, TxResultDigest};
use bytes::Bytes;
use prost::Message;
use tendermint::abci::types::{
    BlockSignatureInfo, CommitInfo, ExecTxResult, ExtendedCommitInfo, ExtendedVoteInfo,
    Validator as AbciValidator, VoteInfo,
};
use tendermint::block::{parts, BlockIdFlag, Commit, CommitSig, Header, Height, Round};
use tendermint::vote::{Type as VoteType, ValidatorIndex, Vote};
use tendermint::{account, block, chain, consensus, evidence, public_key, validator, Hash, Time};
use tendermint_proto::v0_38::types as pb;

/// CometBFT's block protocol version (`version.BlockProtocol`) in v0.38.
pub const BLOCK_PROTOCOL: u64 = 11;

/// `types.BlockPartSizeBytes`: blocks are gossiped, and their part-set hash computed, in
/// parts of this many bytes.
pub const BLOCK_PART_SIZE: usize = 65_536;

/// `DefaultBlockParams().MaxBytes` of CometBFT v0.38 (21 MiB).
pub const MAX_BLOCK_BYTES: i64 = 22_020_096;

/// `DefaultBlockParams().MaxGas` (no gas limit).
pub const MAX_BLOCK_GAS: i64 = -1;

/// `types.MaxHeaderBytes`.
const MAX_HEADER_BYTES: i64 = 626;
/// `types.MaxOverheadForBlock`.
const MAX_OVERHEAD_FOR_BLOCK: i64 = 11;
/// `types.MaxCommitOverheadBytes`.
const MAX_COMMIT_OVERHEAD_BYTES: i64 = 94;
/// `types.MaxCommitSigBytes`.
const MAX_COMMIT_SIG_BYTES: i64 = 109;

/// `types.MaxDataBytesNoEvidence`: what CometBFT passes as `max_tx_bytes` in
/// `PrepareProposal` for a block without evidence.
pub fn max_data_bytes(validators: i64) -> i64 {
    MAX_BLOCK_BYTES
        - MAX_OVERHEAD_FOR_BLOCK
        - MAX_HEADER_BYTES
        - (MAX_COMMIT_OVERHEAD_BYTES + MAX_COMMIT_SIG_BYTES * validators)
}

/// `merkle.HashFromByteSlices` (RFC 6962 tree, SHA-256; the empty list hashes to
/// `SHA-256("")`).
pub fn merkle<T: AsRef<[u8]>>(leaves: &[T]) -> Hash {
    Hash::Sha256(block_outcome::merkle_root(leaves))
}

/// `Data.Hash` / `Txs.Hash`: the Merkle root of the transactions' SHA-256 hashes.
pub fn data_hash(txs: &[Bytes]) -> Hash {
    Hash::Sha256(block_outcome::data_hash(txs))
}

/// `Commit.Hash`: the Merkle root of the protobuf-encoded `CommitSig`s.
pub fn commit_hash(commit: &Commit) -> Hash {
    let leaves: Vec<Vec<u8>> = commit
        .signatures
        .iter()
        .map(|sig| pb::CommitSig::from(sig.clone()).encode_to_vec())
        .collect();
    merkle(&leaves)
}

/// `EvidenceList.Hash` of the empty list: solo blocks never carry evidence.
pub fn empty_evidence_hash() -> Hash {
    merkle::<&[u8]>(&[])
}

/// The deterministic part of an `ExecTxResult` (code, data, gas wanted, gas used): what
/// the next header's `last_results_hash` commits to, and what solo mode keeps per block.
pub fn result_digest(r: &ExecTxResult) -> TxResultDigest {
    TxResultDigest {
        code: r.code.value(),
        data: r.data.to_vec(),
        gas_wanted: r.gas_wanted,
        gas_used: r.gas_used,
    }
}

/// `state.TxResultsHash`: the Merkle root of the deterministic part of each
/// `ExecTxResult`, protobuf-encoded.
pub fn results_hash(results: &[TxResultDigest]) -> Hash {
    Hash::Sha256(block_outcome::results_hash(results))
}

/// `types.DefaultConsensusParams()` of CometBFT v0.38, which the solo chain runs with.
pub fn consensus_params() -> consensus::Params {
    consensus::Params {
        block: block::Size {
            max_bytes: MAX_BLOCK_BYTES.unsigned_abs(),
            max_gas: MAX_BLOCK_GAS,
            time_iota_ms: block::Size::default_time_iota_ms(),
        },
        evidence: evidence::Params {
            max_age_num_blocks: 100_000,
            max_age_duration: evidence::Duration(std::time::Duration::from_secs(48 * 3600)),
            max_bytes: 1_048_576,
        },
        validator: consensus::params::ValidatorParams {
            pub_key_types: vec![public_key::Algorithm::Ed25519],
        },
        version: Some(consensus::params::VersionParams { app: 0 }),
        abci: consensus::params::AbciParams::default(),
    }
}

/// `ConsensusParams.Hash`: SHA-256 of the protobuf `HashedParams` (block max bytes and
/// max gas only).
pub fn consensus_hash() -> Hash {
    let hashed = pb::HashedParams {
        block_max_bytes: MAX_BLOCK_BYTES,
        block_max_gas: MAX_BLOCK_GAS,
    };
    Hash::Sha256(crate::crypto::sha256(&hashed.encode_to_vec()))
}

/// The protobuf encoding of a block as `Block.ToProto` + `proto.Marshal` produce it.
///
/// Go's gogoproto always writes non-nullable message fields, even when empty; the
/// tendermint crate maps an empty `last_block_id` to `None`, which prost would omit, so it
/// is put back here (height 1 has an all-empty last block id in Go).
pub fn block_bytes(header: &Header, txs: &[Bytes], last_commit: &Commit) -> Vec<u8> {
    let mut raw_header = pb::Header::from(header.clone());
    if raw_header.last_block_id.is_none() {
        raw_header.last_block_id = Some(pb::BlockId {
            hash: Vec::new(),
            part_set_header: Some(pb::PartSetHeader::default()),
        });
    }
    pb::Block {
        header: Some(raw_header),
        data: Some(pb::Data {
            txs: txs.iter().map(|tx| tx.to_vec()).collect(),
        }),
        evidence: Some(pb::EvidenceList::default()),
        last_commit: Some(pb::Commit::from(last_commit.clone())),
    }
    .encode_to_vec()
}

/// `Block.MakePartSet(BlockPartSizeBytes).Header()`: the number of 64 KiB parts of the
/// encoded block and the Merkle root over them.
pub fn part_set_header(block: &[u8]) -> Result<parts::Header, SoloError> {
    let chunks: Vec<&[u8]> = block.chunks(BLOCK_PART_SIZE).collect();
    let total = u32::try_from(chunks.len()).map_err(|_| SoloError::Build {
        reason: "block has more than 2^32 parts".into(),
    })?;
    parts::Header::new(total, merkle(&chunks)).map_err(|e| SoloError::Build {
        reason: format!("part-set header: {e}"),
    })
}

/// A block id: the header hash and the part-set header of the encoded block.
pub fn block_id(
    header: &Header,
    txs: &[Bytes],
    last_commit: &Commit,
) -> Result<block::Id, SoloError> {
    Ok(block::Id {
        hash: header.hash(),
        part_set_header: part_set_header(&block_bytes(header, txs, last_commit))?,
    })
}

/// A commit for `block_id` at `height` (round 0) holding one precommit from the validator,
/// signed over the canonical vote sign bytes for `chain_id` (`Vote.VoteSignBytes`), with
/// vote time `timestamp`.
pub fn sign_commit(
    key: &ed25519_consensus::SigningKey,
    address: account::Id,
    chain_id: &chain::Id,
    height: Height,
    block_id: block::Id,
    timestamp: Time,
) -> Result<Commit, SoloError> {
    let round = Round::default();
    let vote = Vote {
        vote_type: VoteType::Precommit,
        height,
        round,
        block_id: Some(block_id),
        timestamp: Some(timestamp),
        validator_address: address,
        validator_index: ValidatorIndex::try_from(0_u32).map_err(|e| SoloError::Build {
            reason: e.to_string(),
        })?,
        signature: None,
        extension: Vec::new(),
        extension_signature: None,
    };
    let sign_bytes = vote.into_signable_vec(chain_id.clone());
    let signature = tendermint::Signature::from(key.sign(&sign_bytes));
    Ok(Commit {
        height,
        round,
        block_id,
        signatures: vec![CommitSig::BlockIdFlagCommit {
            validator_address: address,
            timestamp,
            signature: Some(signature),
        }],
    })
}

fn abci_validator(info: &validator::Info) -> Result<AbciValidator, SoloError> {
    let address: [u8; 20] = info
        .address
        .as_bytes()
        .try_into()
        .map_err(|_| SoloError::Build {
            reason: "validator address is not 20 bytes".into(),
        })?;
    Ok(AbciValidator {
        address,
        power: info.power,
    })
}

/// How a validator appears in a commit, as ABCI's `VoteInfo` reports it.
fn flag(sig: &CommitSig) -> BlockIdFlag {
    match sig {
        CommitSig::BlockIdFlagAbsent => BlockIdFlag::Absent,
        CommitSig::BlockIdFlagCommit { .. } => BlockIdFlag::Commit,
        CommitSig::BlockIdFlagNil { .. } => BlockIdFlag::Nil,
    }
}

/// `CommitInfo` of a block's last commit (`ProcessProposal`, `FinalizeBlock`): one vote per
/// validator of the previous height, in validator-set order. Empty for the first block.
pub fn commit_info(commit: &Commit, validators: &validator::Set) -> Result<CommitInfo, SoloError> {
    let mut votes = Vec::with_capacity(commit.signatures.len());
    for (sig, info) in commit.signatures.iter().zip(validators.validators()) {
        votes.push(VoteInfo {
            validator: abci_validator(info)?,
            sig_info: BlockSignatureInfo::Flag(flag(sig)),
        });
    }
    Ok(CommitInfo {
        round: commit.round,
        votes,
    })
}

/// `ExtendedCommitInfo` for `PrepareProposal` (vote extensions are not enabled, so they
/// are empty).
pub fn extended_commit_info(
    commit: &Commit,
    validators: &validator::Set,
) -> Result<ExtendedCommitInfo, SoloError> {
    let info = commit_info(commit, validators)?;
    Ok(ExtendedCommitInfo {
        round: info.round,
        votes: info
            .votes
            .into_iter()
            .map(|v| ExtendedVoteInfo {
                validator: v.validator,
                sig_info: v.sig_info,
                vote_extension: Bytes::new(),
                extension_signature: None,
            })
            .collect(),
    })
}
