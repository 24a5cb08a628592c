//! Wake-ups: one connection `LISTEN`s on the store's channel and wakes every waiting
//! [`PostgresStore::wait_for_jobs`](super::PostgresStore::wait_for_jobs).
//!
//! A supervisor task owns the connection. When it closes, the supervisor wakes the waiters (jobs
//! may have been inserted while nobody listened) and reconnects with backoff; meanwhile waits
//! simply run to their polling deadline, so a lost connection delays jobs but never stalls them.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{AsyncMessage, Client, Config, Connection, NoTls, Socket};

const FIRST_RECONNECT_DELAY: Duration = Duration::from_millis(100);
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);

/// The listening side of a store; dropping it stops the supervisor and closes the connection.
pub(super) struct Listener {
    wakeups: Arc<Notify>,
    supervisor: JoinHandle<()>,
}

impl Listener {
    /// Listens on `channel`, failing if the first connection cannot be opened, so that a
    /// notification sent once `start` returns is not missed.
    pub(super) async fn start(
        config: Config,
        channel: String,
    ) -> Result<Self, tokio_postgres::Error> {
        let wakeups = Arc::new(Notify::new());
        let first = listen(&config, &channel, &wakeups).await?;
        let supervisor = tokio::spawn(keep_listening(config, channel, wakeups.clone(), first));
        Ok(Self {
            wakeups,
            supervisor,
        })
    }

    /// Returns at the next notification, or after `wait`.
    pub(super) async fn wait(&self, wait: Duration) {
        // Timing out is the polling fallback, not an error.
        let _ = tokio::time::timeout(wait, self.wakeups.notified()).await;
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.supervisor.abort();
    }
}

/// A listening connection: the client keeps it open, the task forwards its notifications.
struct Listening {
    _client: Client,
    forwarding: JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.forwarding.abort();
    }
}

async fn listen(
    config: &Config,
    channel: &str,
    wakeups: &Arc<Notify>,
) -> Result<Listening, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    let forwarding = tokio::spawn(forward(connection, wakeups.clone()));
    // The channel is `<schema>.stanchion_jobs`, the schema a checked plain identifier.
    client
        .batch_execute(&format!("LISTEN \"{channel}\""))
        .await?;
    Ok(Listening {
        _client: client,
        forwarding,
    })
}

/// Drives `connection` (which also runs the client's requests) until it closes, waking every
/// waiter on each notification.
async fn forward(mut connection: Connection<Socket, NoTlsStream>, wakeups: Arc<Notify>) {
    while let Some(Ok(message)) = poll_fn(|cx| connection.poll_message(cx)).await {
        if let AsyncMessage::Notification(_) = message {
            wakeups.notify_waiters();
        }
    }
}

async fn keep_listening(config: Config, channel: String, wakeups: Arc<Notify>, first: Listening) {
    let mut current = first;
    loop {
        // The forwarding task ends when the connection closes.
        let _ = (&mut current.forwarding).await;
        wakeups.notify_waiters();
        current = reconnect(&config, &channel, &wakeups).await;
    }
}

async fn reconnect(config: &Config, channel: &str, wakeups: &Arc<Notify>) -> Listening {
    let mut delay = FIRST_RECONNECT_DELAY;
    loop {
        tokio::time::sleep(delay).await;
        if let Ok(listening) = listen(config, channel, wakeups).await {
            // Jobs inserted while the connection was down sent no notification we heard.
            wakeups.notify_waiters();
            return listening;
        }
        delay = (delay * 2).min(MAX_RECONNECT_DELAY);
    }
}
