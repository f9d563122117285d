//! The load generator: closed loop for the highest throughput, open loop at a
//! fixed rate for honest latency.
//!
//! In a **closed loop** each of `concurrency` workers sends its next request
//! when the previous one answered; throughput is what the server sustains.
//! Its latencies flatter a stalled server: while it stalls, no worker sends,
//! so the stall is counted once instead of for every request that should
//! have been sent (coordinated omission).
//!
//! In an **open loop** requests are due at fixed times (`rate` per second)
//! whether or not earlier ones answered, and each latency is measured from
//! the request's *intended* send time. A stall then shows in the tail for
//! every request it delayed.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// One request of a scenario: `Ok` or the gRPC code it failed with.
pub type Call =
    Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = Result<(), tonic::Code>> + Send>> + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Closed,
    Open,
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub mode: Mode,
    /// Workers in a closed loop; the cap on requests in flight in an open one.
    pub concurrency: usize,
    /// Requests per second in an open loop.
    pub rate: f64,
    pub duration: Duration,
    /// Sent but not measured: connections warm, caches filled.
    pub warmup: Duration,
    /// A progress line on stderr when it is a terminal.
    pub progress: bool,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub elapsed: Duration,
    /// Microseconds.
    pub latency: Histogram<u64>,
}

impl Outcome {
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Latency at `q` (0..1) in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds")
}

struct Shared {
    latency: Mutex<Histogram<u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    ok: AtomicU64,
    sent: AtomicU64,
    /// When the last measured request completed, in µs from the start.
    last_done: AtomicU64,
}

impl Shared {
    fn done_at(&self, micros_from_start: u64) {
        self.last_done
            .fetch_max(micros_from_start, Ordering::Relaxed);
    }

    async fn record(&self, result: Result<(), tonic::Code>, micros: u64, measured: bool) {
        if !measured {
            return;
        }
        match result {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                let _ = self.latency.lock().await.record(micros.max(1));
            }
            Err(code) => {
                *self
                    .errors
                    .lock()
                    .await
                    .entry(format!("{code:?}"))
                    .or_default() += 1;
            }
        }
    }
}

/// Runs `call` under `options`; the measured window starts after the warm-up.
/// `on_measure_start` is called at that moment (to sample server CPU).
pub async fn run(call: Call, options: &LoadOptions, on_measure_start: impl FnOnce()) -> Outcome {
    let shared = Arc::new(Shared {
        latency: Mutex::new(histogram()),
        errors: Mutex::new(BTreeMap::new()),
        ok: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        last_done: AtomicU64::new(0),
    });
    let start = Instant::now();
    let measure_from = start + options.warmup;
    let end = measure_from + options.duration;
    let progress = options.progress && std::io::stderr().is_terminal();
    let ticker = progress.then(|| tokio::spawn(show_progress(shared.clone(), measure_from, end)));

    let mut on_start = Some(on_measure_start);
    let sample = async {
        tokio::time::sleep_until(measure_from).await;
        if let Some(f) = on_start.take() {
            f();
        }
    };
    match options.mode {
        Mode::Closed => {
            let workers: Vec<_> = (0..options.concurrency.max(1))
                .map(|w| {
                    let call = call.clone();
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let mut i = w as u64;
                        loop {
                            let sent = Instant::now();
                            if sent >= end {
                                break;
                            }
                            let result = call(i).await;
                            let done = Instant::now();
                            shared.sent.fetch_add(1, Ordering::Relaxed);
                            // A request sent in the window counts even if it
                            // answers after it: dropping it would hide the
                            // slowest tail.
                            let measured = sent >= measure_from;
                            if measured {
                                shared.done_at((done - start).as_micros() as u64);
                            }
                            shared
                                .record(result, (done - sent).as_micros() as u64, measured)
                                .await;
                            i += 1 << 20;
                        }
                    })
                })
                .collect();
            sample.await;
            for w in workers {
                let _ = w.await;
            }
        }
        Mode::Open => {
            let limit = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
            let interval = Duration::from_secs_f64(1.0 / options.rate.max(0.001));
            let mut in_flight = Vec::new();
            let dispatch = async {
                let mut i: u64 = 0;
                loop {
                    let intended = start + interval.mul_f64(i as f64);
                    if intended >= end {
                        break;
                    }
                    if intended > Instant::now() {
                        tokio::time::sleep_until(intended).await;
                    }
                    // Waiting for a free slot delays the send, and the delay
                    // counts: latency runs from the intended time.
                    let permit = limit.clone().acquire_owned().await.expect("semaphore");
                    let call = call.clone();
                    let shared = shared.clone();
                    in_flight.push(tokio::spawn(async move {
                        let result = call(i).await;
                        let done = Instant::now();
                        drop(permit);
                        shared.sent.fetch_add(1, Ordering::Relaxed);
                        let measured = intended >= measure_from;
                        if measured {
                            shared.done_at((done - start).as_micros() as u64);
                        }
                        shared
                            .record(result, (done - intended).as_micros() as u64, measured)
                            .await;
                    }));
                    if in_flight.len() > 4096 {
                        in_flight.retain(|h: &tokio::task::JoinHandle<()>| !h.is_finished());
                    }
                    i += 1;
                }
            };
            tokio::join!(dispatch, sample);
            for h in in_flight {
                let _ = h.await;
            }
        }
    }
    if let Some(t) = ticker {
        t.abort();
        eprint!("\r{:80}\r", "");
    }
    let latency = shared.latency.lock().await.clone();
    let errors = shared.errors.lock().await.clone();
    Outcome {
        ok: shared.ok.load(Ordering::Relaxed),
        errors,
        // The window runs until the last measured answer: a server that
        // falls behind an open loop's rate shows as lower throughput, not as
        // the rate offered.
        elapsed: {
            let last = Duration::from_micros(shared.last_done.load(Ordering::Relaxed));
            (last.saturating_sub(options.warmup)).max(options.duration)
        },
        latency,
    }
}

async fn show_progress(shared: Arc<Shared>, measure_from: Instant, end: Instant) {
    let total = (end - measure_from).as_secs_f64();
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = Instant::now();
        let sent = shared.sent.load(Ordering::Relaxed);
        let phase = if now < measure_from {
            "warm-up".to_string()
        } else {
            format!("{:>4.0}/{total:.0} s", (now - measure_from).as_secs_f64())
        };
        eprint!(
            "\r  [{phase}] {sent:>9} requests, {:>7}/s, {} errors   ",
            sent - last,
            shared.errors.lock().await.values().sum::<u64>()
        );
        last = sent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper(ms: u64) -> Call {
        Arc::new(move |_| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(())
            })
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_loop_sends_as_fast_as_answers_come() {
        let options = LoadOptions {
            mode: Mode::Closed,
            concurrency: 4,
            rate: 0.0,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            progress: false,
        };
        let out = run(sleeper(10), &options, || {}).await;
        // 4 workers × 100 requests of 10 ms in one second.
        assert!((396..=400).contains(&out.ok), "{}", out.ok);
        assert!((out.ms(0.5) - 10.0).abs() < 0.05, "{}", out.ms(0.5));
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_loop_charges_a_stall_to_every_request_it_delayed() {
        // One slot in flight and requests due every 10 ms, each taking 20 ms:
        // the server keeps falling behind, and the measured latency grows from
        // the intended send time instead of staying at 20 ms.
        let options = LoadOptions {
            mode: Mode::Open,
            concurrency: 1,
            rate: 100.0,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            progress: false,
        };
        let out = run(sleeper(20), &options, || {}).await;
        assert!(out.ms(0.99) > 400.0, "p99 {} ms", out.ms(0.99));
        assert!(out.ms(0.0) >= 20.0);
        // 100 requests offered in one second, answered over two: 50/s.
        assert!(out.throughput() < 60.0, "{}", out.throughput());
    }
}
