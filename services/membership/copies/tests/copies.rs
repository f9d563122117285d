//! The copies, applied from membership's events on both databases, through
//! the real inbox and handler: out of order, twice, erased, malformed.

use std::sync::{Arc, Mutex};

use markaz_kit::app::{Service, ServiceContext};
use markaz_kit::both_backends;
use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::events::{Applied, Consumer, Router, apply, apply_all, envelope};
use markaz_kit::migrate::{Migration, MigrationSet};
use markaz_kit::testing::{Backend, TestApp, spawn};
use markaz_membership_copies::{Change, Reactions, is_affiliated, organization, person};
use markaz_proto::common::v1::{
    AgeBand, Gender, IncubationStatus, LocalizedText, OrganizationKind,
};
use markaz_proto::events::v1 as ev;

const TENANT: &str = "copies-tenant";
const ORG: &str = "0190d3b4-5c1a-7000-8000-000000000001";
const PERSON: &str = "0190d3b4-5c1a-7000-8000-000000000002";
const AFFILIATION: &str = "0190d3b4-5c1a-7000-8000-000000000003";

/// A consumer with nothing of its own but the copies; it remembers every
/// change the library reported.
#[derive(Default)]
struct Copier {
    changes: Arc<Mutex<Vec<Change>>>,
}

#[markaz_kit::async_trait]
impl Reactions for Copier {
    async fn react(&self, _: &mut Tx, change: &Change) -> Result<()> {
        self.changes.lock().unwrap().push(change.clone());
        Ok(())
    }
}

struct CopierService {
    changes: Arc<Mutex<Vec<Change>>>,
}

impl Service for CopierService {
    fn name(&self) -> &'static str {
        "copier"
    }
    fn migrations(&self) -> &'static [Migration] {
        &[]
    }
    fn libraries(&self) -> &'static [MigrationSet] {
        &[markaz_membership_copies::MIGRATIONS]
    }
    fn register(
        &self,
        _: &ServiceContext,
        _: &mut tonic::service::RoutesBuilder,
    ) -> Vec<&'static str> {
        Vec::new()
    }
    fn consumer(&self, _: &ServiceContext) -> Option<(Consumer, Vec<&'static str>)> {
        let router = markaz_membership_copies::routes(Router::new(Copier {
            changes: self.changes.clone(),
        }));
        Some((
            Consumer {
                name: "copier",
                handler: Arc::new(router),
            },
            vec![markaz_membership_copies::PRODUCER],
        ))
    }
}

struct World {
    app: TestApp,
    changes: Arc<Mutex<Vec<Change>>>,
}

async fn world(backend: Backend) -> World {
    let changes = Arc::new(Mutex::new(Vec::new()));
    let app = spawn(
        backend,
        vec![Arc::new(CopierService {
            changes: changes.clone(),
        })],
    )
    .await;
    World { app, changes }
}

impl World {
    async fn feed<E: prost::Name>(&self, event: &E) -> Result<Applied> {
        let db = self.app.app.db("copier").unwrap();
        let consumer = self.app.app.consumer("copier").unwrap();
        apply(db, consumer, &envelope("membership", TENANT, event)).await
    }

    async fn tx(&self) -> Tx {
        self.app
            .app
            .db("copier")
            .unwrap()
            .read(TENANT)
            .await
            .unwrap()
    }

    fn last_change(&self) -> Change {
        self.changes
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a change")
    }
}

fn org_snapshot(name: &str, status: IncubationStatus, version: i64) -> ev::OrganizationSnapshot {
    ev::OrganizationSnapshot {
        id: ORG.into(),
        identifier: "RAQ-7".into(),
        kind: OrganizationKind::Cso as i32,
        name: Some(LocalizedText {
            ar: format!("جمعية {name}"),
            en: name.into(),
        }),
        governorate: "Raqqa".into(),
        branch_id: "raqqa".into(),
        sectors: vec![],
        incubation_status: status as i32,
        version,
    }
}

fn person_snapshot(name: &str, gender: Gender, version: i64) -> ev::PersonSnapshot {
    ev::PersonSnapshot {
        id: PERSON.into(),
        full_name: name.into(),
        gender: gender as i32,
        age_band: AgeBand::AgeBand1824 as i32,
        branch_id: "raqqa".into(),
        version,
    }
}

both_backends!(
    organizations_follow_versions_whatever_the_order,
    an_erased_person_never_gets_a_name_back,
    an_ended_affiliation_stays_ended,
    malformed_events_are_refused_not_dropped,
    a_batch_says_when_it_committed,
);

async fn organizations_follow_versions_whatever_the_order(backend: Backend) {
    let w = world(backend).await;
    // The incubation change (version 3) comes before the registration.
    w.feed(&ev::IncubationStatusChanged {
        organization_id: ORG.into(),
        from: IncubationStatus::Applicant as i32,
        to: IncubationStatus::Incubated as i32,
        version: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let partial = organization(&mut w.tx().await, ORG).await.unwrap().unwrap();
    assert!(!partial.is_complete());
    assert_eq!(partial.incubation_status, IncubationStatus::Incubated);
    w.feed(&ev::OrganizationRegistered {
        organization: Some(org_snapshot("Euphrates", IncubationStatus::Applicant, 1)),
    })
    .await
    .unwrap();
    let copy = organization(&mut w.tx().await, ORG).await.unwrap().unwrap();
    assert!(copy.is_complete());
    assert_eq!(copy.name.ar, "جمعية Euphrates", "Arabic kept byte for byte");
    assert_eq!(
        copy.incubation_status,
        IncubationStatus::Incubated,
        "an older snapshot does not take the status back"
    );
    // A newer update replaces the fields; an older one changes nothing.
    w.feed(&ev::OrganizationUpdated {
        organization: Some(org_snapshot(
            "Euphrates Youth",
            IncubationStatus::Incubated,
            4,
        )),
    })
    .await
    .unwrap();
    assert!(
        matches!(w.last_change(), Change::Organization { took: true, .. }),
        "a newer update takes"
    );
    w.feed(&ev::OrganizationUpdated {
        organization: Some(org_snapshot("stale", IncubationStatus::Applicant, 2)),
    })
    .await
    .unwrap();
    let copy = organization(&mut w.tx().await, ORG).await.unwrap().unwrap();
    assert_eq!(copy.name.en, "Euphrates Youth");
    assert_eq!(copy.fields_version, 4);
    let Change::Organization { took, after } = w.last_change() else {
        panic!("an organization change")
    };
    assert!(!took, "the stale update is told it did not take");
    assert_eq!(
        after.name.en, "Euphrates Youth",
        "the stale update changed nothing"
    );
    assert_eq!(after.fields_version, 4);
    // The same event twice: one effect, one reaction.
    let again = ev::OrganizationUpdated {
        organization: Some(org_snapshot(
            "Euphrates Youth",
            IncubationStatus::Incubated,
            5,
        )),
    };
    let once = envelope("membership", TENANT, &again);
    let db = w.app.app.db("copier").unwrap();
    let consumer = w.app.app.consumer("copier").unwrap();
    let reactions = w.changes.lock().unwrap().len();
    assert_eq!(apply(db, consumer, &once).await.unwrap(), Applied::Applied);
    assert_eq!(
        apply(db, consumer, &once).await.unwrap(),
        Applied::Duplicate
    );
    assert_eq!(w.changes.lock().unwrap().len(), reactions + 1);
}

async fn an_erased_person_never_gets_a_name_back(backend: Backend) {
    let w = world(backend).await;
    w.feed(&ev::PersonRegistered {
        person: Some(person_snapshot("Nadia Karimova", Gender::Female, 1)),
    })
    .await
    .unwrap();
    w.feed(&ev::PersonErased {
        person_id: PERSON.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        w.last_change(),
        Change::PersonErased {
            person_id: PERSON.into(),
        },
        "the consumer learns whom to erase from its own records"
    );
    // A late update arrives after the erasure: no name, the figures' fields stay.
    w.feed(&ev::PersonUpdated {
        person: Some(person_snapshot("Nadia K.", Gender::Female, 2)),
    })
    .await
    .unwrap();
    let copy = person(&mut w.tx().await, PERSON).await.unwrap().unwrap();
    assert!(copy.erased);
    assert_eq!(copy.full_name, "");
    assert_eq!(copy.gender, Gender::Female);
    assert_eq!(copy.age_band, AgeBand::AgeBand1824);
}

async fn an_ended_affiliation_stays_ended(backend: Backend) {
    let w = world(backend).await;
    // The end comes first.
    w.feed(&ev::AffiliationEnded {
        affiliation_id: AFFILIATION.into(),
        person_id: PERSON.into(),
        organization_id: ORG.into(),
    })
    .await
    .unwrap();
    w.feed(&ev::PersonAffiliated {
        affiliation_id: AFFILIATION.into(),
        person_id: PERSON.into(),
        organization_id: ORG.into(),
        role: "treasurer".into(),
    })
    .await
    .unwrap();
    assert!(!is_affiliated(&mut w.tx().await, PERSON, ORG).await.unwrap());
    let other = "0190d3b4-5c1a-7000-8000-000000000009";
    w.feed(&ev::PersonAffiliated {
        affiliation_id: other.into(),
        person_id: PERSON.into(),
        organization_id: ORG.into(),
        role: String::new(),
    })
    .await
    .unwrap();
    assert!(is_affiliated(&mut w.tx().await, PERSON, ORG).await.unwrap());
}

async fn malformed_events_are_refused_not_dropped(backend: Backend) {
    let w = world(backend).await;
    let refused = |r: Result<Applied>| matches!(r, Err(Error::InvalidArgument(_)));
    assert!(refused(
        w.feed(&ev::OrganizationRegistered { organization: None })
            .await
    ));
    assert!(refused(w.feed(&ev::PersonUpdated { person: None }).await));
    let mut no_id = person_snapshot("x", Gender::Male, 1);
    no_id.id = "not-an-id".into();
    assert!(refused(
        w.feed(&ev::PersonRegistered {
            person: Some(no_id)
        })
        .await
    ));
    assert!(refused(
        w.feed(&ev::PersonErased {
            person_id: String::new(),
            ..Default::default()
        })
        .await
    ));
    assert!(refused(
        w.feed(&ev::PersonAffiliated {
            affiliation_id: AFFILIATION.into(),
            person_id: PERSON.into(),
            organization_id: "42".into(),
            role: String::new(),
        })
        .await
    ));
    assert!(w.changes.lock().unwrap().is_empty(), "nothing was applied");
}

/// Events applied together commit together: each inbox row says when that
/// was, after the last handler, and a later batch leaves an earlier one's
/// rows as they are.
async fn a_batch_says_when_it_committed(backend: Backend) {
    let w = world(backend).await;
    let db = w.app.app.db("copier").unwrap();
    let consumer = w.app.app.consumer("copier").unwrap();
    let processed_at = |ids: Vec<String>| {
        let w = &w;
        async move {
            let mut tx = w.tx().await;
            let mut times = Vec::new();
            for id in ids {
                let t: i64 = sqlx::query_scalar(
                    "SELECT processed_at FROM markaz_inbox
                     WHERE consumer = 'copier' AND event_id = $1",
                )
                .bind(id)
                .fetch_one(tx.conn())
                .await
                .unwrap();
                times.push(t);
            }
            times
        }
    };
    let first = [
        envelope(
            "membership",
            TENANT,
            &ev::OrganizationRegistered {
                organization: Some(org_snapshot("Euphrates", IncubationStatus::Applicant, 1)),
            },
        ),
        envelope(
            "membership",
            TENANT,
            &ev::PersonRegistered {
                person: Some(person_snapshot("نادية كريموفا", Gender::Female, 1)),
            },
        ),
    ];
    let started = markaz_kit::time::now_micros();
    let outcomes = apply_all(db, consumer, TENANT, &first.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    let finished = markaz_kit::time::now_micros();
    assert_eq!(outcomes, vec![Applied::Applied, Applied::Applied]);
    let ids = |batch: &[markaz_proto::events::v1::Envelope]| {
        batch.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    };
    let times = processed_at(ids(&first)).await;
    assert_eq!(times[0], times[1], "one commit, one time");
    assert!(
        (started..=finished).contains(&times[0]),
        "the time of the batch's end, not a mark: {times:?} outside {started}..={finished}"
    );
    // The same events again, with a new one: only the new one is applied,
    // and the first batch's rows keep their time.
    let second = [
        first[0].clone(),
        envelope(
            "membership",
            TENANT,
            &ev::PersonUpdated {
                person: Some(person_snapshot("نادية", Gender::Female, 2)),
            },
        ),
    ];
    let outcomes = apply_all(db, consumer, TENANT, &second.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(outcomes, vec![Applied::Duplicate, Applied::Applied]);
    assert_eq!(processed_at(ids(&first)).await, times);
    let later = processed_at(ids(&second[1..])).await;
    assert!(later[0] >= times[0]);
    let copy = person(&mut w.tx().await, PERSON).await.unwrap().unwrap();
    assert_eq!(copy.full_name, "نادية", "Arabic kept byte for byte");
    // The bus may deliver one event twice within a batch: it takes effect
    // once, and the batch's other events as well.
    let renamed = envelope(
        "membership",
        TENANT,
        &ev::PersonUpdated {
            person: Some(person_snapshot("نادية ك.", Gender::Female, 3)),
        },
    );
    let third = [renamed.clone(), renamed, second[1].clone()];
    let outcomes = apply_all(db, consumer, TENANT, &third.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        vec![Applied::Applied, Applied::Duplicate, Applied::Duplicate]
    );
    let copy = person(&mut w.tx().await, PERSON).await.unwrap().unwrap();
    assert_eq!(copy.full_name, "نادية ك.");
    assert_eq!(copy.version, 3);
}
