//! The development consortium: the application state `init` and `testnet` write unless
//! given `--app-state`.
//!
//! It is the cast of [`cascade_core::testkit::Fixture::standard`] (an operator, an auditor,
//! the core enterprise, five suppliers, a bank and a factor) plus operators `operator-0` …
//! `operator-{n-1}`, so validator-set governance (a strict majority of operators) has
//! several voters. **Every key is derived from a public seed (its name) with
//! [`SecretKey::from_seed`]: anyone can sign as these participants.** They are for
//! development and tests only.

use cascade_core::crypto::sha256;
use cascade_core::testkit::STANDARD_PARTICIPANTS;
use cascade_core::{Genesis, GenesisParticipant, Hash32, Params, Roles, SecretKey};

/// Chain id of a development chain unless `--chain-id` says otherwise.
pub const DEV_CHAIN_ID: &str = "cascade-dev";

/// Operators `operator-0..` added to the standard cast by default.
pub const DEV_OPERATORS: usize = 4;

/// Seed (and name) of the `i`-th extra operator.
pub fn operator_seed(i: usize) -> String {
    format!("operator-{i}")
}

/// A development participant: its name (which is also its key seed) and roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevParticipant {
    /// Name and key seed.
    pub name: String,
    /// Roles at genesis.
    pub roles: Roles,
}

impl DevParticipant {
    /// Its secret key (derived from the public seed: development only).
    pub fn key(&self) -> SecretKey {
        SecretKey::from_seed(self.name.as_bytes())
    }
}

/// The development cast: the standard fixture's participants, then `operators` operators.
pub fn dev_participants(operators: usize) -> Vec<DevParticipant> {
    STANDARD_PARTICIPANTS
        .iter()
        .map(|(name, roles)| DevParticipant {
            name: (*name).to_string(),
            roles: *roles,
        })
        .chain((0..operators).map(|i| DevParticipant {
            name: operator_seed(i),
            roles: Roles::OPERATOR,
        }))
        .collect()
}

/// The development genesis for `chain_id`. Validators are left empty: the application
/// takes them from CometBFT's genesis at `InitChain`. The genesis time is likewise
/// replaced by CometBFT's.
pub fn dev_genesis(chain_id: &str, operators: usize) -> Genesis {
    Genesis {
        chain_id: chain_id.to_string(),
        genesis_time: 0,
        params: Params::default(),
        participants: dev_participants(operators)
            .iter()
            .map(|p| GenesisParticipant {
                public_key: p.key().public_key(),
                roles: p.roles,
                legal_id_hash: Hash32(sha256(p.name.as_bytes())),
            })
            .collect(),
        validators: Vec::new(),
    }
}

/// A printable table of the development keys, with a warning that they are public.
pub fn describe_dev_keys(operators: usize) -> String {
    let mut out = String::from(
        "DEVELOPMENT KEYS: every participant's secret key is derived from its public name\n\
         (SecretKey::from_seed(name)), so ANYONE can sign as them. Never use this genesis for\n\
         real value; pass --app-state FILE with your own participants instead.\n",
    );
    for p in dev_participants(operators) {
        out.push_str(&format!(
            "  {:<12} {:<24} address {}\n",
            p.name,
            p.roles.names().join("+"),
            p.key().address()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_genesis_initialises_a_ledger() {
        let genesis = dev_genesis("cascade-dev", DEV_OPERATORS);
        let mut genesis_with_validator = genesis.clone();
        genesis_with_validator.validators = vec![cascade_core::ValidatorRecord {
            pub_key: cascade_core::testkit::validator_key("v"),
            power: 10,
        }];
        let mut ledger = cascade_core::Ledger::in_memory().unwrap();
        ledger.init_chain(&genesis_with_validator).unwrap();
        let consortium = ledger.consortium().unwrap();
        assert_eq!(consortium.active_operators as usize, 1 + DEV_OPERATORS);
        assert_eq!(consortium.quorum(), 3);
        // The JSON form is what CometBFT hands the application.
        let json = serde_json::to_vec(&genesis).unwrap();
        let back: Genesis = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, genesis);
    }
}
