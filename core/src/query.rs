//! Queries over the committed state, as served by a node (ABCI `Query`) and the solo node.
//!
//! Every answer about authenticated state *is* its proof: a [`StateProof`] carries the value
//! it proves, an [`AccountListProof`] the pieces of a list and the counts that show the list
//! is complete. A client therefore never has a value without the means to check it against a
//! verified app hash. History comes from the node's local index, which is not in the app
//! hash; clients treat it as a hint and confirm with proven state. Receipts are not the
//! ledger's to serve any more (ADR 0012): CometBFT's `/tx` locates a transaction, and its
//! result data carries its events.
//!
//! The ABCI path is `/<kind>/<hex argument>` (e.g. `/piece/ab12…`); the answer is the borsh
//! encoding of [`Answer`].

use crate::crypto::{Address, Hash32, ValidatorKey};
use crate::exec::HistoryEntry;
use crate::keys;
use crate::ledger::Ledger;
use crate::proof::{AccountListProof, LineageProof, ListKind, StateProof};
use crate::store::StoreError;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// What a client can ask a node.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "kind", content = "arg", rename_all = "snake_case")]
pub enum Query {
    /// A piece (proven).
    Piece(Hash32),
    /// A certificate record (proven).
    Root(Hash32),
    /// An account's nonce and list counts (proven).
    Account(Address),
    /// A participant record (proven).
    Participant(Address),
    /// Pieces an account holds, with completeness proof.
    Holdings(Address),
    /// Offers addressed to an account, with completeness proof.
    OffersIn(Address),
    /// Offers an account made, with completeness proof.
    OffersOut(Address),
    /// Every piece of a certificate, with completeness proof.
    Lineage(Hash32),
    /// The clearing list of a settled certificate (proven).
    Clearing(Hash32),
    /// A trade document (proven).
    Document(Hash32),
    /// A consensus validator (proven).
    Validator(ValidatorKey),
    /// Consortium counters (proven).
    Consortium,
    /// A piece's audit history (node index, unproven).
    History(Hash32),
    /// An obligor's settlement record (proven): certificates accepted, settled on time or
    /// late, overdue now. Financiers price a certificate by its obligor's record. Last, so
    /// the borsh indexes of the variants above stay as they were.
    ObligorRecord(Address),
    /// The ledger's parameters (proven): the day count a quote must use, the minimum unit,
    /// the caps. They can change (`UpdateParams`), so a wallet proves them with its view.
    Params,
}

/// A node's answer to a [`Query`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Answer {
    /// One key's value or absence, with its proof.
    State(StateProof),
    /// An account list with its completeness proof.
    List(AccountListProof),
    /// A lineage with its completeness proof.
    Lineage(LineageProof),
    /// Audit history, oldest first.
    History(Vec<HistoryEntry>),
}

/// A query path that cannot be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Unknown first path segment.
    #[error("unknown query path {path:?}; expected /<kind>/<hex>")]
    UnknownPath {
        /// The path given.
        path: String,
    },
    /// The argument is not hex of the right length.
    #[error("query argument {arg:?} is not {expected}")]
    BadArgument {
        /// Argument given.
        arg: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The ledger no longer answers this kind (ADR 0012): `ask` says where to.
    #[error("the ledger no longer serves {kind} queries; ask {ask}")]
    Moved {
        /// Kind of query.
        kind: &'static str,
        /// Where that information is now.
        ask: &'static str,
    },
}

impl Query {
    /// The ABCI path of this query.
    pub fn path(&self) -> String {
        let (kind, arg) = match self {
            Query::Piece(h) => ("piece", h.to_hex()),
            Query::Root(h) => ("root", h.to_hex()),
            Query::Account(a) => ("account", a.to_hex()),
            Query::Participant(a) => ("participant", a.to_hex()),
            Query::Holdings(a) => ("holdings", a.to_hex()),
            Query::OffersIn(a) => ("offers_in", a.to_hex()),
            Query::OffersOut(a) => ("offers_out", a.to_hex()),
            Query::Lineage(h) => ("lineage", h.to_hex()),
            Query::Clearing(h) => ("clearing", h.to_hex()),
            Query::Document(h) => ("document", h.to_hex()),
            Query::Validator(k) => ("validator", k.to_hex()),
            Query::Consortium => return "/consortium".into(),
            Query::Params => return "/params".into(),
            Query::History(h) => ("history", h.to_hex()),
            Query::ObligorRecord(a) => ("obligor", a.to_hex()),
        };
        format!("/{kind}/{arg}")
    }

    /// Parses an ABCI path.
    pub fn parse(path: &str) -> Result<Query, QueryError> {
        let trimmed = path.trim_start_matches('/');
        let (kind, arg) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        let hash = || {
            Hash32::from_hex(arg).ok_or_else(|| QueryError::BadArgument {
                arg: arg.into(),
                expected: "64 hex digits",
            })
        };
        let address = || {
            Address::from_hex(arg).ok_or_else(|| QueryError::BadArgument {
                arg: arg.into(),
                expected: "a 40-hex-digit address",
            })
        };
        Ok(match kind {
            "piece" => Query::Piece(hash()?),
            "root" => Query::Root(hash()?),
            "account" => Query::Account(address()?),
            "participant" => Query::Participant(address()?),
            "holdings" => Query::Holdings(address()?),
            "offers_in" => Query::OffersIn(address()?),
            "offers_out" => Query::OffersOut(address()?),
            "lineage" => Query::Lineage(hash()?),
            "clearing" => Query::Clearing(hash()?),
            "document" => Query::Document(hash()?),
            "validator" => Query::Validator(ValidatorKey::from_hex(arg).ok_or_else(|| {
                QueryError::BadArgument {
                    arg: arg.into(),
                    expected: "64 hex digits",
                }
            })?),
            "consortium" if arg.is_empty() => Query::Consortium,
            "params" if arg.is_empty() => Query::Params,
            "receipt" => {
                return Err(QueryError::Moved {
                    kind: "receipt",
                    ask: "CometBFT's /tx?hash=0x<hash>, then the events in its result data",
                })
            }
            "history" => Query::History(hash()?),
            "obligor" => Query::ObligorRecord(address()?),
            _ => {
                return Err(QueryError::UnknownPath {
                    path: path.to_string(),
                })
            }
        })
    }
}

impl Ledger {
    /// Answers a query from the last committed state.
    pub fn answer(&self, query: &Query) -> Result<Answer, StoreError> {
        let state = |key: &[u8]| self.prove(key).map(Answer::State);
        let list = |a: &Address, kind| self.prove_account_list(a, kind).map(Answer::List);
        match query {
            Query::Piece(id) => state(&keys::piece(id)),
            Query::Root(id) => state(&keys::root(id)),
            Query::Account(a) => state(&keys::account(a)),
            Query::Participant(a) => state(&keys::participant(a)),
            Query::Holdings(a) => list(a, ListKind::Holdings),
            Query::OffersIn(a) => list(a, ListKind::OffersIn),
            Query::OffersOut(a) => list(a, ListKind::OffersOut),
            Query::Lineage(root) => self.prove_lineage(root).map(Answer::Lineage),
            Query::Clearing(root) => state(&keys::clearing(root)),
            Query::Document(h) => state(&keys::document(h)),
            Query::Validator(k) => state(&keys::validator(k)),
            Query::Consortium => state(keys::CONSORTIUM),
            Query::History(id) => self.history(id).map(Answer::History),
            Query::ObligorRecord(a) => state(&keys::obligor(a)),
            Query::Params => state(keys::PARAMS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        let h = Hash32([7; 32]);
        let a = Address([9; 20]);
        for q in [
            Query::Piece(h),
            Query::Root(h),
            Query::Account(a),
            Query::Participant(a),
            Query::Holdings(a),
            Query::OffersIn(a),
            Query::OffersOut(a),
            Query::Lineage(h),
            Query::Clearing(h),
            Query::Document(h),
            Query::Validator(ValidatorKey([3; 32])),
            Query::Consortium,
            Query::History(h),
            Query::ObligorRecord(a),
            Query::Params,
        ] {
            assert_eq!(Query::parse(&q.path()), Ok(q));
        }
        assert_eq!(
            Query::ObligorRecord(a).path(),
            format!("/obligor/{}", "09".repeat(20))
        );
    }

    /// Queries travel as paths; answers as borsh. The answers wallets decode (state, lists,
    /// lineages) must keep their borsh indexes, so that wallets and nodes of different
    /// versions understand each other. (Removing receipts moved only `History`, which no
    /// wallet asks for.)
    #[test]
    fn answer_indexes_wallets_decode_are_stable() {
        let index = |a: &Answer| borsh::to_vec(a).expect("encode")[0];
        let proof = StateProof {
            key: Vec::new(),
            value: None,
            proof: Vec::new(),
            version: 0,
        };
        assert_eq!(index(&Answer::State(proof)), 0);
        assert_eq!(index(&Answer::History(Vec::new())), 3);
        assert_eq!(Query::Params.path(), "/params");
        assert!(Query::parse("/params/x").is_err());
    }

    #[test]
    fn receipts_are_refused_with_where_to_ask() {
        let path = format!("/receipt/{}", "ab".repeat(32));
        let err = Query::parse(&path).expect_err("the ledger serves no receipts");
        assert!(
            matches!(
                err,
                QueryError::Moved {
                    kind: "receipt",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("/tx?hash="), "{err}");
    }

    /// The answer to an obligor query is the proven record: it verifies against the committed
    /// app hash for `keys::obligor` only, and an obligor with no record is proven absent.
    #[cfg(feature = "testkit")]
    #[test]
    fn obligor_record_answer_is_the_proven_record() {
        use crate::proof::ProofError;
        use crate::testkit::Fixture;
        use crate::tx::TxBody;
        use crate::types::ObligorRecord;

        let mut fx = Fixture::standard();
        let root = fx.issue_accepted("t1", 1_000_00, 10);
        fx.advance_days(10);
        fx.ok("core", TxBody::Settle { root });
        let (core, t1) = (fx.addr("core"), fx.addr("t1"));
        let app_hash = fx.ledger.committed().expect("committed").app_hash;
        let Ok(Answer::State(proof)) = fx.ledger.answer(&Query::ObligorRecord(core)) else {
            panic!("an obligor query is answered with a state proof");
        };
        let record: Option<ObligorRecord> = proof
            .verify_typed(&app_hash, &keys::obligor(&core))
            .expect("the proof verifies");
        let expected = fx.ledger.obligor_record(&core).expect("read");
        assert_eq!(record.as_ref(), Some(&expected));
        assert_eq!(
            (expected.certificates, expected.settled_on_time),
            (1, 1),
            "{expected:?}"
        );
        assert_eq!(
            proof.verify(&app_hash, &keys::obligor(&t1)),
            Err(ProofError::WrongKey)
        );
        let Ok(Answer::State(absent)) = fx.ledger.answer(&Query::ObligorRecord(t1)) else {
            panic!("an obligor query is answered with a state proof");
        };
        assert_eq!(absent.verify(&app_hash, &keys::obligor(&t1)), Ok(None));
    }

    #[test]
    fn bad_paths_are_typed_errors() {
        assert!(matches!(
            Query::parse("/nope/00"),
            Err(QueryError::UnknownPath { .. })
        ));
        assert!(matches!(
            Query::parse("/piece/xyz"),
            Err(QueryError::BadArgument { .. })
        ));
        assert!(matches!(
            Query::parse("/holdings/00"),
            Err(QueryError::BadArgument { .. })
        ));
        assert!(matches!(
            Query::parse(&format!("/obligor/{}", "ab".repeat(32))),
            Err(QueryError::BadArgument { .. })
        ));
        assert!(matches!(
            Query::parse(""),
            Err(QueryError::UnknownPath { .. })
        ));
    }
}
