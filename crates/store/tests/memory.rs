//! The conformance suite against the memory adapter.

use std::sync::Arc;

use stanchion_store::{MemoryStore, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    conformance::run_all(|clock| async move { MemoryStore::with_clock(Arc::new(clock)) }).await;
}
