//! Wallets against the 4-validator network: every participant runs its own [`Wallet`] over
//! plain-HTTP CometBFT RPC, each talking to a different validator as its primary and another
//! as its witness, with the root of trust taken from the genesis file (not from any node).
//!
//! The lifecycle goes through issue, acceptance, splits down three supplier tiers, a
//! financing quote, a financing request and its acceptance. Settlement is not part of this
//! test: on a real network the ledger's calendar is the validators' wall clock, so maturity
//! is days away; settlement through wallets is covered on the solo chain
//! (`core/tests/wallet.rs`), whose clock the test drives.
//!
//! Then one validator is killed: the wallets whose primary it was fail with a typed transport
//! error and keep their verified view; switched to a live node they carry on.

use cascade_core::testkit::cny;
use cascade_core::tx::{Output, TxBody};
use cascade_core::wallet::client::{SystemClock, TxStatus, Wallet, WalletConfig, WalletError};
use cascade_core::wallet::http::HttpTransport;
use cascade_core::wallet::keys::LocalKey;
use cascade_core::wallet::light::TrustAnchor;
use cascade_core::wallet::transport::Transport;
use cascade_core::{Amount, AnnualRate, Day, Hash32, Money, PieceStatus, SecretKey};
use cascade_tests::net::{wait_until, Network};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const VALIDATORS: usize = 4;
/// Bound for one transaction to be committed and seen through a wallet.
const COMMIT: Duration = Duration::from_secs(30);

fn node_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cascade-test-node"))
}

fn transport(net: &Network, i: usize) -> Arc<dyn Transport> {
    let url = net.node(i).rpc_url();
    Arc::new(HttpTransport::new(&url).unwrap_or_else(|e| panic!("transport to {url}: {e}")))
}

/// The app ships the consortium's genesis file; the anchor comes from it.
fn anchor(net: &Network) -> TrustAnchor {
    let path = net.node(0).home.join("cometbft/config/genesis.json");
    let json = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    TrustAnchor::from_cometbft_genesis(&json).expect("anchor from genesis.json")
}

struct Participant {
    name: &'static str,
    wallet: Wallet,
}

fn wallet(net: &Network, name: &'static str, primary: usize) -> Participant {
    let key = LocalKey::from_secret(SecretKey::from_seed(name.as_bytes()));
    let witness = (primary + 1) % net.len();
    let wallet = Wallet::in_memory(
        WalletConfig::new(anchor(net)),
        Arc::new(key),
        transport(net, primary),
        vec![transport(net, witness)],
        Arc::new(SystemClock),
    )
    .expect("open wallet");
    Participant { name, wallet }
}

impl Participant {
    /// Refreshes until the node's latest state is provable (the next header exists).
    fn refresh(&mut self) -> Vec<cascade_core::wallet::client::WalletEvent> {
        let name = self.name;
        let wallet = &mut self.wallet;
        wait_until(&format!("{name} to refresh"), COMMIT, || {
            match wallet.refresh() {
                Ok(events) => Ok(events),
                Err(e @ WalletError::AwaitingNextBlock { .. }) => Err(e.to_string()),
                Err(e) => panic!("{name}: refresh: {e}"),
            }
        })
    }

    /// Submits `body` (after the wallet's local precheck) and waits until the wallet sees
    /// it committed through a verified view.
    fn run(&mut self, body: TxBody) -> Hash32 {
        self.refresh();
        let kind = body.kind();
        let name = self.name;
        let wallet = &mut self.wallet;
        // The precheck may need a certificate's terms proven against a state whose header
        // is not out yet: a retryable error on a live chain.
        let hash = wait_until(
            &format!("{name}'s {kind} to be accepted"),
            COMMIT,
            || match wallet.submit(body.clone()) {
                Ok(hash) => Ok(hash),
                Err(e @ WalletError::AwaitingNextBlock { .. }) => Err(e.to_string()),
                Err(e) => panic!("{name}: {kind}: {e}"),
            },
        );
        wait_until(&format!("{name}'s {kind} to commit"), COMMIT, || {
            match wallet.refresh() {
                Ok(_) | Err(WalletError::AwaitingNextBlock { .. }) => {}
                Err(e) => panic!("{name}: refresh: {e}"),
            }
            match wallet.tx_status(&hash) {
                Some(TxStatus::Committed { .. }) => Ok(()),
                Some(TxStatus::Failed { code, reason }) => {
                    panic!("{name}: {kind} failed with code {code}: {reason}")
                }
                other => Err(format!("{kind} is {other:?}")),
            }
        });
        hash
    }

    fn offer_in(&mut self, amount: u64) -> Hash32 {
        let name = self.name;
        let wallet = &mut self.wallet;
        wait_until(
            &format!("{name} to see an offer of {amount}"),
            COMMIT,
            || {
                match wallet.refresh() {
                    Ok(_) | Err(WalletError::AwaitingNextBlock { .. }) => {}
                    Err(e) => panic!("{name}: refresh: {e}"),
                }
                let view = wallet.view().ok_or_else(|| "no view yet".to_string())?;
                view.offers_in
                    .iter()
                    .find(|(_, p)| p.amount == Amount(amount))
                    .map(|(id, _)| *id)
                    .ok_or_else(|| format!("offers in: {:?}", view.offers_in))
            },
        )
    }

    fn holdings(&self) -> Vec<(Hash32, Amount, PieceStatus)> {
        self.wallet
            .view()
            .expect("view")
            .holdings
            .iter()
            .map(|(id, p)| (*id, p.amount, p.status.clone()))
            .collect()
    }
}

#[test]
fn wallets_run_the_lifecycle_on_the_four_validator_network() {
    let mut net = Network::start("wallets", VALIDATORS, node_bin());
    // Each wallet has a different validator as its primary.
    let mut bank = wallet(&net, "bank", 0);
    let mut core = wallet(&net, "core", 1);
    let mut t1 = wallet(&net, "t1", 2);
    let mut t2a = wallet(&net, "t2a", 3);
    let mut t3a = wallet(&net, "t3a", 0);
    let addr = |name: &str| SecretKey::from_seed(name.as_bytes()).address();

    // Credit line, document, issue.
    bank.run(TxBody::SetCreditLine {
        obligor: addr("core"),
        currency: cny(),
        limit: Amount(10_000_000_00),
    });
    let document = Hash32(cascade_core::crypto::sha256(b"invoice-wallet-network-1"));
    let face = 1_000_000_00;
    core.run(TxBody::AnchorDocument {
        hash: document,
        amount: Money {
            amount: Amount(face),
            currency: cny(),
        },
        buyer: addr("core"),
        seller: addr("t1"),
    });
    let today = core.wallet.view().expect("view").today;
    core.run(TxBody::Issue {
        to: addr("t1"),
        amount: Amount(face),
        currency: cny(),
        maturity: Day(today.0 + 90),
        document,
        credit_grantor: addr("bank"),
    });

    // Tier 1 accepts and splits 300,000.00 to tier 2, keeping the change.
    let root = t1.offer_in(face);
    t1.run(TxBody::Accept { piece: root });
    assert_eq!(
        t1.holdings(),
        vec![(root, Amount(face), PieceStatus::Active)],
        "{:?}",
        t1.wallet.view()
    );
    t1.run(TxBody::Transfer {
        piece: root,
        outputs: vec![Output {
            to: addr("t2a"),
            amount: Amount(300_000_00),
        }],
    });
    let change1 = t1.holdings();
    assert_eq!(change1.len(), 1, "{change1:?}");
    assert_eq!(change1[0].1, Amount(700_000_00));

    // Tier 2 accepts and passes 100,000.00 to tier 3.
    let p2 = t2a.offer_in(300_000_00);
    t2a.run(TxBody::Accept { piece: p2 });
    t2a.run(TxBody::Transfer {
        piece: p2,
        outputs: vec![Output {
            to: addr("t3a"),
            amount: Amount(100_000_00),
        }],
    });
    assert_eq!(t2a.holdings().len(), 1);
    assert_eq!(t2a.holdings()[0].1, Amount(200_000_00));

    // Tier 3 accepts, gets a quote and asks the bank to finance the piece.
    let p3 = t3a.offer_in(100_000_00);
    t3a.run(TxBody::Accept { piece: p3 });
    let rate = AnnualRate::from_bps(450).expect("rate");
    let quote = t3a
        .wallet
        .quote(&p3, Amount(100_000_00), rate)
        .expect("quote");
    assert_eq!(quote.face, Amount(100_000_00));
    assert_eq!(quote.interest.0 + quote.proceeds.0, 100_000_00);
    assert!(quote.days >= 89 && quote.days <= 90, "{quote:?}");
    assert!(quote.interest.0 > 0);
    t3a.run(TxBody::RequestFinancing {
        piece: p3,
        financier: addr("bank"),
        amount: Amount(100_000_00),
        rate,
    });
    let request = bank.offer_in(100_000_00);
    bank.run(TxBody::AcceptFinancing {
        piece: request,
        payment_reference: "wire-net-0001".into(),
    });
    let financed = bank.holdings();
    assert_eq!(financed.len(), 1, "{financed:?}");
    assert_eq!(financed[0].1, Amount(100_000_00));
    assert_eq!(financed[0].2, PieceStatus::Financed);
    t3a.refresh();
    assert!(t3a.holdings().is_empty());

    // The proven lineage (read through another validator) conserves the face value.
    let wallet = &mut t2a.wallet;
    let (record, pieces) = wait_until("a proven lineage", COMMIT, || match wallet.lineage(&root) {
        Ok(found) => Ok(found),
        Err(e @ WalletError::AwaitingNextBlock { .. }) => Err(e.to_string()),
        Err(e) => panic!("lineage: {e}"),
    });
    assert_eq!(record.face, Amount(face));
    let outstanding: u64 = pieces
        .iter()
        .filter(|(_, p)| p.status.is_outstanding())
        .map(|(_, p)| p.amount.0)
        .sum();
    assert_eq!(outstanding, face);
    assert!(pieces.iter().any(|(_, p)| p.tier == 3));

    // A refused transaction is caught before broadcast with the ledger's code.
    let over = t1.wallet.submit(TxBody::Transfer {
        piece: change1[0].0,
        outputs: vec![Output {
            to: addr("t2a"),
            amount: Amount(700_000_01),
        }],
    });
    assert!(matches!(over, Err(WalletError::Refused { .. })), "{over:?}");

    // Node 2 (t1's primary) dies: t1 gets a typed transport error and keeps its view.
    let before = t1.wallet.view().expect("view").clone();
    net.kill_node(2);
    match t1.wallet.refresh() {
        Err(WalletError::Transport(_)) => {}
        other => panic!("expected a transport error from a dead primary, got {other:?}"),
    }
    assert_eq!(t1.wallet.view(), Some(&before));
    // The others carry on: tier 2 merges nothing but still transacts through node 3.
    t2a.run(TxBody::Transfer {
        piece: t2a.holdings()[0].0,
        outputs: vec![Output {
            to: addr("t3a"),
            amount: Amount(50_000_00),
        }],
    });
    let p3b = t3a.offer_in(50_000_00);
    t3a.run(TxBody::Reject { piece: p3b });
    let back = t2a.offer_in_holdings(50_000_00);
    assert!(back, "the rejected part returns to tier 2");
}

impl Participant {
    /// Whether a holding of `amount` shows up (waiting for it).
    fn offer_in_holdings(&mut self, amount: u64) -> bool {
        let name = self.name;
        let wallet = &mut self.wallet;
        wait_until(&format!("{name} to hold {amount}"), COMMIT, || {
            match wallet.refresh() {
                Ok(_) | Err(WalletError::AwaitingNextBlock { .. }) => {}
                Err(e) => panic!("{name}: refresh: {e}"),
            }
            let view = wallet.view().ok_or_else(|| "no view yet".to_string())?;
            view.holdings
                .iter()
                .any(|(_, p)| p.amount == Amount(amount))
                .then_some(true)
                .ok_or_else(|| format!("holdings: {:?}", view.holdings))
        })
    }
}
