//! `markaz backup` and `markaz restore`: the embedded mode's data directory
//! copied while `markaz dev` serves, and put back.
//!
//! What a `markaz dev` data directory holds (docs/operations.md, "Backups
//! and restore"):
//!
//! * `<service>.db` (with its `-wal` and `-shm`): one SQLite database per
//!   service — its tables, its inbox (the events it applied), its dead
//!   letters, and its outbox, which on the in-process bus is also the
//!   **event history** (the relay keeps published rows; `markaz impact
//!   rebuild` reads them);
//! * `signing-key.json` (mode 0600) and `jwks.json`: the key that signs the
//!   tokens and its public half;
//! * `files/`: the library's files (the resources service's object store on
//!   the local filesystem);
//! * `markaz.lock`: held by the running `markaz dev` (see [`lock_data_dir`]).
//!
//! A backup is a directory: a copy of each of them and `manifest.json`,
//! which lists every file with its size and SHA-256, the binary's version
//! and each database's migration level. It is written under a temporary
//! name and renamed when complete, so a directory of that name is whole.
//!
//! # Why the copy is consistent
//!
//! **One database** is copied with `VACUUM INTO`, which reads one snapshot
//! of it (a read transaction: in WAL mode the server's writers go on) and
//! writes that snapshot as a fresh, compact file.
//!
//! **Between databases** a snapshot each is not enough. An event crosses two
//! of them: the producer commits it in its outbox, the in-process relay
//! hands it to every consumer and waits until each has applied it (its
//! inbox row committed, or a dead letter stored), and only then marks the
//! outbox row published. Copied one after the other, the producer's copy
//! could say "published" while the consumer's, taken earlier, had not yet
//! applied it: restored, nobody would deliver it again and the consumer
//! would miss it for good. The other order is wrong too (a consumer's copy
//! holding a copy of an object its producer's copy has never heard of), and
//! every service is both a producer and a consumer (membership consumes the
//! others' `ErasureConfirmed`), so no order of copies avoids both.
//!
//! So the backup takes **one cut across every database**: it holds every
//! database's write lock at once (`BEGIN IMMEDIATE` on a connection of its
//! own, in a fixed order), copies them all while no commit can happen
//! anywhere, and lets go. At that cut, for every event:
//!
//! * published in its producer's copy → every consumer applied it before
//!   (the relay marks after their answers), so it is in their copies;
//! * still pending in the producer's copy → after a restore the relay
//!   publishes it again at start. A consumer that had applied it already
//!   finds its inbox row `(consumer, event_id)` and counts a duplicate with
//!   no second effect — the inbox row is committed in the same transaction
//!   as the handler's writes (`events::inbox`), so "applied" and "has an
//!   inbox row" are the same fact in every copy. Inbox rows are kept 31 days
//!   (`retention.inbox_days`), far longer than an event stays pending.
//!   Events no handler reads leave no inbox row and are ignored again; an
//!   event that had been dead-lettered has no inbox row either, so it is
//!   tried again (and applied, or dead-lettered a second time).
//!
//! While the locks are held, the server's writes wait (SQLite's busy
//! timeout, 5 s) and reads go on; the copy of a small center's databases
//! takes milliseconds, and the manifest says how long (`freeze_ms`). The
//! locks are taken with a short timeout each and all let go when one cannot
//! be had, then tried again, so the backup never holds a database for long
//! while waiting for another.
//!
//! **The library's files** are written under a new name before the record
//! that names them commits, and deleted only after the record of their
//! withdrawal commits. They are copied once before the cut (the bulk, while
//! everything runs) and brought up to date during it: files that appeared
//! since are copied, files gone since are dropped. So every file a record
//! of the copy names is in the copy. Unfinished uploads (object_store's
//! `name#<digits>` staging files) are named by no record and left out.
//!
//! **The keys** are written once, when `markaz dev` first starts.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use markaz_kit::config::Config;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, SqliteConnection};

use crate::services;

/// Held by `markaz dev` for as long as it runs; `restore` refuses a data
/// directory whose lock is taken.
pub const LOCK_FILE: &str = "markaz.lock";
const MANIFEST: &str = "manifest.json";
/// This manifest's layout; a restore refuses another.
const FORMAT: u32 = 1;
const SIGNING_KEY: &str = "signing-key.json";
const JWKS: &str = "jwks.json";
const FILES: &str = "files";

/// How long the backup waits for one database's write lock before it lets
/// go of those it holds and tries again — well under the server's own busy
/// timeout (5 s), so a server write waiting behind the backup still lands.
const LOCK_WAIT: Duration = Duration::from_millis(1500);
const LOCK_ATTEMPTS: u32 = 5;

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    /// The binary that wrote the backup.
    markaz_version: String,
    /// The cut, RFC 3339 and microseconds since the epoch.
    created_at: String,
    created_at_micros: i64,
    /// The data directory it was taken from.
    source: String,
    /// How long the server's writes were held while the databases were copied.
    freeze_ms: u64,
    databases: Vec<Database>,
    files: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Database {
    service: String,
    file: String,
    /// The highest migration applied, per scope ("platform", "service",
    /// a library's).
    migrations: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    /// Relative to the backup directory and the data directory, `/`-separated.
    path: String,
    bytes: u64,
    sha256: String,
}

/// The lock `markaz dev` holds on its data directory while it runs (an
/// advisory `flock` on `markaz.lock`, let go by the kernel when the process
/// ends, however it ends). The file keeps the holder's pid for the message
/// of whoever finds it taken.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

pub fn lock_data_dir(dir: &Path) -> Result<DataDirLock, String> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)
                .and_then(|_| file.write_all(std::process::id().to_string().as_bytes()))
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
            Ok(DataDirLock { _file: file })
        }
        Err(fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            Err(format!(
                "{} is in use by a running markaz dev (pid {}): stop it first",
                dir.display(),
                pid.trim()
            ))
        }
        Err(fs::TryLockError::Error(e)) => Err(format!("locking {}: {e}", path.display())),
    }
}

/// `markaz backup`: a consistent copy of `data_dir` in `to`, while
/// `markaz dev` may be serving it.
pub async fn backup(config: &Config, data_dir: Option<PathBuf>, to: &Path) -> Result<(), String> {
    let data = data_dir.unwrap_or_else(|| config.data_dir.clone());
    let databases = databases_in(&data)?;
    if databases.is_empty() {
        return Err(format!(
            "{} holds no markaz database (<service>.db): is it a markaz dev data directory?",
            data.display()
        ));
    }
    if !is_empty_dir(to)? {
        return Err(format!(
            "{} exists and is not empty: back up into a new directory",
            to.display()
        ));
    }
    if is_within(to, &data) {
        return Err(format!(
            "{} is inside the data directory {}: a restore over it would remove the backup",
            to.display(),
            data.display()
        ));
    }
    if let Some(key) = &config.auth.signing_key
        && key != &data.join(SIGNING_KEY)
    {
        eprintln!(
            "note: the signing key is configured at {} (MARKAZ_AUTH_SIGNING_KEY), outside the \
             data directory: back it up yourself",
            key.display()
        );
    }
    let staging = partial_name(to);
    let _ = fs::remove_dir_all(&staging);
    create_private_dir(&staging)?;
    let result = take(&data, &databases, &staging).await;
    match result {
        Ok(manifest) => {
            if to.exists() {
                fs::remove_dir(to).map_err(|e| format!("replacing {}: {e}", to.display()))?;
            }
            fs::rename(&staging, to)
                .map_err(|e| format!("renaming {} to {}: {e}", staging.display(), to.display()))?;
            sync_parent(to);
            let total: u64 = manifest.files.iter().map(|f| f.bytes).sum();
            println!(
                "backup of {} in {}: {} databases, {} files, {} bytes; writes held {} ms (cut at {})",
                data.display(),
                to.display(),
                manifest.databases.len(),
                manifest.files.len(),
                total,
                manifest.freeze_ms,
                manifest.created_at,
            );
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

async fn take(
    data: &Path,
    databases: &[(String, PathBuf)],
    staging: &Path,
) -> Result<Manifest, String> {
    let files = data.join(FILES);
    let copied_files = staging.join(FILES);
    // The bulk of the library, before the cut, while everything runs.
    if files.is_dir() {
        copy_new_files(&files, &copied_files)?;
    }

    let freeze = Freeze::take(databases).await?;
    let cut = markaz_kit::time::now_micros();
    let frozen = Instant::now();
    let copied = async {
        for (service, path) in databases {
            vacuum_into(path, &staging.join(format!("{service}.db"))).await?;
        }
        if files.is_dir() {
            copy_new_files(&files, &copied_files)?;
            drop_gone_files(&files, &copied_files)?;
        }
        Ok::<_, String>(())
    }
    .await;
    let freeze_ms = frozen.elapsed().as_millis() as u64;
    freeze.release().await;
    copied?;

    for key in [SIGNING_KEY, JWKS] {
        let from = data.join(key);
        if from.is_file() {
            copy_file(&from, &staging.join(key))?;
        }
    }

    let mut described = Vec::with_capacity(databases.len());
    for (service, _) in databases {
        let file = format!("{service}.db");
        let migrations = check_copy(&staging.join(&file)).await?;
        described.push(Database {
            service: service.clone(),
            file,
            migrations,
        });
    }
    let manifest = Manifest {
        format: FORMAT,
        markaz_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: markaz_kit::time::rfc3339(cut),
        created_at_micros: cut,
        source: data.display().to_string(),
        freeze_ms,
        databases: described,
        files: describe_tree(staging)?,
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    write_synced(&staging.join(MANIFEST), text.as_bytes())?;
    sync_dir(staging);
    Ok(manifest)
}

/// Every database's write lock, held by connections of the backup's own.
struct Freeze {
    held: Vec<SqliteConnection>,
}

impl Freeze {
    /// Takes every lock, in the order given; if one cannot be had within
    /// [`LOCK_WAIT`], lets go of all and tries again.
    async fn take(databases: &[(String, PathBuf)]) -> Result<Freeze, String> {
        let mut last = String::new();
        for attempt in 0..LOCK_ATTEMPTS {
            let mut held = Vec::with_capacity(databases.len());
            let mut failed = None;
            for (service, path) in databases {
                match lock_one(path).await {
                    Ok(conn) => held.push(conn),
                    Err(e) => {
                        failed = Some(format!("{service}: {e}"));
                        break;
                    }
                }
            }
            match failed {
                None => return Ok(Freeze { held }),
                Some(why) => {
                    last = why;
                    Freeze { held }.release().await;
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt + 1))).await;
                }
            }
        }
        Err(format!(
            "could not hold every database still for the copy after {LOCK_ATTEMPTS} attempts \
             (a long write is running?): {last}"
        ))
    }

    async fn release(self) {
        for mut conn in self.held {
            let _ = conn.execute("ROLLBACK").await;
            let _ = conn.close().await;
        }
    }
}

/// A connection of the backup's own to the live database at `path`.
async fn open_live(path: &Path) -> Result<SqliteConnection, String> {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(LOCK_WAIT)
        .connect()
        .await
        .map_err(|e| format!("opening {}: {e}", path.display()))
}

async fn lock_one(path: &Path) -> Result<SqliteConnection, String> {
    let mut conn = open_live(path).await?;
    conn.execute("BEGIN IMMEDIATE")
        .await
        .map_err(|e| format!("taking the write lock of {}: {e}", path.display()))?;
    Ok(conn)
}

/// One snapshot of the database at `from`, as a new file `to` (fsynced).
async fn vacuum_into(from: &Path, to: &Path) -> Result<(), String> {
    let mut conn = open_live(from).await?;
    let target = to
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", to.display()))?;
    sqlx::query("VACUUM INTO ?1")
        .bind(target)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("copying {}: {e}", from.display()))?;
    let _ = conn.close().await;
    File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("syncing {}: {e}", to.display()))
}

/// Checks a copied (or restored) database and reads its migration levels;
/// read-only, so the file is not touched.
async fn check_copy(path: &Path) -> Result<BTreeMap<String, i64>, String> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| format!("opening the copy {}: {e}", path.display()))?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("checking {}: {e}", path.display()))?;
    if check != "ok" {
        return Err(format!("the copy {} is damaged: {check}", path.display()));
    }
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT scope, MAX(version) FROM markaz_migrations GROUP BY scope")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| format!("reading the migrations of {}: {e}", path.display()))?;
    let _ = conn.close().await;
    Ok(rows.into_iter().collect())
}

/// `markaz restore`: the backup in `from` becomes the data directory.
pub async fn restore(
    config: &Config,
    from: &Path,
    data_dir: Option<PathBuf>,
    force: bool,
) -> Result<(), String> {
    let data = data_dir.unwrap_or_else(|| config.data_dir.clone());
    // Everything about the backup is checked before anything is written.
    let manifest = read_manifest(from)?;
    verify(from, &manifest)?;
    check_migrations(&manifest)?;

    if is_within(from, &data) {
        return Err(format!(
            "the backup {} is inside the data directory {}: copy it elsewhere first",
            from.display(),
            data.display()
        ));
    }
    fs::create_dir_all(&data).map_err(|e| format!("creating {}: {e}", data.display()))?;
    let _lock = lock_data_dir(&data)?;
    let present = entries_but_lock(&data)?;
    if !present.is_empty() && !force {
        return Err(format!(
            "{} is not empty ({}): restore into an empty directory, or pass --force to replace \
             what is there",
            data.display(),
            present
                .iter()
                .map(|p| p.to_string_lossy())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    // Copied beside the data, re-hashed as written, then moved into place.
    let staging = data.join(format!(".restoring-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    create_private_dir(&staging)?;
    let staged = stage(from, &manifest, &staging).await;
    if let Err(e) = staged {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    // What the replaced data says was erased since the cut, before it goes.
    let erasures = if present.is_empty() {
        Vec::new()
    } else {
        erasures_since(&data.join("membership.db"), manifest.created_at_micros).await
    };
    for old in &present {
        let path = data.join(old);
        let removed = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(|e| format!("removing {}: {e}", path.display()))?;
    }
    for entry in fs::read_dir(&staging).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let to = data.join(entry.file_name());
        fs::rename(entry.path(), &to).map_err(|e| format!("moving into {}: {e}", to.display()))?;
    }
    fs::remove_dir(&staging).map_err(|e| format!("removing {}: {e}", staging.display()))?;
    if !erasures.is_empty() {
        let list = data.join(ERASURES_AFTER_BACKUP);
        let text = serde_json::to_string_pretty(&erasures).map_err(|e| e.to_string())?;
        write_synced(&list, text.as_bytes())?;
        eprintln!(
            "warning: the replaced data records {} erasure(s) made after the backup; the restored \
             data has those persons back. Erase them again (ErasePerson) before the center uses it: \
             they are listed in {}",
            erasures.len(),
            list.display()
        );
    }
    sync_dir(&data);
    println!(
        "restored {} (taken {} by markaz {}) into {}{}: {} databases, {} files.\n\
         Erasures made after {} are not in it: apply them again (docs/operations.md, \
         \"Backups and restore\").",
        from.display(),
        manifest.created_at,
        manifest.markaz_version,
        data.display(),
        if present.is_empty() {
            String::new()
        } else {
            format!(" (replacing {} entries)", present.len())
        },
        manifest.databases.len(),
        manifest.files.len(),
        manifest.created_at,
    );
    Ok(())
}

/// Where `restore --force` lists the erasures the replaced data had made
/// after the backup's cut.
const ERASURES_AFTER_BACKUP: &str = "erasures-after-backup.json";

/// An erasure membership's replaced database recorded (no personal data:
/// the person by id, the reason already scrubbed of their name).
#[derive(Debug, Serialize)]
struct ErasureToRedo {
    tenant_id: String,
    erasure_id: String,
    person_id: String,
    legal_ground: String,
    reason: String,
    requested_at: String,
}

/// The erasures recorded in membership's database at `path` after `cut`;
/// none when it is missing or does not read (a lost or damaged disk: the
/// operator's own records are then all there is, as the docs say).
async fn erasures_since(path: &Path, cut: i64) -> Vec<ErasureToRedo> {
    if !path.is_file() {
        return Vec::new();
    }
    let read = async {
        let mut conn = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .connect()
            .await?;
        let rows: Vec<(String, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT tenant_id, id, person_id, legal_ground, reason, requested_at
             FROM erasures WHERE requested_at > ?1 ORDER BY requested_at",
        )
        .bind(cut)
        .fetch_all(&mut conn)
        .await?;
        let _ = conn.close().await;
        Ok::<_, sqlx::Error>(rows)
    };
    match read.await {
        Ok(rows) => rows
            .into_iter()
            .map(
                |(tenant_id, erasure_id, person_id, legal_ground, reason, at)| ErasureToRedo {
                    tenant_id,
                    erasure_id,
                    person_id,
                    legal_ground,
                    reason,
                    requested_at: markaz_kit::time::rfc3339(at),
                },
            )
            .collect(),
        Err(e) => {
            eprintln!(
                "warning: the erasures of the replaced data could not be read ({e}): find those \
                 made after the backup elsewhere (docs/operations.md)"
            );
            Vec::new()
        }
    }
}

async fn stage(from: &Path, manifest: &Manifest, staging: &Path) -> Result<(), String> {
    for entry in &manifest.files {
        let to = staging.join(&entry.path);
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        let (bytes, sha256) = copy_file(&from.join(&entry.path), &to)?;
        if bytes != entry.bytes || sha256 != entry.sha256 {
            return Err(format!(
                "{} changed while it was restored: nothing restored",
                entry.path
            ));
        }
    }
    for db in &manifest.databases {
        check_copy(&staging.join(&db.file)).await?;
    }
    sync_dir(staging);
    Ok(())
}

fn read_manifest(from: &Path) -> Result<Manifest, String> {
    let path = from.join(MANIFEST);
    let text = fs::read_to_string(&path).map_err(|e| {
        format!(
            "{} is not a markaz backup (no readable {MANIFEST}): {e}",
            from.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} does not read as a backup's manifest: {e}",
            path.display()
        )
    })?;
    if manifest.format != FORMAT {
        return Err(format!(
            "{} has format {}, this markaz reads format {FORMAT}",
            path.display(),
            manifest.format
        ));
    }
    Ok(manifest)
}

/// Every file the manifest lists is there with its size and checksum, and
/// names a place inside the data directory; every database it lists is
/// among the files.
fn verify(from: &Path, manifest: &Manifest) -> Result<(), String> {
    let mut bad = Vec::new();
    for entry in &manifest.files {
        if !is_inside(&entry.path) {
            return Err(format!(
                "the manifest names '{}', outside the backup: refused, nothing restored",
                entry.path
            ));
        }
        let path = from.join(&entry.path);
        match hash_file(&path) {
            Err(e) => bad.push(format!("{}: {e}", entry.path)),
            Ok((bytes, _)) if bytes != entry.bytes => bad.push(format!(
                "{}: {bytes} bytes, the manifest says {}",
                entry.path, entry.bytes
            )),
            Ok((_, sha256)) if sha256 != entry.sha256 => bad.push(format!(
                "{}: SHA-256 {sha256}, the manifest says {}",
                entry.path, entry.sha256
            )),
            Ok(_) => {}
        }
    }
    for db in &manifest.databases {
        if !manifest.files.iter().any(|f| f.path == db.file) {
            bad.push(format!(
                "{}: listed as a database but not as a file",
                db.file
            ));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the backup in {} does not match its manifest, nothing restored:\n  {}",
            from.display(),
            bad.join("\n  ")
        ))
    }
}

/// A backup made by a newer binary may hold tables this one does not know:
/// refused. An older one is migrated forward when `markaz dev` starts.
fn check_migrations(manifest: &Manifest) -> Result<(), String> {
    let every = services::all();
    for db in &manifest.databases {
        let Some(service) = every.iter().find(|s| s.name() == db.service) else {
            return Err(format!(
                "the backup holds a database of '{}', which this markaz {} does not have: \
                 restore it with markaz {}",
                db.service,
                env!("CARGO_PKG_VERSION"),
                manifest.markaz_version
            ));
        };
        let max =
            |ms: &[markaz_kit::migrate::Migration]| ms.iter().map(|m| m.version).max().unwrap_or(0);
        let mut known = BTreeMap::new();
        known.insert("platform".to_string(), max(markaz_kit::migrate::PLATFORM));
        known.insert("service".to_string(), max(service.migrations()));
        for library in service.libraries() {
            known.insert(library.scope.to_string(), max(library.migrations));
        }
        for (scope, level) in &db.migrations {
            let here = known.get(scope).copied().unwrap_or(0);
            if *level > here {
                return Err(format!(
                    "{}: {scope} migration {level} is newer than this markaz knows ({here}): \
                     the backup was made by markaz {}; restore it with that version or later",
                    db.service, manifest.markaz_version
                ));
            }
        }
    }
    Ok(())
}

/// Whether `path` is `dir` or below it (as far as what exists of them says).
fn is_within(path: &Path, dir: &Path) -> bool {
    let absolute = |p: &Path| {
        // The longest part that exists, resolved, and the rest as written.
        let mut existing = p.to_path_buf();
        let mut rest = Vec::new();
        loop {
            if let Ok(real) = existing.canonicalize() {
                return rest
                    .into_iter()
                    .rev()
                    .fold(real, |acc: PathBuf, c| acc.join(c));
            }
            match (
                existing.file_name().map(|n| n.to_owned()),
                existing.parent(),
            ) {
                (Some(name), Some(parent)) => {
                    rest.push(name);
                    existing = if parent.as_os_str().is_empty() {
                        PathBuf::from(".")
                    } else {
                        parent.to_path_buf()
                    };
                }
                _ => return p.to_path_buf(),
            }
        }
    };
    absolute(path).starts_with(absolute(dir))
}

fn is_inside(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && p.components().all(|c| matches!(c, Component::Normal(_)))
        && path != MANIFEST
}

/// `<service>.db` files of a data directory, by service name.
fn databases_in(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let read = fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(service) = name.strip_suffix(".db")
            && entry.file_type().map(|t| t.is_file()).unwrap_or(false)
        {
            out.push((service.to_string(), entry.path()));
        }
    }
    // The same order in every backup: the services' start order, others after.
    let order: Vec<&str> = services::all().iter().map(|s| s.name()).collect();
    out.sort_by_key(|(s, _)| {
        (
            order.iter().position(|o| o == s).unwrap_or(order.len()),
            s.clone(),
        )
    });
    Ok(out)
}

fn entries_but_lock(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))? {
        let name = entry.map_err(|e| e.to_string())?.file_name();
        if name != LOCK_FILE {
            out.push(PathBuf::from(name));
        }
    }
    out.sort();
    Ok(out)
}

fn is_empty_dir(dir: &Path) -> Result<bool, String> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(format!("reading {}: {e}", dir.display())),
    }
}

fn partial_name(to: &Path) -> PathBuf {
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    to.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// A backup holds the signing key and personal data: its owner's only.
fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| format!("creating {}: {e}", dir.display()))
}

/// Whether a file of the library is object_store's unfinished upload
/// (`name#<digits>`), which no record names.
fn is_staged_upload(name: &str) -> bool {
    match name.rsplit_once('#') {
        Some((_, suffix)) => !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// The library's files under `from`, relative paths and sizes.
fn library_files(from: &Path) -> Result<BTreeMap<PathBuf, u64>, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel) = dirs.pop() {
        let dir = from.join(&rel);
        let read = match fs::read_dir(&dir) {
            Ok(r) => r,
            // Emptied and removed meanwhile by a withdrawal.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("reading {}: {e}", dir.display())),
        };
        for entry in read {
            let entry = entry.map_err(|e| e.to_string())?;
            let name = entry.file_name();
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            if kind.is_dir() {
                dirs.push(rel.join(&name));
            } else if kind.is_file() && !is_staged_upload(&name.to_string_lossy()) {
                let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
                out.insert(rel.join(&name), bytes);
            }
        }
    }
    Ok(out)
}

/// Copies the files of `from` that `to` lacks (or holds at another size).
fn copy_new_files(from: &Path, to: &Path) -> Result<(), String> {
    let have = library_files(to).unwrap_or_default();
    for (rel, bytes) in library_files(from)? {
        if have.get(&rel) == Some(&bytes) {
            continue;
        }
        let target = to.join(&rel);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        match copy_file(&from.join(&rel), &target) {
            Ok(_) => {}
            // Withdrawn between the listing and the copy: not needed.
            Err(_) if !from.join(&rel).exists() => {
                let _ = fs::remove_file(&target);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Drops from `to` the files `from` no longer has.
fn drop_gone_files(from: &Path, to: &Path) -> Result<(), String> {
    let now: BTreeSet<PathBuf> = library_files(from)?.into_keys().collect();
    for rel in library_files(to)?.into_keys() {
        if !now.contains(&rel) {
            let path = to.join(&rel);
            fs::remove_file(&path).map_err(|e| format!("removing {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Every file under `root` but the manifest, with size and SHA-256.
fn describe_tree(root: &Path) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel) = dirs.pop() {
        for entry in fs::read_dir(root.join(&rel)).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            let rel = rel.join(entry.file_name());
            if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
                dirs.push(rel);
                continue;
            }
            let (bytes, sha256) = hash_file(&root.join(&rel))
                .map_err(|e| format!("reading {}: {e}", rel.display()))?;
            let path = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if path != MANIFEST {
                out.push(Entry {
                    path,
                    bytes,
                    sha256,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        total += n as u64;
    }
    Ok((total, hex(ctx.finish().as_ref())))
}

/// Copies `from` to a new file `to`, owner-only, fsynced; returns its size
/// and SHA-256 as written.
fn copy_file(from: &Path, to: &Path) -> Result<(u64, String), String> {
    let mut src = File::open(from).map_err(|e| format!("reading {}: {e}", from.display()))?;
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut dst = options
        .open(to)
        .map_err(|e| format!("writing {}: {e}", to.display()))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = src
            .read(&mut buf)
            .map_err(|e| format!("reading {}: {e}", from.display()))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        dst.write_all(&buf[..n])
            .map_err(|e| format!("writing {}: {e}", to.display()))?;
        total += n as u64;
    }
    dst.sync_all()
        .map_err(|e| format!("syncing {}: {e}", to.display()))?;
    Ok((total, hex(ctx.finish().as_ref())))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut f = File::create(path).map_err(|e| format!("writing {}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Makes a directory's entries (renames, new files) durable; best effort.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        sync_dir(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_cannot_name_a_place_outside_the_backup() {
        for ok in ["membership.db", "files/items/a/b.pdf"] {
            assert!(is_inside(ok), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "/etc/passwd",
            "files/../../x",
            "manifest.json",
            "./a",
        ] {
            assert!(!is_inside(bad), "{bad}");
        }
    }

    #[test]
    fn a_backup_inside_the_data_directory_is_told() {
        let data = std::env::temp_dir().join(format!("markaz-within-{}", std::process::id()));
        fs::create_dir_all(data.join("files")).unwrap();
        assert!(is_within(&data.join("copy"), &data));
        assert!(is_within(&data.join("files/../x/y"), &data));
        assert!(is_within(&data, &data));
        assert!(!is_within(&data.with_file_name("elsewhere"), &data));
        assert!(!is_within(&data.join("../markaz-within-other"), &data));
        fs::remove_dir_all(&data).unwrap();
    }

    #[test]
    fn unfinished_uploads_are_told_from_files() {
        assert!(is_staged_upload("0193a#12"));
        assert!(!is_staged_upload("0193a"));
        assert!(!is_staged_upload("report#v2"));
        assert!(!is_staged_upload("x#"));
    }
}
