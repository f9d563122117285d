//! The scenarios: what one request of each is, and the baselines they are
//! measured against.

use std::sync::Arc;
use std::time::Duration;

use markaz_proto::capacity::v1 as capacity;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::common::v1::{Gender, LocalizedText, OrganizationKind, Sector};
use markaz_proto::membership::v1 as membership;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use markaz_proto::platform::v1 as platform;
use markaz_proto::platform::v1::platform_service_client::PlatformServiceClient;
use tonic::transport::Channel;

use crate::engine::Call;
use crate::server::BenchResult;
use crate::target::{Kind, Target};

/// Every scenario `markaz bench` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// A bare tonic server: the cost of gRPC alone.
    Echo,
    /// An authenticated no-op through the whole stack.
    Noop,
    /// CreateOrganization.
    Create,
    /// GetOrganization of seeded organizations.
    Get,
    /// A busy center's mix of reads and writes.
    Mixed,
    /// The transaction `create` performs, straight to the database.
    DbBaseline,
    /// The row `get` reads, straight from the database.
    Select,
    /// Commit-to-applied latency across services, and backlog drain.
    Events,
    /// A center's records seeded at a size, then each list and report RPC.
    Scale,
}

impl Scenario {
    pub const ALL: [Scenario; 9] = [
        Scenario::Echo,
        Scenario::Noop,
        Scenario::Create,
        Scenario::Get,
        Scenario::Mixed,
        Scenario::DbBaseline,
        Scenario::Select,
        Scenario::Events,
        Scenario::Scale,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Echo => "echo",
            Scenario::Noop => "noop",
            Scenario::Create => "create",
            Scenario::Get => "get",
            Scenario::Mixed => "mixed",
            Scenario::DbBaseline => "db-baseline",
            Scenario::Select => "select",
            Scenario::Events => "events",
            Scenario::Scale => "scale",
        }
    }

    pub fn parse(s: &str) -> BenchResult<Scenario> {
        Scenario::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown scenario '{s}'; known: {}",
                    Scenario::ALL.map(|x| x.name()).join(", ")
                )
            })
    }
}

/// Channels spread over `connections` HTTP/2 connections, round-robin.
#[derive(Clone)]
pub struct Pool {
    channels: Arc<Vec<Channel>>,
    token: Arc<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl Pool {
    pub async fn connect(
        addr: std::net::SocketAddr,
        connections: usize,
        token: &str,
    ) -> BenchResult<Pool> {
        let mut channels = Vec::new();
        for _ in 0..connections.max(1) {
            channels.push(
                Channel::from_shared(format!("http://{addr}"))
                    .map_err(|e| e.to_string())?
                    .tcp_nodelay(true)
                    .connect()
                    .await
                    .map_err(|e| format!("connecting to {addr}: {e}"))?,
            );
        }
        Ok(Pool {
            channels: Arc::new(channels),
            token: Arc::new(
                format!("Bearer {token}")
                    .parse()
                    .map_err(|_| "token is not ASCII")?,
            ),
        })
    }

    pub(crate) fn channel(&self, i: u64) -> Channel {
        self.channels[(i as usize) % self.channels.len()].clone()
    }

    pub(crate) fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(message);
        r.metadata_mut()
            .insert("authorization", (*self.token).clone());
        r
    }
}

fn code<T>(r: Result<T, tonic::Status>) -> Result<(), tonic::Code> {
    r.map(|_| ()).map_err(|s| s.code())
}

/// `Ping` with a small payload: `echo` and `noop` send exactly this.
pub fn ping(pool: Pool) -> Call {
    Arc::new(move |i| {
        let pool = pool.clone();
        Box::pin(async move {
            let mut c = PlatformServiceClient::new(pool.channel(i));
            code(
                c.ping(pool.request(platform::PingRequest {
                    payload: vec![7; 16],
                }))
                .await,
            )
        })
    })
}

pub fn organization(i: u64) -> membership::Organization {
    membership::Organization {
        kind: OrganizationKind::Cso as i32,
        name: Some(LocalizedText {
            ar: format!("جمعية الفرات للتنمية {i}"),
            en: format!("Euphrates Development {i}"),
        }),
        governorate: "Raqqa".into(),
        sectors: vec![Sector::Education as i32],
        ..Default::default()
    }
}

pub fn create(pool: Pool) -> Call {
    Arc::new(move |i| {
        let pool = pool.clone();
        Box::pin(async move {
            let mut c = MembershipServiceClient::new(pool.channel(i));
            code(
                c.create_organization(pool.request(membership::CreateOrganizationRequest {
                    organization: Some(organization(i)),
                    apply_for_incubation: i.is_multiple_of(2),
                    request_id: String::new(),
                }))
                .await,
            )
        })
    })
}

pub fn get(pool: Pool, ids: Arc<Vec<String>>) -> Call {
    Arc::new(move |i| {
        let pool = pool.clone();
        let id = ids[(i as usize).wrapping_mul(7919) % ids.len()].clone();
        Box::pin(async move {
            let mut c = MembershipServiceClient::new(pool.channel(i));
            code(
                c.get_organization(pool.request(membership::GetOrganizationRequest { id }))
                    .await,
            )
        })
    })
}

/// A busy center's day in proportions: most calls read (look up an
/// organization, a list page, a person, the course catalogue), some register
/// people and organizations, a few update. Out of 20 calls: 7 organization
/// reads, 3 organization lists, 2 person reads, 2 course lists, 1 topic
/// list, 2 person registrations, 2 organization updates, 1 organization
/// registration.
pub fn mixed(pool: Pool, orgs: Arc<Vec<String>>, people: Arc<Vec<String>>) -> Call {
    Arc::new(move |i| {
        let pool = pool.clone();
        let org = orgs[(i as usize).wrapping_mul(7919) % orgs.len()].clone();
        let person = people[(i as usize).wrapping_mul(104_729) % people.len()].clone();
        Box::pin(async move {
            let mut c = MembershipServiceClient::new(pool.channel(i));
            match i % 20 {
                0..=6 => code(
                    c.get_organization(
                        pool.request(membership::GetOrganizationRequest { id: org }),
                    )
                    .await,
                ),
                7 | 8 => code(
                    CapacityServiceClient::new(pool.channel(i))
                        .list_courses(pool.request(capacity::ListCoursesRequest {
                            page_size: 20,
                            ..Default::default()
                        }))
                        .await,
                ),
                9 => code(
                    CapacityServiceClient::new(pool.channel(i))
                        .list_topics(pool.request(capacity::ListTopicsRequest::default()))
                        .await,
                ),
                10..=12 => code(
                    c.list_organizations(pool.request(membership::ListOrganizationsRequest {
                        page_size: 20,
                        ..Default::default()
                    }))
                    .await,
                ),
                13 | 14 => code(
                    c.get_person(pool.request(membership::GetPersonRequest { id: person }))
                        .await,
                ),
                15 | 16 => code(
                    c.create_person(pool.request(membership::CreatePersonRequest {
                        person: Some(person_message(i)),
                        request_id: String::new(),
                    }))
                    .await,
                ),
                17 | 18 => code(
                    c.update_organization(pool.request(membership::UpdateOrganizationRequest {
                        organization: Some(membership::Organization {
                            id: org,
                            acronym: format!("B{}", i % 1000),
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["acronym".into()],
                        }),
                    }))
                    .await,
                ),
                _ => code(
                    c.create_organization(pool.request(membership::CreateOrganizationRequest {
                        organization: Some(organization(i)),
                        ..Default::default()
                    }))
                    .await,
                ),
            }
        })
    })
}

pub fn person_message(i: u64) -> membership::Person {
    membership::Person {
        full_name: format!("مشارك رقم {i}"),
        gender: if i.is_multiple_of(3) {
            Gender::Female
        } else {
            Gender::Male
        } as i32,
        age_band: markaz_proto::common::v1::AgeBand::AgeBand2534 as i32,
        legal_basis: membership::LegalBasis::Consent as i32,
        processing_purpose: "training participant".into(),
        ..Default::default()
    }
}

/// Creates `n` organizations (and `n` people) for the read scenarios.
pub async fn seed(target: &Target, n: usize) -> BenchResult<(Vec<String>, Vec<String>)> {
    let pool = Pool::connect(target.server.addr, 4, &target.staff_token).await?;
    let mut orgs = Vec::with_capacity(n);
    let mut people = Vec::with_capacity(n);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..16u64 {
        let pool = pool.clone();
        let share = n / 16 + usize::from((w as usize) < n % 16);
        tasks.spawn(async move {
            let mut made = (Vec::new(), Vec::new());
            for k in 0..share as u64 {
                let i = 1_000_000 + w * 100_000 + k;
                let mut c = MembershipServiceClient::new(pool.channel(i));
                let o = c
                    .create_organization(pool.request(membership::CreateOrganizationRequest {
                        organization: Some(organization(i)),
                        ..Default::default()
                    }))
                    .await
                    .map_err(|e| e.to_string())?;
                made.0.push(o.into_inner().id);
                let p = c
                    .create_person(pool.request(membership::CreatePersonRequest {
                        person: Some(person_message(i)),
                        request_id: String::new(),
                    }))
                    .await
                    .map_err(|e| e.to_string())?;
                made.1.push(p.into_inner().id);
            }
            Ok::<_, String>(made)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (o, p) = done.map_err(|e| e.to_string())??;
        orgs.extend(o);
        people.extend(p);
    }
    Ok((orgs, people))
}

/// The database side of the baselines: the same statements the service
/// runs, issued through sqlx's own driver for the backend, as the tables'
/// owner, with nothing of the platform in between.
pub enum Direct {
    Postgres(sqlx::PgPool),
    Sqlite {
        writer: sqlx::SqlitePool,
        reader: sqlx::SqlitePool,
    },
}

impl Direct {
    /// As the tables' owner, with no row-level security: a bare statement.
    pub async fn connect(target: &Target, service: &str, concurrency: u32) -> BenchResult<Direct> {
        Direct::open(target, service, concurrency, false).await
    }

    /// As the application's role, under row-level security, the way the
    /// service's own transactions run.
    pub async fn connect_as_app(
        target: &Target,
        service: &str,
        concurrency: u32,
    ) -> BenchResult<Direct> {
        Direct::open(target, service, concurrency, true).await
    }

    async fn open(
        target: &Target,
        service: &str,
        concurrency: u32,
        as_app: bool,
    ) -> BenchResult<Direct> {
        let (url, schema) = target.database_of(service);
        match target.kind {
            Kind::Serve => {
                let schema = schema.unwrap_or_default();
                let role = if as_app {
                    format!("; SET ROLE {}", markaz_kit::db::APP_ROLE)
                } else {
                    String::new()
                };
                let setup = Arc::new(format!("SET search_path TO \"{schema}\"{role}"));
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(concurrency)
                    .after_connect(move |conn, _| {
                        let setup = setup.clone();
                        Box::pin(async move {
                            sqlx::Executor::execute(
                                conn,
                                sqlx::AssertSqlSafe(setup.as_str().to_owned()),
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Direct::Postgres(pool))
            }
            Kind::Dev => {
                use sqlx::sqlite::{
                    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
                };
                use std::str::FromStr;
                let options = SqliteConnectOptions::from_str(&url)
                    .map_err(|e| e.to_string())?
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5));
                let writer = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                let reader = SqlitePoolOptions::new()
                    .max_connections(concurrency.clamp(1, 8))
                    .connect_with(options)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Direct::Sqlite { writer, reader })
            }
        }
    }
}

const INSERT_ORGANIZATION: &str = "INSERT INTO organizations (tenant_id, id, identifier, kind, name_ar, name_en, acronym,
    governorate, branch_id, sectors, description_ar, description_en, email, phone,
    incubation_status, search_text, version, created_at, updated_at)
 VALUES ($1, $2, $3, 'ORGANIZATION_KIND_CSO', $4, $5, '', 'Raqqa', '', 'SECTOR_EDUCATION', '', '', '', '',
    'INCUBATION_STATUS_NONE', $6, 1, $7, $7)";
/// The outbox row of the baseline is written as already published: its
/// envelope is filler, and sending it on would make the relay and the
/// consumers work (and dead-letter it) during the next measurement.
const INSERT_OUTBOX: &str = "INSERT INTO markaz_outbox (event_id, tenant_id, aggregate_id, event_name, envelope, created_at, published_at)
 VALUES ($1, $2, $3, 'BaselineFiller', $4, $5, $5)";
const SELECT_ORGANIZATION: &str =
    "SELECT id, identifier, kind, name_ar, name_en, acronym, governorate, branch_id, sectors,
    description_ar, description_en, email, phone, incubation_status, version, created_at, updated_at
 FROM organizations WHERE tenant_id = $1 AND id = $2";

/// `db-baseline`: an organization row and an outbox row in one transaction.
pub fn db_baseline(direct: Arc<Direct>, tenant: String) -> Call {
    Arc::new(move |i| {
        let direct = direct.clone();
        let tenant = tenant.clone();
        Box::pin(async move {
            let id = uuid_like(i);
            let now = markaz_kit::time::now_micros();
            let name_ar = format!("جمعية الفرات للتنمية {i}");
            let name_en = format!("Euphrates Development {i}");
            let search = format!("{name_ar} {}", name_en.to_lowercase());
            let envelope = vec![42u8; 320];
            let fail = |_| tonic::Code::Internal;
            // The same two statements through either driver's own types.
            macro_rules! insert_pair {
                ($pool:expr, $begin:expr) => {{
                    let mut tx = $pool
                        .begin_with(sqlx::AssertSqlSafe($begin))
                        .await
                        .map_err(fail)?;
                    sqlx::query(INSERT_ORGANIZATION)
                        .bind(&tenant)
                        .bind(&id)
                        .bind(format!("BENCH-{i}"))
                        .bind(&name_ar)
                        .bind(&name_en)
                        .bind(&search)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(fail)?;
                    sqlx::query(INSERT_OUTBOX)
                        .bind(format!("e{id}"))
                        .bind(&tenant)
                        .bind(&id)
                        .bind(&envelope)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(fail)?;
                    tx.commit().await.map_err(fail)
                }};
            }
            // The transaction the service opens: on PostgreSQL with the
            // tenant set for row-level security, on SQLite taking the write
            // lock at BEGIN.
            match &*direct {
                Direct::Postgres(pool) => insert_pair!(
                    pool,
                    format!("BEGIN; SELECT set_config('markaz.tenant_id', '{tenant}', true)")
                ),
                Direct::Sqlite { writer, .. } => {
                    insert_pair!(writer, "BEGIN IMMEDIATE".to_string())
                }
            }
        })
    })
}

/// `select`: the organization row `get` reads, one statement.
pub fn select(direct: Arc<Direct>, tenant: String, ids: Arc<Vec<String>>) -> Call {
    Arc::new(move |i| {
        let direct = direct.clone();
        let tenant = tenant.clone();
        let id = ids[(i as usize).wrapping_mul(7919) % ids.len()].clone();
        Box::pin(async move {
            let fail = |_| tonic::Code::Internal;
            let found = match &*direct {
                Direct::Postgres(pool) => sqlx::query(SELECT_ORGANIZATION)
                    .bind(&tenant)
                    .bind(&id)
                    .fetch_optional(pool)
                    .await
                    .map_err(fail)?
                    .is_some(),
                Direct::Sqlite { reader, .. } => sqlx::query(SELECT_ORGANIZATION)
                    .bind(&tenant)
                    .bind(&id)
                    .fetch_optional(reader)
                    .await
                    .map_err(fail)?
                    .is_some(),
            };
            if found {
                Ok(())
            } else {
                Err(tonic::Code::NotFound)
            }
        })
    })
}

/// A unique id for baseline rows (they never meet the service's own ids).
fn uuid_like(i: u64) -> String {
    format!("b{:015x}-{}", i, std::process::id())
}
