//! What a request may cost the process before its handler runs.
//!
//! tonic buffers a request message whole before decoding it, so a client
//! that declares a large message and then sends it slowly, on many streams
//! at once, makes the server hold all of it. The gate wraps every admitted
//! request body in a [`GuardedBody`] that reads the gRPC framing as the
//! bytes arrive:
//!
//! * a message whose declared length is over the method's limit is refused
//!   the moment its 5-byte header arrives (RESOURCE_EXHAUSTED, gRPC's code
//!   for it), not once 4 MiB of it were buffered — public methods have a
//!   limit of their own, [`PUBLIC_MESSAGE_BYTES`];
//! * the bytes of messages still arriving are counted against a budget per
//!   connection and one for the whole process ([`InFlight`]); a request that
//!   would go over is refused, and the others go on being served.
//!
//! A message counts from its first byte until its last one arrived; then
//! tonic decodes it and hands it to the handler, and it no longer counts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};

/// The largest message a public method (no credential) decodes: what a
/// certificate check or a training suggestion needs, with room to spare.
pub const PUBLIC_MESSAGE_BYTES: usize = 16 * 1024;

/// The budgets of request bytes not yet decoded.
#[derive(Debug)]
pub struct InFlight {
    process_limit: usize,
    connection_limit: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    process: usize,
    connections: HashMap<SocketAddr, usize>,
}

impl InFlight {
    pub fn new(process_limit: usize, connection_limit: usize) -> Arc<InFlight> {
        Arc::new(InFlight {
            process_limit,
            connection_limit,
            state: Mutex::default(),
        })
    }

    /// Takes `n` more bytes for `connection`, if both budgets allow.
    fn take(&self, connection: Option<SocketAddr>, n: usize) -> bool {
        let mut s = self.state.lock().expect("in-flight lock");
        if s.process + n > self.process_limit {
            return false;
        }
        if let Some(c) = connection {
            let used = s.connections.get(&c).copied().unwrap_or(0);
            if used + n > self.connection_limit {
                return false;
            }
            s.connections.insert(c, used + n);
        }
        s.process += n;
        true
    }

    fn give_back(&self, connection: Option<SocketAddr>, n: usize) {
        if n == 0 {
            return;
        }
        let mut s = self.state.lock().expect("in-flight lock");
        s.process = s.process.saturating_sub(n);
        if let Some(c) = connection
            && let Some(used) = s.connections.get_mut(&c)
        {
            *used = used.saturating_sub(n);
            if *used == 0 {
                s.connections.remove(&c);
            }
        }
    }

    /// Bytes counted now, in the whole process.
    pub fn in_use(&self) -> usize {
        self.state.lock().expect("in-flight lock").process
    }
}

/// A request body read through the gRPC framing, within its limits.
pub struct GuardedBody {
    inner: tonic::body::Body,
    /// The largest message this method decodes.
    limit: usize,
    budget: Arc<InFlight>,
    connection: Option<SocketAddr>,
    /// The header bytes of the next message seen so far.
    header: [u8; 5],
    header_seen: usize,
    /// Bytes of the current message still to come.
    remaining: usize,
    /// Bytes of the current message counted against the budget.
    counted: usize,
    /// The caller's write budget the bytes are taken from, for a write.
    writer: Option<(Arc<super::budget::WriteBudget>, String)>,
}

impl GuardedBody {
    pub fn new(
        inner: tonic::body::Body,
        limit: usize,
        budget: Arc<InFlight>,
        connection: Option<SocketAddr>,
    ) -> GuardedBody {
        GuardedBody {
            inner,
            limit,
            budget,
            connection,
            header: [0; 5],
            header_seen: 0,
            remaining: 0,
            counted: 0,
            writer: None,
        }
    }

    /// Takes the body's bytes, as they arrive, from `writer`'s write budget.
    pub fn charging(mut self, budget: Arc<super::budget::WriteBudget>, writer: String) -> Self {
        self.writer = Some((budget, writer));
        self
    }

    /// Follows the framing through `data`; an error once a limit is passed.
    fn follow(&mut self, data: &Bytes) -> Result<(), tonic::Status> {
        let mut rest = data.clone();
        while rest.has_remaining() {
            if self.remaining == 0 && self.header_seen < 5 {
                let take = (5 - self.header_seen).min(rest.remaining());
                rest.copy_to_slice(&mut self.header[self.header_seen..self.header_seen + take]);
                self.header_seen += take;
                self.count(take)?;
                if self.header_seen == 5 {
                    let declared = u32::from_be_bytes([
                        self.header[1],
                        self.header[2],
                        self.header[3],
                        self.header[4],
                    ]) as usize;
                    if declared > self.limit {
                        return Err(tonic::Status::resource_exhausted(format!(
                            "a request message of {declared} bytes; this method takes at most {}",
                            self.limit
                        )));
                    }
                    self.remaining = declared;
                    if declared == 0 {
                        self.message_done();
                    }
                }
                continue;
            }
            let take = self.remaining.min(rest.remaining());
            rest.advance(take);
            self.remaining -= take;
            self.count(take)?;
            if self.remaining == 0 {
                self.message_done();
            }
        }
        Ok(())
    }

    fn count(&mut self, n: usize) -> Result<(), tonic::Status> {
        if !self.budget.take(self.connection, n) {
            return Err(tonic::Status::resource_exhausted(
                "the server holds too many request bytes not yet received in full; retry",
            ));
        }
        self.counted += n;
        Ok(())
    }

    /// The message arrived whole: tonic decodes it now, and its bytes stop
    /// counting against the budgets.
    fn message_done(&mut self) {
        self.budget
            .give_back(self.connection, std::mem::take(&mut self.counted));
        self.header_seen = 0;
    }
}

impl Drop for GuardedBody {
    fn drop(&mut self) {
        self.budget.give_back(self.connection, self.counted);
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if let Err(refused) = self.follow(data) {
                        return Poll::Ready(Some(Err(refused)));
                    }
                    if let Some((budget, writer)) = &self.writer {
                        budget.charge(writer, data.len());
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(len: u32, body: &[u8]) -> Bytes {
        let mut b = vec![0u8];
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(body);
        Bytes::from(b)
    }

    fn guarded(limit: usize, budget: &Arc<InFlight>) -> GuardedBody {
        GuardedBody::new(
            tonic::body::Body::empty(),
            limit,
            budget.clone(),
            Some("127.0.0.1:1".parse().unwrap()),
        )
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_at_its_header() {
        let budget = InFlight::new(1 << 20, 1 << 20);
        let mut body = guarded(1024, &budget);
        let refused = body.follow(&framed(4 << 20, b"")).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert_eq!(budget.in_use(), 5, "only the header was read");
    }

    #[test]
    fn messages_count_until_they_arrived_whole_then_not_at_all() {
        let budget = InFlight::new(1 << 20, 100);
        let mut body = guarded(1 << 20, &budget);
        // A header split across chunks, then the body in two parts.
        body.follow(&Bytes::from_static(&[0, 0, 0])).unwrap();
        body.follow(&Bytes::from_static(&[0, 50])).unwrap();
        body.follow(&Bytes::from(vec![1u8; 20])).unwrap();
        assert_eq!(budget.in_use(), 25);
        body.follow(&Bytes::from(vec![1u8; 30])).unwrap();
        assert_eq!(budget.in_use(), 0, "a whole message no longer counts");
        // Two messages in one chunk, the second partial.
        let mut chunk = framed(3, b"abc").to_vec();
        chunk.extend_from_slice(&framed(90, &[2; 10]));
        body.follow(&Bytes::from(chunk)).unwrap();
        assert_eq!(budget.in_use(), 15);
        // The connection's budget is 100: the rest of that message won't fit.
        let other = guarded(1 << 20, &budget);
        drop(other);
        assert!(body.follow(&Bytes::from(vec![2u8; 90])).is_err());
        drop(body);
        assert_eq!(budget.in_use(), 0, "a dropped body gives back what it held");
    }
}
