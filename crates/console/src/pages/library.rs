//! The library: search in Arabic and English, an item's page with its
//! files and history, adding an item with its file and sensitivity level
//! (the item's visibility), and the moderation of partners' contributions.
//!
//! A file goes from the browser to resources' client-streaming `UploadFile`
//! as it arrives (the multipart body is never held whole, see
//! [`crate::session::FilePart`]), in chunks of at most 256 KiB (the service
//! takes 1 MiB). The console holds the browser to the service's size limits
//! by kind of content before sending a byte when the body's length says the
//! file is too large, and while it streams otherwise: the call is then
//! cancelled (the service keeps nothing), the rest of the body read and
//! dropped so the browser gets the answer, and the form shows the limit next
//! to the file. The service checks again, the content itself: its refusal
//! (a program, a type the content contradicts) lands next to the file too.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use markaz_kit::auth::Role;
use markaz_proto::resources::v1 as res;
use minijinja::{Value, context};

use super::{STAFF, choices, enum_name, enum_names, enum_value, form_text, is_staff, next_page};
use crate::AppState;
use crate::i18n::Lang;
use crate::render::Outcome::{Again, Done};
use crate::render::{Answer, Ctx, Fail, Form};
use crate::session::FilePart;

/// Who reads the library here (the service lets donors and reviewers read
/// it too; the console offers them no library screen).
pub const LIBRARY: &[Role] = &[Role::Admin, Role::Staff, Role::Trainer, Role::Partner];
/// Who adds items: staff, and partners their contributions.
pub const CONTRIBUTE: &[Role] = &[Role::Admin, Role::Staff, Role::Partner];

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/library", get(library))
        .route("/library/new", get(new_item).post(create_item))
        .route("/library/suggest", get(suggest))
        .route("/library/usage", get(usage_report))
        .route("/library/items/{id}", get(item))
        .route("/library/items/{id}/edit", get(edit_item).post(update_item))
        .route("/library/items/{id}/files", post(add_file))
        .route("/library/items/{id}/files/{file}", get(download))
        .route(
            "/library/items/{id}/files/{file}/versions",
            get(versions).post(add_version),
        )
        .route(
            "/library/items/{id}/files/{file}/versions/{version}/withdraw",
            post(withdraw_version),
        )
        .route("/library/items/{id}/{action}", post(act))
        .route("/public/library", get(public_library))
        .route("/public/library/{id}", get(public_item))
        .route("/public/library/{id}/files/{file}", get(public_download))
        .route("/public/{tenant}/library/{id}", get(center_item))
        .route(
            "/public/{tenant}/library/{id}/files/{file}",
            get(center_download),
        )
}

const MIB: u64 = 1024 * 1024;

/// Resources' size limits by kind of content (`UploadFile`): documents
/// 200 MiB, images 50, audio 500, video 2 GiB, zip archives 500.
pub const SIZE_LIMITS: &[(&str, u64)] = &[
    ("document", 200 * MIB),
    ("image", 50 * MIB),
    ("audio", 500 * MIB),
    ("video", 2048 * MIB),
    ("archive", 500 * MIB),
];

/// The kind of content a file is, as the browser names it (its type, else
/// its extension), and that kind's limit.
pub fn size_limit(content_type: &str, file_name: &str) -> (&'static str, u64) {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let class = match content_type.split('/').next().unwrap_or("") {
        "image" => "image",
        "audio" => "audio",
        "video" => "video",
        _ if content_type.contains("zip") && !content_type.contains("epub") => "archive",
        _ => match ext.as_str() {
            "png" | "jpg" | "jpeg" | "gif" | "webp" => "image",
            "mp3" | "m4a" | "ogg" | "oga" | "wav" | "flac" => "audio",
            "mp4" | "mov" | "webm" | "ogv" | "avi" => "video",
            "zip" => "archive",
            _ => "document",
        },
    };
    let limit = SIZE_LIMITS
        .iter()
        .find(|(c, _)| *c == class)
        .map_or(200 * MIB, |(_, l)| *l);
    (class, limit)
}

/// What sending a file came to.
enum Sent {
    /// The service answered (kept it, or refused it).
    Answered(Box<Result<tonic::Response<res::ItemFile>, tonic::Status>>),
    /// Larger than its kind's limit: nothing kept.
    TooLarge { class: &'static str, limit: u64 },
    /// The browser's body broke off.
    Broken,
}

/// How much is passed on per message.
const CHUNK: usize = 256 * 1024;

/// Reads the rest of a file and drops it, so the browser, still sending,
/// gets the answer.
async fn drain(field: &mut multer::Field<'static>) {
    while let Ok(Some(_)) = field.chunk().await {}
}

/// Streams `part` to `UploadFile` behind `header`.
async fn send_file(ctx: &Ctx, header: res::UploadFileHeader, mut part: FilePart) -> Sent {
    let (class, limit) = size_limit(&part.content_type, &part.file_name);
    if part.at_least.is_some_and(|n| n > limit) {
        drain(&mut part.field).await;
        return Sent::TooLarge { class, limit };
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<Sent>();
    let state = Chunks {
        field: part.field,
        sent: 0,
        buffer: BytesMut::new(),
        stop: Some(stop_tx),
        done: false,
        class,
        limit,
    };
    let chunks = futures::stream::unfold(state, next_chunk);
    let first = res::UploadFileRequest {
        payload: Some(res::upload_file_request::Payload::Header(header)),
    };
    let messages = futures::stream::once(async move { first }).chain(chunks);
    let mut client = ctx.resources_streaming();
    let call = client.upload_file(messages);
    tokio::select! {
        answer = call => Sent::Answered(Box::new(answer)),
        Ok(stopped) = stop_rx => stopped,
    }
}

/// The file's bytes as upload messages, and what stops them.
struct Chunks {
    field: multer::Field<'static>,
    sent: u64,
    buffer: BytesMut,
    /// Told when the file turns out too large, or the body breaks off.
    stop: Option<tokio::sync::oneshot::Sender<Sent>>,
    done: bool,
    class: &'static str,
    limit: u64,
}

async fn next_chunk(mut s: Chunks) -> Option<(res::UploadFileRequest, Chunks)> {
    loop {
        if s.buffer.len() >= CHUNK || (s.done && !s.buffer.is_empty()) {
            let n = s.buffer.len().min(CHUNK);
            let out = s.buffer.split_to(n).freeze();
            let message = res::UploadFileRequest {
                payload: Some(res::upload_file_request::Payload::Chunk(out.to_vec())),
            };
            return Some((message, s));
        }
        if s.done {
            return None;
        }
        match s.field.chunk().await {
            Ok(Some(bytes)) => {
                s.sent += bytes.len() as u64;
                if s.sent > s.limit {
                    // Never end the stream here: the service would keep
                    // what came so far. The call is cancelled instead.
                    drain(&mut s.field).await;
                    if let Some(stop) = s.stop.take() {
                        let _ = stop.send(Sent::TooLarge {
                            class: s.class,
                            limit: s.limit,
                        });
                    }
                    futures::future::pending::<()>().await;
                }
                s.buffer.extend_from_slice(&bytes);
            }
            Ok(None) => s.done = true,
            Err(_) => {
                if let Some(stop) = s.stop.take() {
                    let _ = stop.send(Sent::Broken);
                }
                futures::future::pending::<()>().await;
            }
        }
    }
}

/// The file kept, or why not: a refusal put on the form, next to the file.
fn upload_outcome(ctx: &Ctx, form: &mut Form, sent: Sent) -> Result<Option<res::ItemFile>, Fail> {
    let lang = ctx.lang;
    match sent {
        Sent::Answered(answer) => {
            let status = match *answer {
                Ok(file) => return Ok(Some(file.into_inner())),
                Err(status) => status,
            };
            let mut moved = Form::default();
            moved.absorb(status)?;
            for (field, description) in moved.summary {
                // The upload's header and chunks are the file the form sent.
                let field = if field.starts_with("header.label") {
                    field
                } else {
                    "file".to_string()
                };
                form.object(&field, description);
            }
            form.refusals.extend(moved.refusals);
        }
        Sent::TooLarge { class, limit } => form.object(
            "file",
            format!(
                "{} {}: {} {}",
                lang.label("lib_too_large"),
                lang.label(&format!("lib_class_{class}")),
                lang.number((limit / MIB) as i64),
                lang.label("lib_mib"),
            ),
        ),
        Sent::Broken => form.refusals.push(lang.label("lib_upload_broken")),
    }
    Ok(None)
}

fn upload_header(
    item_id: &str,
    f: &crate::session::FormFields,
    part: &FilePart,
    request_id: &str,
) -> res::UploadFileHeader {
    res::UploadFileHeader {
        item_id: item_id.to_string(),
        label: form_text(f, "header.label"),
        file_name: part.file_name.clone(),
        // The service tells the type from the content (and the name's
        // extension); the browser's guess (often octet-stream) would only
        // be contradicted.
        media_type: String::new(),
        request_id: if request_id.is_empty() {
            String::new()
        } else {
            format!("{request_id}-file")
        },
        ..Default::default()
    }
}

// ------------------------------------------------------------- the list

async fn library(ctx: Ctx) -> Answer {
    ctx.require(LIBRARY)?;
    let lang = ctx.lang;
    let filters = ctx.filters(&["q", "kind", "language"]);
    let query = ctx.q("q").trim().to_string();
    let kind = enum_value!(res::ItemKind, ctx.q("kind"));
    let language = ctx.q("language").to_string();
    let item_row = |i: &res::Item, snippets: Vec<Value>| {
        context! {
            id => i.id,
            title => lang.text(i.title.as_ref()),
            kind => enum_name!(res::ItemKind, i.kind),
            state => enum_name!(res::ItemState, i.state),
            visibility => enum_name!(res::Visibility, i.visibility),
            language => i.language,
            contribution => i.contribution,
            files => i.file_count,
            source => source_label(lang, i),
            year => i.publication_date.as_ref().map(|d| d.year).filter(|y| *y > 0).map(|y| lang.digits(&y.to_string())),
            snippets => snippets,
        }
    };
    let (rows, total, next, facets) = if query.is_empty() {
        let listed = ctx
            .resources()
            .list_items(res::ListItemsRequest {
                page_size: 20,
                page_token: ctx.q("page").to_string(),
                kind,
                language: language.clone(),
                ..Default::default()
            })
            .await?
            .into_inner();
        let rows: Vec<Value> = listed.items.iter().map(|i| item_row(i, vec![])).collect();
        (
            rows,
            listed.total_size,
            listed.next_page_token,
            Value::from(()),
        )
    } else {
        let found = ctx
            .resources()
            .search_items(res::SearchItemsRequest {
                query: query.clone(),
                filters: Some(res::SearchFilters {
                    kinds: if kind == 0 { vec![] } else { vec![kind] },
                    languages: if language.is_empty() {
                        vec![]
                    } else {
                        vec![language.clone()]
                    },
                    ..Default::default()
                }),
                page_size: 20,
                page_token: ctx.q("page").to_string(),
            })
            .await;
        let found = match found {
            Ok(f) => f.into_inner(),
            Err(s) if s.code() == tonic::Code::InvalidArgument => {
                let mut filters = filters;
                filters.absorb(s)?;
                return render_library(&ctx, filters, vec![], 0, String::new(), Value::from(()))
                    .await;
            }
            Err(s) => return Err(s.into()),
        };
        let rows = found
            .results
            .iter()
            .filter_map(|r| {
                let item = r.item.as_ref()?;
                Some(item_row(item, snippets_of(lang, &r.snippets)))
            })
            .collect();
        let facets = found.facets.map(|f| {
            context! {
                kinds => f.kinds.iter().map(|c| context! { value => c.value, label => lang.label(&c.value), count => lang.number(i64::from(c.count)) }).collect::<Vec<_>>(),
                languages => f.languages.iter().map(|c| context! { value => c.value, count => lang.number(i64::from(c.count)) }).collect::<Vec<_>>(),
            }
        });
        (
            rows,
            found.total_size,
            found.next_page_token,
            Value::from_serialize(facets),
        )
    };
    render_library(&ctx, filters, rows, total, next, facets).await
}

async fn render_library(
    ctx: &Ctx,
    filters: Form,
    rows: Vec<Value>,
    total: i32,
    next: String,
    facets: Value,
) -> Answer {
    let lang = ctx.lang;
    let brief = |i: &res::Item| {
        context! {
            id => i.id,
            title => lang.text(i.title.as_ref()),
            state => enum_name!(res::ItemState, i.state),
            source => source_label(lang, i),
            note => i.state_note,
        }
    };
    // Staff: the contributions waiting for them. A partner: its own, in
    // every state (the service shows a partner no one else's unpublished).
    let waiting = if is_staff(ctx) {
        ctx.resources()
            .list_items(res::ListItemsRequest {
                page_size: 50,
                state: res::ItemState::Submitted as i32,
                contributions_only: true,
                ..Default::default()
            })
            .await?
            .into_inner()
            .items
            .iter()
            .map(brief)
            .collect::<Vec<_>>()
    } else {
        Vec::new()
    };
    let mine = match ctx.partner_org() {
        Some(org) => ctx
            .resources()
            .list_items(res::ListItemsRequest {
                page_size: 50,
                contributions_only: true,
                source_organization_id: org,
                ..Default::default()
            })
            .await?
            .into_inner()
            .items
            .iter()
            .map(brief)
            .collect::<Vec<_>>(),
        None => Vec::new(),
    };
    let may_add = ctx
        .session
        .as_ref()
        .is_some_and(|s| s.who.has_any(CONTRIBUTE));
    Ok(ctx.render_status(
        filters.status(),
        "library.html",
        context! {
            filters => filters,
            searched => !ctx.q("q").trim().is_empty(),
            rows => rows,
            total => lang.number(i64::from(total)),
            next => next_page(ctx, &next),
            facets => facets,
            kinds => choices(lang, enum_names!(res::ItemKind)),
            languages => languages(lang),
            waiting => waiting,
            mine => mine,
            may_add => may_add,
            staff => is_staff(ctx),
            done => ctx.q("done"),
        },
    ))
}

/// The matched words of a search result, marked; the reader's language's
/// fields first.
fn snippets_of(lang: Lang, snippets: &[res::Snippet]) -> Vec<Value> {
    let mine = format!(".{}", lang.code());
    // A matched summary says most; then authors or topics; a title last
    // (it is shown above anyway). The reader's language first.
    let mut ordered: Vec<&res::Snippet> = snippets
        .iter()
        .filter(|s| s.segments.iter().any(|g| g.r#match))
        .collect();
    ordered.sort_by_key(|s| (s.field.starts_with("title"), !s.field.ends_with(&mine)));
    ordered
        .into_iter()
        .take(1)
        .map(|s| {
            context! {
                field => s.field,
                dir => if s.field.ends_with(".en") { "ltr" } else if s.field.ends_with(".ar") { "rtl" } else { "auto" },
                start => s.truncated_start,
                end => s.truncated_end,
                segments => s.segments.iter().map(|g| context! { text => g.text, mark => g.r#match }).collect::<Vec<_>>(),
            }
        })
        .collect()
}

fn source_label(lang: Lang, i: &res::Item) -> String {
    let Some(s) = &i.source else {
        return String::new();
    };
    let kind = lang.label(enum_name!(res::SourceKind, s.kind));
    if s.name.is_empty() {
        kind
    } else {
        format!("{kind} · {}", s.name)
    }
}

fn languages(lang: Lang) -> Vec<super::Choice> {
    ["ar", "en", "ku", "mul"]
        .iter()
        .map(|code| super::Choice {
            value: code.to_string(),
            label: lang.label(&format!("lib_language_{code}")),
        })
        .collect()
}

// ------------------------------------------------------------ a new item

async fn new_item(ctx: Ctx) -> Answer {
    ctx.require(CONTRIBUTE)?;
    let form = Form::new()
        .with("item.language", "ar")
        .with("item.licence", "LICENCE_ALL_RIGHTS_RESERVED");
    item_form(&ctx, form).await
}

/// The sensitivity levels, each said in words.
fn visibilities(lang: Lang) -> Vec<super::Choice> {
    enum_names!(res::Visibility)
        .into_iter()
        .map(|v| super::Choice {
            value: v.to_string(),
            label: format!("{} — {}", lang.label(v), lang.label(&format!("{v}_HINT"))),
        })
        .collect()
}

async fn item_form(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    ctx.render_form(
        "item_form.html",
        form,
        context! {
            staff => is_staff(ctx),
            kinds => choices(lang, enum_names!(res::ItemKind)),
            visibilities => visibilities(lang),
            licences => choices(lang, enum_names!(res::Licence)),
            sources => choices(lang, enum_names!(res::SourceKind)),
            languages => languages(lang),
            limits => limits(lang),
        },
    )
}

/// The item a form describes (field names are the request's paths).
fn item_of(ctx: &Ctx, f: &crate::session::FormFields, form: &mut Form) -> res::Item {
    let year = super::parse_int(
        form,
        ctx.lang,
        "item.publication_date",
        f.get("item.publication_date"),
    );
    let authors: Vec<String> = f
        .get("item.authors")
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    // A partner's source is its own organization (the service fills it).
    let source = if is_staff(ctx) {
        Some(res::Source {
            kind: enum_value!(res::SourceKind, f.get("item.source.kind")),
            organization_id: String::new(),
            name: f.get("item.source.name").trim().to_string(),
        })
    } else {
        None
    };
    res::Item {
        kind: enum_value!(res::ItemKind, f.get("item.kind")),
        title: form_text(f, "item.title"),
        summary: form_text(f, "item.summary"),
        authors,
        language: f.get("item.language").to_string(),
        source,
        publication_date: year.map(|y| markaz_proto::common::v1::Date {
            year: y as i32,
            month: 0,
            day: 0,
        }),
        licence: enum_value!(res::Licence, f.get("item.licence")),
        licence_note: f.get("item.licence_note").trim().to_string(),
        visibility: enum_value!(res::Visibility, f.get("item.visibility")),
        external_url: f.get("item.external_url").trim().to_string(),
        ..Default::default()
    }
}

/// Adds an item and its file: the item first (a draft), then the file
/// streamed to it. A refused file leaves the draft, named in the form
/// (`item_id`), so sending the form again only sends the file.
async fn create_item(ctx: Ctx) -> Answer {
    let (f, mut form) = ctx.posted(CONTRIBUTE)?;
    let lang = ctx.lang;
    let part = ctx.take_file().filter(|p| !p.file_name.is_empty());
    let item_id = f.get("item_id").to_string();
    if part.is_none() && f.get("item.external_url").trim().is_empty() {
        form.object("file", lang.label("lib_file_or_link"));
    }
    let item = item_of(&ctx, f, &mut form);
    if form.has_errors() {
        if let Some(mut p) = part {
            drain(&mut p.field).await;
        }
        return item_form(&ctx, form).await;
    }
    // Known too large before anything is made: the form says so at once.
    if let Some(p) = &part {
        let (class, limit) = size_limit(&p.content_type, &p.file_name);
        if p.at_least.is_some_and(|n| n > limit) {
            let mut p = part.expect("checked");
            drain(&mut p.field).await;
            upload_outcome(&ctx, &mut form, Sent::TooLarge { class, limit })?;
            return item_form(&ctx, form).await;
        }
    }
    let id = if item_id.is_empty() {
        let created = ctx
            .resources()
            .create_item(res::CreateItemRequest {
                item: Some(item),
                request_id: form.request_id.clone(),
            })
            .await;
        match form.outcome(created)? {
            Done(item) => item.id,
            Again => {
                if let Some(mut p) = part {
                    drain(&mut p.field).await;
                }
                return item_form(&ctx, form).await;
            }
        }
    } else {
        item_id
    };
    if let Some(p) = part {
        let header = upload_header(&id, f, &p, &form.request_id);
        let sent = send_file(&ctx, header, p).await;
        if upload_outcome(&ctx, &mut form, sent)?.is_none() {
            form = form.with("item_id", id);
            return item_form(&ctx, form).await;
        }
    }
    ctx.redirect(&format!("/library/items/{id}?done=lib_added"))
}

// ------------------------------------------------------------- an item

/// What an item's page says of it, signed in or public: both titles and
/// summaries, what it is, where from, its licence and link.
fn item_facts(lang: Lang, item: &res::Item) -> Value {
    context! {
        title_ar => item.title.as_ref().map(|t| t.ar.clone()),
        title_en => item.title.as_ref().map(|t| t.en.clone()),
        summary_ar => item.summary.as_ref().map(|t| t.ar.clone()),
        summary_en => item.summary.as_ref().map(|t| t.en.clone()),
        kind => enum_name!(res::ItemKind, item.kind),
        licence => enum_name!(res::Licence, item.licence),
        licence_note => item.licence_note,
        language => item.language,
        authors => item.authors,
        source => source_label(lang, item),
        url => item.external_url,
        year => item.publication_date.as_ref().map(|d| d.year).filter(|y| *y > 0).map(|y| lang.digits(&y.to_string())),
    }
}

// ------------------------------------------------- the public library

/// The configured center's public catalogue, no sign-in: resources'
/// `SearchPublicItems` with no token (the same page for everyone, the
/// service's limits counting the visitor). Words are required, as the RPC
/// requires them; without any, only the form.
async fn public_library(ctx: Ctx) -> Answer {
    let lang = ctx.lang;
    let tenant = public_tenant(&ctx)?;
    let mut filters = ctx.filters(&["q", "consortium"]);
    let consortium = matches!(ctx.q("consortium"), "on" | "true");
    let query = ctx.q("q").trim().to_string();
    let mut rows = Vec::new();
    let mut total = 0;
    let mut next = String::new();
    if !query.is_empty() {
        let found = ctx
            .state
            .upstream
            .resources(&ctx.anonymous())
            .search_public_items(res::SearchPublicItemsRequest {
                tenant_id: tenant.clone(),
                search: Some(res::SearchItemsRequest {
                    query,
                    page_size: 20,
                    page_token: ctx.q("page").to_string(),
                    ..Default::default()
                }),
                include_consortium_public: consortium,
            })
            .await;
        match found {
            Ok(found) => {
                let found = found.into_inner();
                total = found.total_size;
                next = found.next_page_token;
                rows = found
                    .results
                    .iter()
                    .filter_map(|r| {
                        let i = r.item.as_ref()?;
                        // Another center's item is marked with its center
                        // (the tenant the result carries) and linked to its
                        // page under that center's address.
                        let other = (!i.tenant_id.is_empty() && i.tenant_id != tenant)
                            .then(|| i.tenant_id.clone());
                        Some(context! {
                            id => i.id,
                            center => other,
                            title => lang.text(i.title.as_ref()),
                            kind => enum_name!(res::ItemKind, i.kind),
                            source => source_label(lang, i),
                            snippets => snippets_of(lang, &r.snippets),
                        })
                    })
                    .collect();
            }
            Err(s) if s.code() == tonic::Code::InvalidArgument => filters.absorb(s)?,
            Err(s) => return Err(s.into()),
        }
    }
    Ok(ctx.render_status(
        filters.status(),
        "public_library.html",
        context! {
            filters => filters,
            searched => !ctx.q("q").trim().is_empty(),
            rows => rows,
            total => lang.number(i64::from(total)),
            next => next_page(&ctx, &next),
        },
    ))
}

/// The center whose public library the console serves, or 404 when it
/// serves none.
fn public_tenant(ctx: &Ctx) -> Result<String, Fail> {
    match ctx.state.config.public_tenant.as_str() {
        "" => Err(Fail::NotFound),
        tenant => Ok(tenant.to_string()),
    }
}

/// A public call's refusal as the visitor's answer: a malformed id in the
/// address names nothing, so it is the same 404 as anything not public.
fn public_fail(s: tonic::Status) -> Fail {
    if s.code() == tonic::Code::InvalidArgument {
        Fail::NotFound
    } else {
        s.into()
    }
}

/// A public item of the configured center and the files it offers, no
/// sign-in (`GetPublicItem`, `ListPublicItemFiles`, no token): anything not
/// public is NOT_FOUND, as the service answers.
async fn public_item(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let tenant = public_tenant(&ctx)?;
    public_item_of(&ctx, tenant, id, None).await
}

/// Another center's public item (a consortium result of the public
/// library), at its center's address: the same page, the same rules.
async fn center_item(ctx: Ctx, Path((tenant, id)): Path<(String, String)>) -> Answer {
    let center = Some(tenant.clone());
    public_item_of(&ctx, tenant, id, center).await
}

/// `center` names the center in the page's addresses when it is not the
/// configured one (`/public/{center}/library/{id}/files/{file}`).
async fn public_item_of(ctx: &Ctx, tenant: String, id: String, center: Option<String>) -> Answer {
    let lang = ctx.lang;
    let mut resources = ctx.state.upstream.resources(&ctx.anonymous());
    let item = resources
        .get_public_item(res::GetPublicItemRequest {
            tenant_id: tenant.clone(),
            id: id.clone(),
        })
        .await
        .map_err(public_fail)?
        .into_inner();
    let files = resources
        .list_public_item_files(res::ListPublicItemFilesRequest {
            tenant_id: tenant,
            item_id: id,
        })
        .await
        .map_err(public_fail)?
        .into_inner()
        .files;
    ctx.render(
        "public_library.html",
        context! {
            center => center,
            item => context! {
                id => item.id,
                title => lang.text(item.title.as_ref()),
                ..item_facts(lang, &item)
            },
            files => files.iter().map(|f| file_row(lang, f)).collect::<Vec<_>>(),
        },
    )
}

/// A public item's file, its current version, streamed to anyone
/// (`DownloadPublicFile`, no token; counted in the item's usage).
async fn public_download(ctx: Ctx, Path((id, file)): Path<(String, String)>) -> Answer {
    let tenant = public_tenant(&ctx)?;
    public_download_of(&ctx, tenant, id, file).await
}

/// Another center's public file.
async fn center_download(
    ctx: Ctx,
    Path((tenant, id, file)): Path<(String, String, String)>,
) -> Answer {
    public_download_of(&ctx, tenant, id, file).await
}

async fn public_download_of(ctx: &Ctx, tenant: String, id: String, file: String) -> Answer {
    let stream = ctx
        .state
        .upstream
        .resources_streaming(&ctx.anonymous())
        .download_public_file(res::DownloadPublicFileRequest {
            tenant_id: tenant,
            download: Some(res::DownloadFileRequest {
                item_id: id,
                file_id: file,
                version: 0,
                offset: 0,
            }),
        })
        .await
        .map_err(public_fail)?
        .into_inner();
    streamed_file(stream).await
}

async fn item(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(LIBRARY)?;
    item_page(&ctx, &id, Form::new()).await
}

/// An item and its files with their current version.
async fn item_and_files(ctx: &Ctx, id: &str) -> Result<(res::Item, Vec<res::ItemFile>), Fail> {
    let item = ctx
        .resources()
        .get_item(res::GetItemRequest { id: id.to_string() })
        .await?
        .into_inner();
    let files = ctx
        .resources()
        .list_item_files(res::ListItemFilesRequest {
            item_id: id.to_string(),
        })
        .await?
        .into_inner()
        .files;
    Ok((item, files))
}

async fn item_page(ctx: &Ctx, id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let (item, files) = item_and_files(ctx, id).await?;
    let staff = is_staff(ctx);
    let own = own_contribution(ctx, &item);
    // The history is the moderation's: staff's, and the contributor's own.
    let history = if staff || own {
        ctx.resources()
            .list_item_history(res::ListItemHistoryRequest {
                item_id: id.to_string(),
                page_size: 100,
                page_token: String::new(),
            })
            .await?
            .into_inner()
            .entries
    } else {
        Vec::new()
    };
    // Its use month by month: the owner's figures (staff, and the
    // contributor of its own contribution), as the service rules.
    let usage = if staff || own {
        let usage = ctx
            .resources()
            .get_item_usage(res::GetItemUsageRequest {
                item_id: id.to_string(),
                from: None,
                until: None,
            })
            .await?
            .into_inner();
        usage_view(
            lang,
            &usage.months,
            usage.total_views,
            usage.total_downloads,
        )
    } else {
        Value::from(())
    };
    let state = res::ItemState::try_from(item.state).unwrap_or(res::ItemState::Unspecified);
    use res::ItemState as S;
    let editable = matches!(state, S::Draft | S::ChangesRequested);
    let actions = context! {
        edit => may_edit(ctx, &item),
        moderate => staff && item.contribution && state == S::Submitted,
        publish => staff && !item.contribution && matches!(state, S::Draft | S::Withdrawn),
        withdraw => staff && state == S::Published,
        submit => item.contribution && editable && (staff || own),
        upload => may_upload(ctx, &item),
    };
    ctx.render_form(
        "item.html",
        form,
        context! {
            item => context! {
                id => item.id,
                state => enum_name!(res::ItemState, item.state),
                visibility => enum_name!(res::Visibility, item.visibility),
                contribution => item.contribution,
                note => item.state_note,
                views => lang.number(item.view_count),
                downloads => lang.number(item.download_count),
                published => lang.timestamp(item.publish_time.as_ref()),
                etag => item.etag,
                ..item_facts(lang, &item)
            },
            files => files.iter().map(|f| file_row(lang, f)).collect::<Vec<_>>(),
            history => history.iter().map(|h| context! {
                from => enum_name!(res::ItemState, h.from_state),
                to => enum_name!(res::ItemState, h.to_state),
                actor => h.actor,
                by_contributor => h.by_contributor,
                note => h.note,
                time => lang.timestamp(h.time.as_ref()),
            }).collect::<Vec<_>>(),
            actions => actions,
            usage => usage,
            limits => limits(lang),
            done => ctx.q("done"),
        },
    )
}

/// What an item's page says of one of its files, signed in or public: its
/// label, and its current version (none once every version was withdrawn).
fn file_row(lang: Lang, file: &res::ItemFile) -> Value {
    let current = file.current.as_ref();
    context! {
        id => file.id,
        label => lang.text(file.label.as_ref()),
        name => current.map(|v| v.file_name.clone()),
        media_type => current.map(|v| v.media_type.clone()),
        size => current.map(|v| size_text(lang, v.size_bytes)),
        version => current.map(|v| lang.number(i64::from(v.version))),
        versions => lang.number(i64::from(file.version_count)),
        sha256 => current.map(|v| v.sha256.clone()),
    }
}

// ---------------------------------------------------------------- usage

/// A month as the reader reads it: `آذار ٢٠٢٦`, `Mar 2026`.
fn month_text(lang: Lang, m: Option<&res::YearMonth>) -> String {
    match m {
        Some(m) if m.year > 0 => format!(
            "{} {}",
            lang.month(m.month),
            lang.digits(&m.year.to_string())
        ),
        _ => String::new(),
    }
}

/// Months of use as a table and a chart of the downloads (the impact
/// page's bars, drawn on the server), with the period's totals: counts
/// only, never who.
fn usage_view(lang: Lang, months: &[res::MonthUsage], views: i64, downloads: i64) -> Value {
    let keys: Vec<String> = months
        .iter()
        .map(|m| {
            let ym = m.month.unwrap_or_default();
            format!("{:04}-{:02}", ym.year, ym.month)
        })
        .collect();
    let values: Vec<i64> = months.iter().map(|m| m.downloads).collect();
    let chart =
        super::impact::svg_bars(lang, &lang.label("lib_downloads_per_month"), &keys, &values);
    context! {
        months => months.iter().map(|m| context! {
            month => month_text(lang, m.month.as_ref()),
            views => lang.number(m.views),
            downloads => lang.number(m.downloads),
        }).collect::<Vec<_>>(),
        views => lang.number(views),
        downloads => lang.number(downloads),
        chart => Value::from_safe_string(chart),
    }
}

/// `YYYY-MM` (the digits either way) as a month; `None` when empty. A
/// malformed month is reported on the form under `field`.
fn parse_month(form: &mut Form, lang: Lang, field: &str, value: &str) -> Option<res::YearMonth> {
    let value: String = value
        .trim()
        .chars()
        .map(|c| match c {
            '٠'..='٩' => char::from_u32(c as u32 - '٠' as u32 + '0' as u32).unwrap_or(c),
            other => other,
        })
        .collect();
    if value.is_empty() {
        return None;
    }
    let parsed = value.split_once('-').and_then(|(y, m)| {
        let year: i32 = y.parse().ok()?;
        let month: i32 = m.parse().ok()?;
        (y.len() == 4 && (1..=12).contains(&month)).then_some(res::YearMonth { year, month })
    });
    if parsed.is_none() {
        form.object(field, lang.label("lib_bad_month"));
    }
    parsed
}

fn month_value(m: &res::YearMonth) -> String {
    format!("{:04}-{:02}", m.year, m.month)
}

/// The library's use over a period (staff, as `GetLibraryUsageReport`
/// allows): views and downloads by month, the most used items linked to
/// their pages, what was published and approved — counts only, never who.
/// A plain GET form; the last twelve months unless asked.
async fn usage_report(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    let lang = ctx.lang;
    let mut form = ctx.filters(&["from", "until"]);
    let today = markaz_kit::time::Date::today().to_proto();
    let this_month = res::YearMonth {
        year: today.year,
        month: today.month,
    };
    let months_back = this_month.year * 12 + this_month.month - 1 - 11;
    let year_ago = res::YearMonth {
        year: months_back / 12,
        month: months_back % 12 + 1,
    };
    let from = match ctx.q("from").trim() {
        "" => {
            form = form.with("from", month_value(&year_ago));
            Some(year_ago)
        }
        v => parse_month(&mut form, lang, "from", v),
    };
    let until = match ctx.q("until").trim() {
        "" => {
            form = form.with("until", month_value(&this_month));
            Some(this_month)
        }
        v => parse_month(&mut form, lang, "until", v),
    };
    let mut report = Value::from(());
    if !form.has_errors() {
        let answer = ctx
            .resources()
            .get_library_usage_report(res::GetLibraryUsageReportRequest {
                from,
                until,
                top: 10,
            })
            .await;
        match answer {
            Ok(r) => {
                let r = r.into_inner();
                let views = r.months.iter().map(|m| m.views).sum();
                let downloads = r.months.iter().map(|m| m.downloads).sum();
                report = context! {
                    from => month_text(lang, r.from.as_ref()),
                    until => month_text(lang, r.until.as_ref()),
                    top => r.top_items.iter().map(|i| context! {
                        id => i.item_id,
                        title => lang.text(i.title.as_ref()),
                        kind => enum_name!(res::ItemKind, i.kind),
                        views => lang.number(i.views),
                        downloads => lang.number(i.downloads),
                    }).collect::<Vec<_>>(),
                    published => lang.number(i64::from(r.items_published)),
                    published_total => lang.number(i64::from(r.items_published_total)),
                    approved => lang.number(i64::from(r.contributions_approved)),
                    ..usage_view(lang, &r.months, views, downloads)
                };
            }
            Err(s) if s.code() == tonic::Code::InvalidArgument => form.absorb(s)?,
            Err(s) => return Err(s.into()),
        }
    }
    Ok(ctx.render_status(
        form.status(),
        "library_usage.html",
        context! { filters => form, report => report },
    ))
}

// ------------------------------------------------------------ type-ahead

/// Titles starting with what was typed (`SuggestItems`), as a fragment of
/// links to their pages for the search box's list (htmx asks for it as one
/// types; the search form works without it). Nothing typed, or more than
/// the service takes, is an empty list.
async fn suggest(ctx: Ctx) -> Answer {
    ctx.require(LIBRARY)?;
    let lang = ctx.lang;
    let prefix = ctx.q("q").trim().to_string();
    let mut suggestions = Vec::new();
    if !prefix.is_empty() {
        let answer = ctx
            .resources()
            .suggest_items(res::SuggestItemsRequest {
                prefix,
                max_results: 8,
            })
            .await;
        match answer {
            Ok(a) => suggestions = a.into_inner().suggestions,
            Err(s) if s.code() == tonic::Code::InvalidArgument => {}
            Err(s) => return Err(s.into()),
        }
    }
    ctx.render(
        "library_suggest.html",
        context! {
            suggestions => suggestions.iter().map(|s| context! {
                id => s.item_id,
                title => lang.text(s.title.as_ref()),
                segments => s.segments.iter().map(|g| context! { text => g.text, mark => g.r#match }).collect::<Vec<_>>(),
            }).collect::<Vec<_>>(),
        },
    )
}

// ------------------------------------------------------ editing an item

/// What an item's edit form changes: everything while it is a draft or
/// sent back; once out, its presentation and visibility only (the
/// service's rule); a partner never names the source (it is its own).
fn edit_paths(open: bool, staff: bool) -> Vec<&'static str> {
    let mut paths = vec![
        "title",
        "summary",
        "authors",
        "licence",
        "licence_note",
        "visibility",
    ];
    if open {
        paths.extend(["kind", "language", "publication_date", "external_url"]);
        if staff {
            paths.push("source");
        }
    }
    paths
}

/// A contribution of the signed-in partner's own organization.
fn own_contribution(ctx: &Ctx, item: &res::Item) -> bool {
    item.contribution
        && ctx
            .partner_org()
            .is_some_and(|o| item.source.as_ref().is_some_and(|s| s.organization_id == o))
}

/// The service's rule for editing: staff every item, a partner its own
/// contribution while it is a draft or sent back (the console offers no
/// form the service would refuse to save).
fn may_edit(ctx: &Ctx, item: &res::Item) -> bool {
    is_staff(ctx) || (own_contribution(ctx, item) && is_open(item))
}

fn is_open(item: &res::Item) -> bool {
    matches!(
        res::ItemState::try_from(item.state),
        Ok(res::ItemState::Draft | res::ItemState::ChangesRequested)
    )
}

async fn edit_item(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(CONTRIBUTE)?;
    let item = ctx
        .resources()
        .get_item(res::GetItemRequest { id: id.clone() })
        .await?
        .into_inner();
    if !may_edit(&ctx, &item) {
        return Err(Fail::NotOffered);
    }
    let source = item.source.clone().unwrap_or_default();
    let mut form = Form::new()
        .with("etag", item.etag.clone())
        .with("item.kind", enum_name!(res::ItemKind, item.kind))
        .with("item.language", item.language.clone())
        .with(
            "item.visibility",
            enum_name!(res::Visibility, item.visibility),
        )
        .with("item.licence", enum_name!(res::Licence, item.licence))
        .with("item.licence_note", item.licence_note.clone())
        .with("item.source.kind", enum_name!(res::SourceKind, source.kind))
        .with("item.source.name", source.name.clone())
        .with("item.authors", item.authors.join("\n"))
        .with(
            "item.publication_date",
            item.publication_date
                .as_ref()
                .filter(|d| d.year > 0)
                .map(|d| d.year.to_string())
                .unwrap_or_default(),
        )
        .with("item.external_url", item.external_url.clone());
    form = super::put_text(form, "item.title", item.title.as_ref());
    form = super::put_text(form, "item.summary", item.summary.as_ref());
    item_edit_form(&ctx, &item, form).await
}

async fn item_edit_form(ctx: &Ctx, item: &res::Item, form: Form) -> Answer {
    let lang = ctx.lang;
    ctx.render_form(
        "item_edit.html",
        form,
        context! {
            item => context! {
                id => item.id,
                title => lang.text(item.title.as_ref()),
                state => enum_name!(res::ItemState, item.state),
                open => is_open(item),
            },
            staff => is_staff(ctx),
            kinds => choices(lang, enum_names!(res::ItemKind)),
            visibilities => visibilities(lang),
            licences => choices(lang, enum_names!(res::Licence)),
            sources => choices(lang, enum_names!(res::SourceKind)),
            languages => languages(lang),
        },
    )
}

async fn update_item(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(CONTRIBUTE)?;
    let current = ctx
        .resources()
        .get_item(res::GetItemRequest { id: id.clone() })
        .await?
        .into_inner();
    if !may_edit(&ctx, &current) {
        return Err(Fail::NotOffered);
    }
    let mut item = item_of(&ctx, f, &mut form);
    if form.has_errors() {
        return item_edit_form(&ctx, &current, form).await;
    }
    item.id = id.clone();
    item.etag = f.get("etag").to_string();
    // The form names the source's kind and printed name; the organization
    // it may also name stays.
    if let (Some(sent), Some(kept)) = (item.source.as_mut(), current.source.as_ref())
        && sent.kind == kept.kind
    {
        sent.organization_id = kept.organization_id.clone();
    }
    let paths = edit_paths(is_open(&current), is_staff(&ctx));
    let answer = ctx
        .resources()
        .update_item(res::UpdateItemRequest {
            item: Some(item),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.into_iter().map(str::to_string).collect(),
            }),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/library/items/{id}?done=lib_saved"),
        |form| item_edit_form(&ctx, &current, form),
    )
    .await
}

/// The size limits as the forms tell them.
fn limits(lang: Lang) -> Vec<Value> {
    SIZE_LIMITS
        .iter()
        .map(|(class, limit)| {
            context! {
                class => lang.label(&format!("lib_class_{class}")),
                mib => lang.number((limit / MIB) as i64),
            }
        })
        .collect()
}

fn size_text(lang: Lang, bytes: i64) -> String {
    if bytes >= MIB as i64 {
        format!(
            "{} {}",
            lang.digits(&format!("{:.1}", bytes as f64 / MIB as f64)),
            lang.label("lib_mib")
        )
    } else {
        format!(
            "{} {}",
            lang.number((bytes + 1023) / 1024),
            lang.label("lib_kib")
        )
    }
}

async fn add_file(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(CONTRIBUTE)?;
    let Some(part) = ctx.take_file().filter(|p| !p.file_name.is_empty()) else {
        form.object("file", ctx.lang.label("lib_choose_file"));
        return item_page(&ctx, &id, form).await;
    };
    let header = upload_header(&id, f, &part, &form.request_id);
    let sent = send_file(&ctx, header, part).await;
    match upload_outcome(&ctx, &mut form, sent)? {
        Some(_) => ctx.redirect(&format!("/library/items/{id}?done=lib_file_added")),
        None => item_page(&ctx, &id, form).await,
    }
}

/// Who adds a file or a version: staff while the item is not rejected, the
/// contributor while its contribution is open (resources' rule).
fn may_upload(ctx: &Ctx, item: &res::Item) -> bool {
    let rejected = item.state == res::ItemState::Rejected as i32;
    (is_staff(ctx) && !rejected) || (own_contribution(ctx, item) && is_open(item))
}

// -------------------------------------------------------- file versions

/// Every version of a file, newest first (staff see the withdrawn ones,
/// with why): each downloaded by its number; staff withdraw one; a new
/// version uploaded as a file is.
async fn versions(ctx: Ctx, Path((id, file)): Path<(String, String)>) -> Answer {
    ctx.require(LIBRARY)?;
    versions_page(&ctx, &id, &file, Form::new()).await
}

async fn versions_page(ctx: &Ctx, id: &str, file_id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let (item, files) = item_and_files(ctx, id).await?;
    let file = files
        .into_iter()
        .find(|f| f.id == file_id)
        .ok_or(Fail::NotFound)?;
    let staff = is_staff(ctx);
    let versions = ctx
        .resources()
        .list_file_versions(res::ListFileVersionsRequest {
            item_id: id.to_string(),
            file_id: file_id.to_string(),
            include_withdrawn: staff,
        })
        .await?
        .into_inner()
        .versions;
    let current = file.current.as_ref().map(|v| v.version);
    ctx.render_form(
        "file_versions.html",
        form,
        context! {
            item => context! { id => item.id, title => lang.text(item.title.as_ref()) },
            file => context! {
                id => file.id,
                label => lang.text(file.label.as_ref()),
            },
            versions => versions.iter().map(|v| context! {
                number => v.version,
                shown => lang.number(i64::from(v.version)),
                name => v.file_name,
                media_type => v.media_type,
                size => size_text(lang, v.size_bytes),
                sha256 => v.sha256,
                by => v.uploaded_by,
                time => lang.timestamp(v.upload_time.as_ref()),
                withdrawn => v.withdrawn,
                reason => v.withdraw_reason,
                current => current == Some(v.version),
            }).collect::<Vec<_>>(),
            staff => staff,
            upload => may_upload(ctx, &item),
            limits => limits(lang),
            done => ctx.q("done"),
        },
    )
}

/// A new version of a file: the same upload as a new file, naming it.
async fn add_version(ctx: Ctx, Path((id, file)): Path<(String, String)>) -> Answer {
    let (f, mut form) = ctx.posted(CONTRIBUTE)?;
    let Some(part) = ctx.take_file().filter(|p| !p.file_name.is_empty()) else {
        form.object("file", ctx.lang.label("lib_choose_file"));
        return versions_page(&ctx, &id, &file, form).await;
    };
    let header = res::UploadFileHeader {
        file_id: file.clone(),
        ..upload_header(&id, f, &part, &form.request_id)
    };
    let sent = send_file(&ctx, header, part).await;
    match upload_outcome(&ctx, &mut form, sent)? {
        Some(_) => ctx.redirect(&format!(
            "/library/items/{id}/files/{file}/versions?done=lib_version_added"
        )),
        None => versions_page(&ctx, &id, &file, form).await,
    }
}

/// Withdraws a version uploaded in error (staff, with why): it can no
/// longer be downloaded, the newest other becomes current.
async fn withdraw_version(
    ctx: Ctx,
    Path((id, file, version)): Path<(String, String, i32)>,
) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let answer = ctx
        .resources()
        .withdraw_file_version(res::WithdrawFileVersionRequest {
            item_id: id.clone(),
            file_id: file.clone(),
            version,
            reason: f.get("reason").trim().to_string(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/library/items/{id}/files/{file}/versions?done=lib_version_withdrawn"),
        |form| versions_page(&ctx, &id, &file, form),
    )
    .await
}

/// A file's current version, streamed from the service to the browser.
async fn download(ctx: Ctx, Path((id, file)): Path<(String, String)>) -> Answer {
    ctx.require(LIBRARY)?;
    let stream = ctx
        .resources_streaming()
        .download_file(res::DownloadFileRequest {
            item_id: id,
            file_id: file,
            // An older version by its number (`?version=2`), else the current.
            version: ctx.q("version").parse().unwrap_or(0),
            offset: 0,
        })
        .await?
        .into_inner();
    streamed_file(stream).await
}

/// A download's answer, staff's (`DownloadFile`) and the public's
/// (`DownloadPublicFile`) alike: the version's header makes the HTTP
/// headers, its chunks the body as they come (the file is never held
/// whole).
async fn streamed_file(mut stream: tonic::Streaming<res::DownloadFileResponse>) -> Answer {
    use res::download_file_response::Payload;
    let Some(res::DownloadFileResponse {
        payload: Some(Payload::Header(version)),
    }) = stream.message().await?
    else {
        return Err(Fail::NotFound);
    };
    let body = futures::stream::unfold(stream, |mut s| async move {
        match s.message().await {
            Ok(Some(res::DownloadFileResponse {
                payload: Some(Payload::Chunk(c)),
            })) => Some((Ok::<Bytes, std::io::Error>(Bytes::from(c)), s)),
            Ok(_) => None,
            Err(e) => Some((Err(std::io::Error::other(e.message().to_string())), s)),
        }
    });
    let mut r = axum::response::Response::new(axum::body::Body::from_stream(body));
    let h = r.headers_mut();
    let typed = http::HeaderValue::from_str(&version.media_type)
        .unwrap_or(http::HeaderValue::from_static("application/octet-stream"));
    h.insert(http::header::CONTENT_TYPE, typed);
    h.insert(http::header::CONTENT_LENGTH, version.size_bytes.into());
    if let Ok(v) = http::HeaderValue::from_str(&attachment(&version.file_name)) {
        h.insert(http::header::CONTENT_DISPOSITION, v);
    }
    // Not kept by any cache, the public's download neither: each download
    // counts in the item's usage, and a withdrawn version or item stops
    // being served at once.
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        "x-content-type-options",
        http::HeaderValue::from_static("nosniff"),
    );
    Ok(r)
}

/// `Content-Disposition` for a download (RFC 6266): the name as UTF-8,
/// percent-encoded, in `filename*` (RFC 5987), so an Arabic name survives
/// byte for byte; `filename` its ASCII-safe form, with its extension, for
/// the rare client that reads no `filename*`.
fn attachment(file_name: &str) -> String {
    let encoded: String = file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{encoded}",
        super::safe_file_name(file_name)
    )
}

/// The life cycle and moderation: publish, withdraw (staff); submit (the
/// contributing partner, or staff for it); approve, request changes,
/// reject (staff).
async fn act(ctx: Ctx, Path((id, action)): Path<(String, String)>) -> Answer {
    let roles: &[Role] = match action.as_str() {
        "submit" => CONTRIBUTE,
        "approve" | "changes" | "reject" | "publish" | "withdraw" => STAFF,
        _ => return Err(Fail::NotFound),
    };
    let (f, form) = ctx.posted(roles)?;
    let etag = f.get("etag").to_string();
    let note = f.get("note").trim().to_string();
    let mut r = ctx.resources();
    let answer = match action.as_str() {
        "submit" => {
            r.submit_contribution(res::SubmitContributionRequest {
                id: id.clone(),
                note,
                etag,
            })
            .await
        }
        "approve" => {
            r.approve_contribution(res::ApproveContributionRequest {
                id: id.clone(),
                note,
                etag,
            })
            .await
        }
        "changes" => {
            r.request_contribution_changes(res::RequestContributionChangesRequest {
                id: id.clone(),
                note,
                etag,
            })
            .await
        }
        "reject" => {
            r.reject_contribution(res::RejectContributionRequest {
                id: id.clone(),
                reason: note,
                etag,
            })
            .await
        }
        "publish" => {
            r.publish_item(res::PublishItemRequest {
                id: id.clone(),
                etag,
            })
            .await
        }
        _ => {
            r.withdraw_item(res::WithdrawItemRequest {
                id: id.clone(),
                reason: note,
                etag,
            })
            .await
        }
    };
    // A note or reason the service requires is its `note`/`reason` field.
    let answer = answer.map_err(|s| rename_reason(s, &action));
    ctx.finish(
        form,
        answer,
        |_| format!("/library/items/{id}?done=lib_{action}"),
        |form| item_page(&ctx, &id, form.with("action", action.clone())),
    )
    .await
}

/// The service calls a rejection's and a withdrawal's note `reason`; the
/// forms call every note `note`, so its violation lands next to it.
fn rename_reason(status: tonic::Status, action: &str) -> tonic::Status {
    if !matches!(action, "reject" | "withdraw") {
        return status;
    }
    crate::upstream::rename_violations(status, |field| {
        (field == "reason").then(|| "note".to_string())
    })
}
