//! Files of items: uploads streamed from the client into object storage,
//! downloads streamed back from any offset, versions, withdrawal.
//!
//! Neither direction holds a file in memory: an upload's chunks are checked
//! ([`crate::domain::files::Upload`]: order, size, SHA-256, media type) and
//! passed on to the store's multipart writer as they arrive, which slows
//! the client down rather than buffer; a download is a ranged read streamed
//! in pieces. No database transaction is open while bytes flow: the item is
//! checked before, the version recorded after (SQLite has one writer, and
//! a slow client must not hold it).

use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt, stream};
use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Anonymous, Idempotency, new_id, parse_id};
use markaz_kit::time::{now_micros, timestamp};
use markaz_proto::events::v1 as ev;
use markaz_proto::resources::v1 as api;
use markaz_proto::resources::v1::upload_file_request::Payload;

use super::items::{own_item, public_item, readable_item};
use super::{ResourcesApi, reader};
use crate::domain::files::{
    DownloadRequest, Message, SizeLimits, Upload, VersionState, check_new_file, counts_as_download,
    download_range, next_version, object_key, parse_download, parse_header, parse_withdraw_version,
};
use crate::domain::items::{Month, ReaderClass, may_edit};
use crate::store;
use crate::store::files::{File, Version};
use crate::store::items::Item;

/// A download: the version's header, then its bytes.
pub type DownloadStream = Pin<
    Box<dyn Stream<Item = std::result::Result<api::DownloadFileResponse, tonic::Status>> + Send>,
>;

fn kind_of(p: &Option<Payload>) -> Message {
    match p {
        Some(Payload::Header(_)) => Message::Header,
        Some(Payload::Chunk(_)) => Message::Chunk,
        None => Message::Empty,
    }
}

pub(crate) async fn upload(
    resources: &ResourcesApi,
    caller: Caller,
    mut stream: tonic::Streaming<api::UploadFileRequest>,
) -> Result<api::ItemFile> {
    let first = stream
        .message()
        .await
        .map_err(|s| Error::invalid("header", format!("the stream broke: {}", s.message())))?
        .unwrap_or_default();
    Upload::check_message(0, kind_of(&first.payload))?;
    let Some(Payload::Header(sent)) = first.payload else {
        return Err(Error::invalid("header", "the first message is the header"));
    };
    let limits = SizeLimits::default();
    let header = parse_header(&sent, &limits)?;
    let idempotency = Idempotency::of(&caller, &sent.request_id, &sent)?;
    let files = resources.files()?;

    // Before any byte is kept: the caller may add files to the item, and
    // the file takes one more version.
    let (version, is_new) = {
        let mut tx = resources.db.read(&caller.tenant).await?;
        if let Some(done) = idempotency.replay::<api::ItemFile>(&mut tx).await? {
            return Ok(done);
        }
        let item = own_item(&mut tx, &caller, &header.item_id).await?;
        check_may_upload(&caller, &item)?;
        let existing = store::files::of_item(&mut tx, &caller.tenant, &item.id).await?;
        version_to_write(&existing, &header.file_id)?
    };
    let file_id = if is_new {
        new_id()
    } else {
        header.file_id.clone()
    };
    // A fresh suffix: two uploads racing for one version number never
    // write the same object (the loser's is deleted when its record is
    // refused).
    let key = format!(
        "{}-{}",
        object_key(&caller.tenant, &header.item_id, &file_id, version),
        new_id()
    );

    let mut writer = files.writer(&key).await?;
    let mut upload = Upload::new(header.clone(), limits);
    let mut n = 1;
    let received: Result<()> =
        async {
            while let Some(message) = stream.message().await.map_err(|s| {
                Error::invalid("chunk", format!("the stream broke: {}", s.message()))
            })? {
                Upload::check_message(n, kind_of(&message.payload))?;
                n += 1;
                if let Some(Payload::Chunk(chunk)) = message.payload {
                    upload.accept(&chunk)?;
                    writer.write(Bytes::from(chunk)).await?;
                }
            }
            Ok(())
        }
        .await;
    let uploaded = match received.and_then(|()| upload.finish()) {
        Ok(u) => u,
        Err(e) => {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(error = %abort, "an upload refused could not be aborted");
            }
            return Err(e);
        }
    };
    writer.finish().await?;

    let recorded: Result<api::ItemFile> = async {
        let mut tx = resources.db.write(&caller.tenant).await?;
        store::items::lock(&mut tx, &header.item_id).await?;
        let item = own_item(&mut tx, &caller, &header.item_id).await?;
        check_may_upload(&caller, &item)?;
        if is_new {
            let existing = store::files::of_item(&mut tx, &caller.tenant, &item.id).await?;
            check_new_file(existing.len())?;
            store::files::insert_file(&mut tx, &file_id, &item.id, &header.label, &header.language)
                .await?;
        }
        store::files::insert_version(
            &mut tx,
            &Version {
                file_id: file_id.clone(),
                version: i64::from(version),
                item_id: item.id.clone(),
                file_name: header.file_name.clone(),
                media_type: uploaded.media_type.to_string(),
                size_bytes: uploaded.size as i64,
                sha256: uploaded.sha256.clone(),
                object_key: key.clone(),
                uploaded_by: caller.subject.clone(),
                uploaded_at: now_micros(),
                withdrawn: 0,
                withdraw_reason: String::new(),
            },
        )
        .await?;
        let file = store::files::of_item(&mut tx, &caller.tenant, &item.id)
            .await?
            .into_iter()
            .find(|f| f.id == file_id)
            .ok_or_else(|| Error::internal("the file just recorded is gone"))?;
        let reply = file_proto(&file, true);
        idempotency.commit(tx, &file_id, &reply).await?;
        Ok(reply)
    }
    .await;
    if recorded.is_err()
        && let Err(e) = files.delete(&key).await
    {
        tracing::warn!(error = %e, key, "the bytes of an upload not recorded stay in storage");
    }
    recorded
}

/// Files are added by the item's staff, or by the contributing partner
/// while its contribution may change.
fn check_may_upload(caller: &Caller, item: &Item) -> Result<()> {
    if may_edit(&reader(caller), &item.access()) {
        Ok(())
    } else if reader(caller).class_for(&item.tenant_id) >= ReaderClass::Partner
        && item.contribution
        && caller.organization.as_deref() == Some(item.contributor_organization_id.as_str())
    {
        Err(Error::precondition(
            "ITEM_STATE",
            "header.item_id",
            "files are added to a contribution while it is a draft or sent back for changes",
        ))
    } else {
        Err(Error::not_found("item", &item.id))
    }
}

/// The version an upload writes, and whether it starts a new file.
fn version_to_write(existing: &[File], file_id: &str) -> Result<(i32, bool)> {
    if file_id.is_empty() {
        check_new_file(existing.len())?;
        return Ok((1, true));
    }
    let file = existing
        .iter()
        .find(|f| f.id == file_id)
        .ok_or_else(|| Error::not_found("file", file_id))?;
    let states: Vec<VersionState> = file
        .versions
        .iter()
        .map(|v| VersionState {
            version: v.version as i32,
            withdrawn: v.withdrawn != 0,
        })
        .collect();
    Ok((next_version(&states)?, false))
}

pub(crate) async fn download(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::DownloadFileRequest,
) -> Result<DownloadStream> {
    let asked = parse_download("", &req)?;
    let files = resources.files()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    let item = readable_item(&mut tx, &caller, &asked.item_id).await?;
    let version = pick_version(&mut tx, &item, &asked).await?;
    let range = download_range(version.size_bytes as u64, asked.offset)?;
    count_download(&mut tx, &item, &version, asked.offset).await?;
    // The bytes are opened before the count commits: a file gone from
    // storage is an error, not a counted download.
    let bytes = files.read(&version.object_key, range).await?;
    tx.commit().await?;
    Ok(serve(version_proto(&version), bytes))
}

pub(crate) async fn download_public(
    resources: &ResourcesApi,
    anonymous: Anonymous,
    req: api::DownloadPublicFileRequest,
) -> Result<DownloadStream> {
    let empty = api::DownloadFileRequest::default();
    let (tenant, asked) = markaz_kit::error::join(
        markaz_kit::validate::slug("tenant_id", &req.tenant_id, 63).map_err(Error::from),
        parse_download("download", req.download.as_ref().unwrap_or(&empty)),
    )?;
    resources.limit_public(&anonymous)?;
    let files = resources.files()?;
    let mut tx = resources.db.write(&tenant).await?;
    let item = public_item(&mut tx, &asked.item_id).await?;
    let version = pick_version(&mut tx, &item, &asked).await?;
    let range = download_range(version.size_bytes as u64, asked.offset)?;
    count_download(&mut tx, &item, &version, asked.offset).await?;
    let bytes = files.read(&version.object_key, range).await?;
    tx.commit().await?;
    Ok(serve(public_version(&version), bytes))
}

/// The version asked for (the current one by default), not withdrawn.
async fn pick_version(tx: &mut Tx, item: &Item, asked: &DownloadRequest) -> Result<Version> {
    let files = store::files::of_item(tx, &item.tenant_id, &item.id).await?;
    let file = files
        .into_iter()
        .find(|f| f.id == asked.file_id)
        .ok_or_else(|| Error::not_found("file", &asked.file_id))?;
    let version = match asked.version {
        None => file.current().cloned(),
        Some(n) => file
            .versions
            .iter()
            .find(|v| v.version == i64::from(n) && v.withdrawn == 0)
            .cloned(),
    };
    version.ok_or_else(|| {
        Error::not_found(
            "file version",
            format!("{}/{}", asked.file_id, asked.version.unwrap_or(0)),
        )
    })
}

/// A download from the start counts once in the month's usage (a resumed
/// one is the same download), and is published without who downloaded.
async fn count_download(tx: &mut Tx, item: &Item, version: &Version, offset: u64) -> Result<()> {
    if !counts_as_download(offset) {
        return Ok(());
    }
    let month = Month::of_micros(now_micros()).stored();
    let total = store::usage::count(tx, &item.tenant_id, &item.id, &month, true).await?;
    let category = if tx.tenant() == item.tenant_id {
        "tenant"
    } else {
        "consortium"
    };
    tx.publish(
        &item.id,
        &ev::ResourceDownloaded {
            item_id: item.id.clone(),
            item_tenant_id: item.tenant_id.clone(),
            file_id: version.file_id.clone(),
            file_version: version.version as i32,
            month,
            downloads: 1,
            month_total: total,
            reader_category: category.to_string(),
        },
    )
    .await
}

fn serve(
    version: api::FileVersion,
    bytes: futures::stream::BoxStream<'static, Result<Bytes>>,
) -> DownloadStream {
    let header = api::DownloadFileResponse {
        payload: Some(api::download_file_response::Payload::Header(version)),
    };
    let chunks = bytes.map(|piece| {
        piece
            .map(|b| api::DownloadFileResponse {
                payload: Some(api::download_file_response::Payload::Chunk(b.to_vec())),
            })
            .map_err(tonic::Status::from)
    });
    Box::pin(stream::once(async move { Ok(header) }).chain(chunks))
}

pub(crate) async fn list(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::ListItemFilesRequest,
) -> Result<api::ListItemFilesResponse> {
    let id = parse_id("item_id", &req.item_id)?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    let item = readable_item(&mut tx, &caller, &id).await?;
    let staff = reader(&caller).class_for(&item.tenant_id) == ReaderClass::Staff;
    let files = store::files::of_item(&mut tx, &item.tenant_id, &item.id).await?;
    Ok(listed(&files, staff))
}

/// The files of an item as a reader sees them: those it can download (a
/// current version, not withdrawn), with the versions it can fetch; staff
/// every file and every version.
fn listed(files: &[File], staff: bool) -> api::ListItemFilesResponse {
    api::ListItemFilesResponse {
        files: files
            .iter()
            .filter(|f| staff || f.current().is_some())
            .map(|f| file_proto(f, staff))
            .collect(),
    }
}

/// The files of a public item, for anyone: the item passes the public
/// catalogue's one rule ([`public_item`]), the files are listed as for any
/// reader who is not staff.
pub(crate) async fn list_public(
    resources: &ResourcesApi,
    anonymous: Anonymous,
    req: api::ListPublicItemFilesRequest,
) -> Result<api::ListItemFilesResponse> {
    let (tenant, id) = (
        markaz_kit::validate::slug("tenant_id", &req.tenant_id, 63),
        parse_id("item_id", &req.item_id),
    )
        .all()?;
    resources.limit_public(&anonymous)?;
    let mut tx = resources.db.read(&tenant).await?;
    let item = public_item(&mut tx, &id).await?;
    let files = store::files::of_item(&mut tx, &item.tenant_id, &item.id).await?;
    let mut listed = listed(&files, false);
    for file in &mut listed.files {
        file.current = file.current.take().map(|v| api::FileVersion {
            uploaded_by: String::new(),
            ..v
        });
    }
    Ok(listed)
}

pub(crate) async fn versions(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::ListFileVersionsRequest,
) -> Result<api::ListFileVersionsResponse> {
    let (item_id, file_id) = markaz_kit::error::join(
        parse_id("item_id", &req.item_id).map_err(Error::from),
        parse_id("file_id", &req.file_id).map_err(Error::from),
    )?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    let item = readable_item(&mut tx, &caller, &item_id).await?;
    let staff = reader(&caller).class_for(&item.tenant_id) == ReaderClass::Staff;
    let file = store::files::of_item(&mut tx, &item.tenant_id, &item.id)
        .await?
        .into_iter()
        .find(|f| f.id == file_id)
        .ok_or_else(|| Error::not_found("file", &file_id))?;
    let with_withdrawn = req.include_withdrawn && staff;
    Ok(api::ListFileVersionsResponse {
        versions: file
            .versions
            .iter()
            .filter(|v| with_withdrawn || v.withdrawn == 0)
            .map(version_proto)
            .collect(),
    })
}

pub(crate) async fn withdraw_version(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::WithdrawFileVersionRequest,
) -> Result<api::FileVersion> {
    let asked = parse_withdraw_version(&req)?;
    let files = resources.files()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    store::items::lock(&mut tx, &asked.item_id).await?;
    let item = own_item(&mut tx, &caller, &asked.item_id).await?;
    let file = store::files::of_item(&mut tx, &item.tenant_id, &item.id)
        .await?
        .into_iter()
        .find(|f| f.id == asked.file_id)
        .ok_or_else(|| Error::not_found("file", &asked.file_id))?;
    let version = file
        .versions
        .iter()
        .find(|v| v.version == i64::from(asked.version))
        .cloned()
        .ok_or_else(|| {
            Error::not_found("file version", format!("{}/{}", file.id, asked.version))
        })?;
    if version.withdrawn != 0 {
        return Err(Error::precondition(
            "VERSION_WITHDRAWN",
            "version",
            "this version was withdrawn already",
        ));
    }
    store::files::withdraw_version(&mut tx, &file.id, version.version, &asked.reason).await?;
    tx.commit().await?;
    // The record stays; the bytes go once the withdrawal is committed (a
    // failed delete leaves bytes nobody can download, and says so).
    if let Err(e) = files.delete(&version.object_key).await {
        tracing::warn!(error = %e, key = version.object_key, "a withdrawn version's bytes stay");
    }
    Ok(api::FileVersion {
        withdrawn: true,
        withdraw_reason: asked.reason,
        ..version_proto(&version)
    })
}

pub(crate) fn file_proto(f: &File, with_withdrawn: bool) -> api::ItemFile {
    api::ItemFile {
        id: f.id.clone(),
        item_id: f.item_id.clone(),
        label: Some(f.label.clone()),
        language: f.language.clone(),
        current: f.current().map(version_proto),
        version_count: f
            .versions
            .iter()
            .filter(|v| with_withdrawn || v.withdrawn == 0)
            .count() as i32,
        create_time: Some(timestamp(f.created_at)),
    }
}

/// A version as the public sees it: without who uploaded it, a staff
/// member's account, which a visitor has no need of.
fn public_version(v: &Version) -> api::FileVersion {
    api::FileVersion {
        uploaded_by: String::new(),
        ..version_proto(v)
    }
}

pub(crate) fn version_proto(v: &Version) -> api::FileVersion {
    api::FileVersion {
        file_id: v.file_id.clone(),
        version: v.version as i32,
        file_name: v.file_name.clone(),
        media_type: v.media_type.clone(),
        size_bytes: v.size_bytes,
        sha256: v.sha256.clone(),
        uploaded_by: v.uploaded_by.clone(),
        upload_time: Some(timestamp(v.uploaded_at)),
        withdrawn: v.withdrawn != 0,
        withdraw_reason: v.withdraw_reason.clone(),
    }
}
