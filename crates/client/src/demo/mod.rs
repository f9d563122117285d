//! `markaz demo seed`: the center of the source document rebuilt through
//! the public gRPC APIs of a running Markaz, as the caller of the token
//! (an admin of the tenant: `markaz dev` prints one for `demo`).
//!
//! What is made is in [`center`]; the seeder makes it true, service by
//! service, in the order their events need: membership's branches,
//! organizations, people and affiliations first (the others keep copies of
//! them), then capacity's courses and consultations, grants' round,
//! networking's events, coalitions and campaigns, resources' library and
//! bookings, and last the graduations and withdrawals.
//!
//! **Run twice, it creates nothing the second time.** Every object is
//! looked up first by what the plan names it — a branch by id, an
//! organization, person, course, call, event, coalition, campaign, item or
//! space by its Arabic name or title, a consultation or booking by the
//! `[demo:…]` key in its notes, an enrolment or proposal by who it is for —
//! and only what is missing is created, each create with a request id
//! derived from the plan (`demo-…`), so a retry after a lost answer
//! replays rather than duplicates. A life cycle (a course, a proposal, an
//! award, an event, a campaign) is taken from wherever it stands to the
//! plan's end, so an interrupted run finishes where the first one stopped.
//! Dates are chosen when an object is created: a second run on another day
//! finds the first run's objects and leaves their dates alone.

mod capacity;
pub mod center;
mod grants;
mod membership;
mod networking;
mod resources;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use markaz_kit::time::Date;
use markaz_proto::common::v1::LocalizedText;

use crate::progress::Progress;
use crate::rpc::Api;
use center::Calendar;

/// Requests in flight.
const WIDTH: usize = 8;

/// What a run did: per kind of object, how many it created and how many it
/// found made already.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub created: BTreeMap<&'static str, usize>,
    pub found: BTreeMap<&'static str, usize>,
    /// The days the seeded activity spans: courses, consultations and
    /// projects before today; grants completed and incubation moves made
    /// today (they count on the day they are made); the bookings of the
    /// coming days.
    pub first_day: Option<Date>,
    pub last_day: Option<Date>,
}

impl Summary {
    pub fn created_total(&self) -> usize {
        self.created.values().sum()
    }
}

/// What every step shares: the connection, the progress bar, the tally
/// and the calendar.
pub(crate) struct Seed {
    pub api: Api,
    pub progress: Progress,
    pub cal: Calendar,
    tally: Mutex<Summary>,
}

impl Seed {
    pub fn created(&self, kind: &'static str) {
        *self
            .tally
            .lock()
            .expect("tally lock")
            .created
            .entry(kind)
            .or_default() += 1;
    }

    pub fn found(&self, kind: &'static str) {
        *self
            .tally
            .lock()
            .expect("tally lock")
            .found
            .entry(kind)
            .or_default() += 1;
    }
}

/// A request id from the plan's key: the same object, the same id.
pub(crate) fn rid(key: &str) -> String {
    format!("demo-{key}")
}

pub(crate) fn text(ar: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        ar: ar.into(),
        en: en.into(),
    })
}

pub(crate) fn ar_of(t: &Option<LocalizedText>) -> String {
    t.as_ref().map(|t| t.ar.clone()).unwrap_or_default()
}

/// Runs `job(0..n)` with [`WIDTH`] in flight, ticking the progress bar per
/// job; the results in order, or the first error.
pub(crate) async fn parallel<T, F, Fut>(
    seed: &Arc<Seed>,
    n: usize,
    job: F,
) -> Result<Vec<T>, String>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let job = Arc::new(job);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WIDTH.min(n.max(1)) {
        let (job, seed) = (job.clone(), seed.clone());
        tasks.spawn(async move {
            let mut made = Vec::new();
            let mut i = w;
            while i < n {
                made.push((i, job(i).await?));
                seed.progress.tick();
                i += WIDTH;
            }
            Ok::<_, String>(made)
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        match done.map_err(|e| e.to_string())? {
            Ok(made) => all.extend(made),
            Err(e) => {
                tasks.abort_all();
                return Err(e);
            }
        }
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

/// Seeds the center for the tenant of `api`'s token, as of `today`.
pub async fn seed(api: Api, today: Date, progress: Progress) -> Result<Summary, String> {
    let seed = Arc::new(Seed {
        api,
        progress,
        cal: Calendar::of(today),
        tally: Mutex::new(Summary::default()),
    });
    let result = run(&seed).await;
    seed.progress.finish();
    result?;
    let mut summary = seed.tally.lock().expect("tally lock").clone();
    summary.first_day = Some(seed.cal.first);
    summary.last_day = center::bookings(seed.cal.today)
        .iter()
        .map(|b| b.2)
        .max()
        .or(Some(seed.cal.today));
    Ok(summary)
}

async fn run(seed: &Arc<Seed>) -> Result<(), String> {
    // The whole run's steps up front, so the bar only ever fills.
    seed.progress.add(
        membership::steps()
            + capacity::steps(&seed.cal)
            + grants::steps()
            + networking::steps(&seed.cal)
            + resources::steps(&seed.cal),
    );
    let ids = membership::seed(seed).await?;
    let ids = Arc::new(ids);
    capacity::seed(seed, &ids).await?;
    let awards = grants::seed(seed, &ids).await?;
    networking::seed(seed, &ids, &awards).await?;
    resources::seed(seed, &ids).await?;
    membership::finish(seed, &ids).await?;
    Ok(())
}

/// Membership's ids of the plan's records.
#[derive(Debug, Default)]
pub(crate) struct Ids {
    /// By index into [`center::ORGS`].
    pub orgs: Vec<String>,
    /// By index into [`center::people`].
    pub people: Vec<String>,
    /// The organization of each person, by the same index.
    pub person_org: Vec<String>,
}
