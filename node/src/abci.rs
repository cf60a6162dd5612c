//! The ABCI server: CometBFT's four connections (consensus, mempool, info, snapshot) served
//! by tower-abci over one [`App`].
//!
//! The application is sans-IO and synchronous; each service locks it, runs the request to
//! completion inside `call` and returns a ready future. Requests on one connection are
//! therefore answered in order, and requests on different connections are serialised by
//! the lock, which is all the ABCI concurrency model asks for.
//!
//! A consensus method that fails ([`cascade_core::app::AppError`]: a storage failure, a
//! request out of sequence, a bad genesis) is returned to tower-abci as an error, which
//! drops the connection. CometBFT then stops, because its consensus connection died. The
//! service also raises [`Fatal`] so the daemon exits: after such a failure the in-memory
//! state can no longer be trusted to match the disk, and restarting from the last durable
//! block is the only safe recovery (ADR 0006).
//!
//! A proposal that `ProcessProposal` rejects is logged (height, proposer, size): honest
//! validators only reject proposals of a faulty or Byzantine proposer, so an operator wants
//! to see it.
//!
//! **Test hook.** [`server_with_tamper`] takes a [`ProposalTamper`], which rewrites the
//! transactions of this node's own proposals and makes the node vote for them, so the
//! network tests can run a Byzantine proposer. Only the test binary `cascade-test-node`
//! installs one (when `CASCADE_TEST_BYZANTINE_PROPOSER=1`); `cascade-node` never does
//! ([`crate::cli::main`] passes none).

use cascade_core::app::App;
use std::future::{ready, Ready};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tendermint::abci::response;
use tendermint::v0_38::abci::{
    ConsensusRequest, ConsensusResponse, InfoRequest, InfoResponse, MempoolRequest,
    MempoolResponse, SnapshotRequest, SnapshotResponse,
};
use tokio::sync::Notify;
use tower::Service;
use tower_abci::BoxError;

/// The application shared by the four services.
pub type SharedApp = Arc<Mutex<App>>;

/// Test only: rewrites the transactions of a proposal this node prepared at a height (see
/// the module documentation). Never installed by `cascade-node`.
pub type ProposalTamper = Arc<dyn Fn(u64, Vec<Vec<u8>>) -> Vec<Vec<u8>> + Send + Sync>;

/// A tampered proposal this node made: its height and transactions.
type Tampered = Arc<Mutex<Option<(u64, Vec<Vec<u8>>)>>>;

/// The first fatal error, and a wake-up for whoever waits on it.
#[derive(Debug, Default)]
pub struct Fatal {
    message: Mutex<Option<String>>,
    notify: Notify,
}

impl Fatal {
    /// Records `message` (the first one wins) and wakes the waiter.
    pub fn raise(&self, message: String) {
        if let Ok(mut slot) = self.message.lock() {
            slot.get_or_insert(message);
        }
        self.notify.notify_one();
    }

    /// Waits until a fatal error is raised and returns it.
    pub async fn wait(&self) -> String {
        loop {
            if let Some(message) = self.message() {
                return message;
            }
            self.notify.notified().await;
        }
    }

    /// The fatal error, if one was raised.
    pub fn message(&self) -> Option<String> {
        match self.message.lock() {
            Ok(slot) => slot.clone(),
            Err(_) => Some("fatal-error record poisoned".into()),
        }
    }
}

fn lock<'a>(app: &'a SharedApp, fatal: &Fatal) -> Result<MutexGuard<'a, App>, BoxError> {
    app.lock().map_err(|_| {
        let message = "the application lock is poisoned (a request panicked)".to_string();
        fatal.raise(message.clone());
        BoxError::from(message)
    })
}

/// Consensus connection: `InitChain`, `PrepareProposal`, `ProcessProposal`, `FinalizeBlock`,
/// `Commit`, and the (unused) vote extensions.
#[derive(Clone)]
pub struct ConsensusService {
    app: SharedApp,
    fatal: Arc<Fatal>,
    log_blocks: bool,
    tamper: Option<ProposalTamper>,
    tampered: Tampered,
}

impl ConsensusService {
    /// Applies the test hook, if any, to a proposal this node prepared, and remembers it.
    fn tamper(
        &self,
        height: u64,
        resp: response::PrepareProposal,
    ) -> Result<response::PrepareProposal, BoxError> {
        let Some(tamper) = &self.tamper else {
            return Ok(resp);
        };
        let txs = tamper(height, resp.txs.iter().map(|t| t.to_vec()).collect());
        eprintln!(
            "cascade-node: TEST HOOK: proposing a tampered block at height {height} ({} txs instead of {})",
            txs.len(),
            resp.txs.len()
        );
        let mut slot = self
            .tampered
            .lock()
            .map_err(|_| BoxError::from("test hook record poisoned"))?;
        *slot = Some((height, txs.clone()));
        Ok(response::PrepareProposal {
            txs: txs.into_iter().map(Into::into).collect(),
        })
    }

    /// True if `r` is the tampered proposal this node made (the hook votes for it).
    fn is_tampered(&self, r: &tendermint::abci::request::ProcessProposal) -> bool {
        self.tamper.is_some()
            && self.tampered.lock().is_ok_and(|slot| {
                slot.as_ref().is_some_and(|(height, txs)| {
                    *height == r.height.value()
                        && txs.len() == r.txs.len()
                        && txs.iter().zip(&r.txs).all(|(a, b)| a[..] == b[..])
                })
            })
    }

    fn handle(&self, req: ConsensusRequest) -> Result<ConsensusResponse, BoxError> {
        let mut app = lock(&self.app, &self.fatal)?;
        let (method, result) = match req {
            ConsensusRequest::InitChain(r) => (
                "InitChain",
                app.init_chain(&r).map(ConsensusResponse::InitChain),
            ),
            ConsensusRequest::PrepareProposal(r) => {
                let result = app.prepare_proposal(&r);
                let result = match result {
                    Ok(resp) => Ok(self.tamper(r.height.value(), resp)?),
                    Err(e) => Err(e),
                };
                (
                    "PrepareProposal",
                    result.map(ConsensusResponse::PrepareProposal),
                )
            }
            ConsensusRequest::ProcessProposal(r) if self.is_tampered(&r) => {
                eprintln!(
                    "cascade-node: TEST HOOK: accepting this node's own tampered proposal at height {}",
                    r.height
                );
                (
                    "ProcessProposal",
                    Ok(ConsensusResponse::ProcessProposal(
                        response::ProcessProposal::Accept,
                    )),
                )
            }
            ConsensusRequest::ProcessProposal(r) => {
                let result = app.process_proposal(&r);
                if let Ok(response::ProcessProposal::Reject) = &result {
                    eprintln!(
                        "cascade-node: rejected the proposal for height {} by {} ({} txs): it holds an invalid transaction",
                        r.height,
                        r.proposer_address,
                        r.txs.len()
                    );
                }
                (
                    "ProcessProposal",
                    result.map(ConsensusResponse::ProcessProposal),
                )
            }
            ConsensusRequest::FinalizeBlock(r) => {
                let result = app.finalize_block(&r);
                if self.log_blocks {
                    if let Ok(resp) = &result {
                        let failed = resp.tx_results.iter().filter(|t| t.code.is_err()).count();
                        eprintln!(
                            "cascade-node: finalized block {} ({} txs, {} failed, {} validator updates) app hash {}",
                            r.height,
                            r.txs.len(),
                            failed,
                            resp.validator_updates.len(),
                            resp.app_hash
                        );
                    }
                }
                (
                    "FinalizeBlock",
                    result.map(ConsensusResponse::FinalizeBlock),
                )
            }
            ConsensusRequest::Commit => ("Commit", app.commit().map(ConsensusResponse::Commit)),
            ConsensusRequest::ExtendVote(_) => (
                "ExtendVote",
                Ok(ConsensusResponse::ExtendVote(response::ExtendVote {
                    vote_extension: Default::default(),
                })),
            ),
            ConsensusRequest::VerifyVoteExtension(_) => (
                "VerifyVoteExtension",
                Ok(ConsensusResponse::VerifyVoteExtension(
                    response::VerifyVoteExtension::Accept,
                )),
            ),
        };
        result.map_err(|e| {
            let message = format!("{method} failed: {e}");
            eprintln!("cascade-node: FATAL: {message}");
            self.fatal.raise(message);
            BoxError::from(e)
        })
    }
}

impl Service<ConsensusRequest> for ConsensusService {
    type Response = ConsensusResponse;
    type Error = BoxError;
    type Future = Ready<Result<ConsensusResponse, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ConsensusRequest) -> Self::Future {
        ready(self.handle(req))
    }
}

/// Mempool connection: `CheckTx`.
#[derive(Clone)]
pub struct MempoolService {
    app: SharedApp,
    fatal: Arc<Fatal>,
}

impl Service<MempoolRequest> for MempoolService {
    type Response = MempoolResponse;
    type Error = BoxError;
    type Future = Ready<Result<MempoolResponse, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: MempoolRequest) -> Self::Future {
        ready(lock(&self.app, &self.fatal).map(|mut app| match req {
            MempoolRequest::CheckTx(r) => MempoolResponse::CheckTx(app.check_tx(&r)),
        }))
    }
}

/// Info connection: `Info` (the handshake), `Query`, `Echo`.
#[derive(Clone)]
pub struct InfoService {
    app: SharedApp,
    fatal: Arc<Fatal>,
}

impl Service<InfoRequest> for InfoService {
    type Response = InfoResponse;
    type Error = BoxError;
    type Future = Ready<Result<InfoResponse, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: InfoRequest) -> Self::Future {
        ready(lock(&self.app, &self.fatal).map(|app| match req {
            InfoRequest::Info(r) => InfoResponse::Info(app.info(&r)),
            InfoRequest::Query(r) => InfoResponse::Query(app.query(&r)),
            InfoRequest::Echo(r) => InfoResponse::Echo(response::Echo { message: r.message }),
        }))
    }
}

/// Snapshot connection: state sync is not supported, so every answer is the default
/// (no snapshots offered, any offer rejected by default).
#[derive(Clone, Copy, Default)]
pub struct SnapshotService;

impl Service<SnapshotRequest> for SnapshotService {
    type Response = SnapshotResponse;
    type Error = BoxError;
    type Future = Ready<Result<SnapshotResponse, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: SnapshotRequest) -> Self::Future {
        ready(Ok(match req {
            SnapshotRequest::ListSnapshots => SnapshotResponse::ListSnapshots(Default::default()),
            SnapshotRequest::OfferSnapshot(_) => {
                SnapshotResponse::OfferSnapshot(Default::default())
            }
            SnapshotRequest::LoadSnapshotChunk(_) => {
                SnapshotResponse::LoadSnapshotChunk(Default::default())
            }
            SnapshotRequest::ApplySnapshotChunk(_) => {
                SnapshotResponse::ApplySnapshotChunk(Default::default())
            }
        }))
    }
}

/// The tower-abci server type the node runs.
pub type AbciServer =
    tower_abci::v038::Server<ConsensusService, MempoolService, InfoService, SnapshotService>;

/// Builds the server over `app`. Fatal consensus errors are raised on `fatal`; with
/// `log_blocks` every finalized block is logged to standard error.
pub fn server(app: SharedApp, fatal: Arc<Fatal>, log_blocks: bool) -> Result<AbciServer, String> {
    server_with_tamper(app, fatal, log_blocks, None)
}

/// [`server`] with a test hook that makes this node a Byzantine proposer (`None`: none, as
/// in [`server`]). Tests only; see the module documentation.
pub fn server_with_tamper(
    app: SharedApp,
    fatal: Arc<Fatal>,
    log_blocks: bool,
    tamper: Option<ProposalTamper>,
) -> Result<AbciServer, String> {
    tower_abci::v038::Server::builder()
        .consensus(ConsensusService {
            app: app.clone(),
            fatal: fatal.clone(),
            log_blocks,
            tamper,
            tampered: Tampered::default(),
        })
        .mempool(MempoolService {
            app: app.clone(),
            fatal: fatal.clone(),
        })
        .info(InfoService { app, fatal })
        .snapshot(SnapshotService)
        .finish()
        .ok_or_else(|| "the ABCI server is missing a service".to_string())
}
