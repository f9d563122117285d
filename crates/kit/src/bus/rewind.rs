//! Lining the bus up with databases restored to an earlier instant.
//!
//! After a `serve` restore to instant T (docs/operations.md, "Backups and
//! restore") the databases agree with each other at T, but the streams do
//! not: they hold the events published after T, which no restored outbox
//! remembers (a new consumer, or `markaz impact rebuild`, would count them),
//! and each durable consumer stands where it stood at the crash, past events
//! its restored database never applied. [`NatsBus::rewind`] removes from
//! every producer's stream the events stored after T and starts every
//! durable consumer again from T minus a margin longer than the consumers'
//! lag at T: the events they had applied by T find their inbox rows and are
//! skipped, those in flight at T are applied, nothing after T comes.
//!
//! The events removed that were pending in a restored outbox are published
//! again by its relay once Markaz starts — but a stream drops a publish as a
//! duplicate of an id it saw within its duplicate window, even if that
//! message is gone since. So the rewind refuses to run until the window has
//! passed since the stream's last message: Markaz must be stopped first
//! anyway, and by then nothing is lost.

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use futures::StreamExt;

use super::NatsBus;
use crate::error::{Error, Result};

/// What a rewind did (or, dry, would do) to one producer's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewound {
    pub stream: String,
    /// Events stored after the instant: removed.
    pub removed: u64,
    /// Durable consumers started again from the instant minus the margin.
    pub consumers: Vec<String>,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("{what}: {e}"))
}

fn instant(micros: i64) -> Result<async_nats::datetime::DateTime> {
    async_nats::datetime::from_nanos(i128::from(micros) * 1_000)
        .map_err(|e| Error::invalid("to", format!("not an instant: {e}")))
}

impl NatsBus {
    /// Removes the events stored after `to` (microseconds since the epoch)
    /// from every producer's stream of this namespace and restarts every
    /// durable consumer from `to - margin`; with `dry_run`, only says what
    /// it would do. Run with every Markaz process stopped.
    pub async fn rewind(&self, to: i64, margin: Duration, dry_run: bool) -> Result<Vec<Rewound>> {
        let since = to - i64::try_from(margin.as_micros()).unwrap_or(i64::MAX);
        let (cut, restart) = (instant(to)?, instant(since)?);
        let prefix = format!("{}.evt.", self.namespace);
        let ours = format!("{}_", self.namespace.to_ascii_uppercase());
        let names: Vec<String> = self
            .js
            .stream_names()
            .filter_map(|n| async move { n.ok() })
            .filter(|n| std::future::ready(n.starts_with(&ours)))
            .collect()
            .await;
        let mut done = Vec::new();
        for name in names {
            use async_nats::jetstream::ErrorCode;
            use async_nats::jetstream::context::GetStreamErrorKind;
            let mut stream = match self.js.get_stream(&name).await {
                Ok(s) => s,
                // Deleted since it was listed: nothing to line up.
                Err(e)
                    if matches!(e.kind(), GetStreamErrorKind::JetStream(j)
                        if j.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
                {
                    continue;
                }
                Err(e) => return Err(unavailable(&name, e)),
            };
            let info = stream
                .info()
                .await
                .map_err(|e| unavailable(&name, e))?
                .clone();
            // A producer's event stream; not the dead letters, not the
            // lost-event advisories, not another namespace.
            let ours = info.config.subjects.len() == 1
                && info.config.subjects[0].starts_with(&prefix)
                && info.config.subjects[0].ends_with(".>");
            if !ours {
                continue;
            }
            let state = &info.state;
            let last_micros = (state.last_timestamp.unix_timestamp_nanos() / 1_000) as i64;
            let waited = Duration::from_micros(
                crate::time::now_micros().saturating_sub(last_micros).max(0) as u64,
            );
            let window = info.config.duplicate_window;
            if state.messages > 0 && !dry_run && waited < window {
                return Err(Error::precondition(
                    "DUPLICATE_WINDOW",
                    "to",
                    format!(
                        "{name} took an event {} s ago: with Markaz stopped, wait {} s more, \
                         or a restored outbox's events published again would be taken for \
                         duplicates of the removed ones and dropped",
                        waited.as_secs(),
                        (window - waited).as_secs() + 1
                    ),
                ));
            }
            let (first_after, removed) = self.after(&stream, &name, cut).await?;
            if !dry_run && let Some(first) = first_after {
                for seq in first..=state.last_sequence {
                    // A sequence already gone (an earlier rewind) is fine.
                    let _ = stream.delete_message(seq).await;
                }
            }
            let mut consumers = Vec::new();
            let mut listed = stream.consumers();
            let mut configs = Vec::new();
            while let Some(c) = listed.next().await {
                let c = c.map_err(|e| unavailable(&name, e))?;
                if c.config.durable_name.is_some() {
                    configs.push(c.config);
                }
            }
            for config in configs {
                let durable = config.durable_name.clone().unwrap_or_default();
                if !dry_run {
                    stream
                        .delete_consumer(&durable)
                        .await
                        .map_err(|e| unavailable(&durable, e))?;
                    let again = pull::Config {
                        durable_name: Some(durable.clone()),
                        filter_subject: config.filter_subject.clone(),
                        ack_policy: config.ack_policy,
                        deliver_policy: DeliverPolicy::ByStartTime {
                            start_time: restart,
                        },
                        ack_wait: config.ack_wait,
                        max_deliver: config.max_deliver,
                        max_ack_pending: config.max_ack_pending,
                        num_replicas: config.num_replicas,
                        ..Default::default()
                    };
                    stream
                        .create_consumer(again)
                        .await
                        .map_err(|e| unavailable(&durable, e))?;
                }
                consumers.push(durable);
            }
            done.push(Rewound {
                stream: name,
                removed,
                consumers,
            });
        }
        Ok(done)
    }

    /// The sequence of the first message stored after `cut`, if any, and
    /// how many are: what an ephemeral consumer starting just after it
    /// delivers first, and has pending.
    async fn after(
        &self,
        stream: &async_nats::jetstream::stream::Stream,
        name: &str,
        cut: async_nats::datetime::DateTime,
    ) -> Result<(Option<u64>, u64)> {
        let start_time = async_nats::datetime::add_std_duration(cut, Duration::from_nanos(1))
            .map_err(|e| Error::invalid("to", e.to_string()))?;
        let probe = stream
            .create_consumer(pull::Config {
                deliver_policy: DeliverPolicy::ByStartTime { start_time },
                ack_policy: AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .map_err(|e| unavailable(name, e))?;
        let pending = probe.get_info().await.map_err(|e| unavailable(name, e))?;
        let first = if pending.num_pending == 0 {
            None
        } else {
            let mut batch = probe
                .fetch()
                .max_messages(1)
                .expires(Duration::from_secs(5))
                .messages()
                .await
                .map_err(|e| unavailable(name, e))?;
            match batch.next().await {
                Some(Ok(m)) => Some(m.info().map_err(|e| unavailable(name, e))?.stream_sequence),
                Some(Err(e)) => return Err(unavailable(name, e)),
                None => {
                    return Err(unavailable(
                        name,
                        "the first event after the instant did not come",
                    ));
                }
            }
        };
        let _ = stream.delete_consumer(&pending.name).await;
        Ok((first, pending.num_pending))
    }
}
