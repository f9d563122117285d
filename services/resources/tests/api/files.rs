//! Files over gRPC streams: an upload in chunks checked as it arrives, a
//! download from any offset (a resumed one not counted again), versions,
//! withdrawal, refusals that keep nothing, the public's listing and
//! download of public items' files — and a 50 MiB file through both
//! directions with the process's memory measured.

use futures::StreamExt;
use ring::digest;

use crate::world::*;

both_backends!(
    upload_download_and_resume,
    files_live_in_s3_compatible_storage_too,
    the_public_downloads_public_files_only,
    the_public_lists_a_public_item_s_downloadable_files_only,
    refused_uploads_keep_nothing,
    fifty_mebibytes_stream_with_memory_bounded,
);

const MIB: usize = 1024 * 1024;

/// `size` bytes of a PDF (its signature, then a pattern), in chunks of at
/// most 1 MiB, generated as they are sent.
fn pdf_chunks(size: usize, seed: u8) -> impl Iterator<Item = Vec<u8>> {
    let mut sent = 0usize;
    std::iter::from_fn(move || {
        if sent >= size {
            return None;
        }
        let n = (size - sent).min(MIB);
        let mut chunk: Vec<u8> = (sent..sent + n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        if sent == 0 {
            let head = b"%PDF-1.7\n";
            chunk[..head.len()].copy_from_slice(head);
        }
        sent += n;
        Some(chunk)
    })
}

fn sha_of(chunks: impl Iterator<Item = Vec<u8>>) -> (String, u64) {
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut n = 0;
    for c in chunks {
        n += c.len() as u64;
        ctx.update(&c);
    }
    let hex = ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (hex, n)
}

fn header(item_id: &str, file_id: &str) -> api::UploadFileHeader {
    api::UploadFileHeader {
        item_id: item_id.into(),
        file_id: file_id.into(),
        label: text("التقرير الكامل", "Full report"),
        language: "ar".into(),
        file_name: "تقرير-2019.pdf".into(),
        media_type: "application/pdf".into(),
        ..Default::default()
    }
}

async fn upload(
    w: &mut World,
    token: &str,
    header: api::UploadFileHeader,
    chunks: impl Iterator<Item = Vec<u8>> + Send + 'static,
) -> Result<api::ItemFile, Status> {
    use api::upload_file_request::Payload;
    let messages = futures::stream::iter(
        std::iter::once(api::UploadFileRequest {
            payload: Some(Payload::Header(header)),
        })
        .chain(chunks.map(|c| api::UploadFileRequest {
            payload: Some(Payload::Chunk(c)),
        })),
    );
    w.client
        .upload_file(authed(messages, token))
        .await
        .map(|r| r.into_inner())
}

/// Downloads, hashing as the chunks come; returns the header, the hash,
/// the length and the largest chunk.
async fn download(
    w: &mut World,
    token: &str,
    req: api::DownloadFileRequest,
) -> Result<(api::FileVersion, String, u64, usize), Status> {
    use api::download_file_response::Payload;
    let mut stream = w
        .client
        .download_file(authed(req, token))
        .await?
        .into_inner();
    let mut header = None;
    let mut ctx = digest::Context::new(&digest::SHA256);
    let (mut n, mut largest) = (0u64, 0usize);
    while let Some(message) = stream.next().await {
        match message?.payload {
            Some(Payload::Header(h)) => {
                assert!(header.is_none(), "one header, first");
                header = Some(h);
            }
            Some(Payload::Chunk(c)) => {
                assert!(header.is_some(), "the header comes first");
                n += c.len() as u64;
                largest = largest.max(c.len());
                ctx.update(&c);
            }
            None => panic!("an empty message"),
        }
    }
    let hex = ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((header.expect("a header"), hex, n, largest))
}

async fn draft(w: &mut World) -> api::Item {
    let staff = w.staff.clone();
    let mut body = item_body(
        "تقرير الأثر 2019",
        "Impact report 2019",
        Visibility::Consortium,
    );
    body.external_url = String::new();
    w.create_item(&staff, body).await
}

async fn upload_download_and_resume(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let item = draft(&mut w).await;
    // Without a file or a link, an item is not published.
    let empty = w
        .client
        .publish_item(authed(
            api::PublishItemRequest {
                id: item.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&empty), "ITEM_EMPTY");

    let size = 3 * MIB + 12_345;
    let (sha, _) = sha_of(pdf_chunks(size, 1));
    let mut h = header(&item.id, "");
    h.size_bytes = size as i64;
    h.sha256 = sha.clone();
    let file = upload(&mut w, &staff, h, pdf_chunks(size, 1))
        .await
        .unwrap();
    let current = file.current.clone().unwrap();
    assert_eq!(current.version, 1);
    assert_eq!(current.size_bytes, size as i64);
    assert_eq!(current.sha256, sha);
    assert_eq!(current.media_type, "application/pdf");
    assert_eq!(current.file_name, "تقرير-2019.pdf");
    let item = w
        .client
        .publish_item(authed(
            api::PublishItemRequest {
                id: item.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(item.file_count, 1);

    // Another tenant downloads the consortium item whole.
    let other = w.other_staff.clone();
    let whole = api::DownloadFileRequest {
        item_id: item.id.clone(),
        file_id: file.id.clone(),
        version: 0,
        offset: 0,
    };
    let (h, got, n, largest) = download(&mut w, &other, whole.clone()).await.unwrap();
    assert_eq!((got.as_str(), n), (sha.as_str(), size as u64));
    assert_eq!(h.version, 1);
    assert!(largest <= MIB);
    // Resumed from an offset: the tail of the same bytes.
    let offset = 2 * MIB + 7;
    let (tail_sha, tail_len) = {
        let mut ctx = digest::Context::new(&digest::SHA256);
        let mut at = 0usize;
        let mut len = 0u64;
        for c in pdf_chunks(size, 1) {
            let start = at;
            at += c.len();
            if at > offset {
                let from = offset.saturating_sub(start);
                ctx.update(&c[from..]);
                len += (c.len() - from) as u64;
            }
        }
        let hex: String = ctx
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        (hex, len)
    };
    let (_, got, n, _) = download(
        &mut w,
        &other,
        api::DownloadFileRequest {
            version: 1,
            offset: offset as i64,
            ..whole.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!((got, n), (tail_sha, tail_len));
    // Past the end: refused; at the end: nothing more to send.
    let past = download(
        &mut w,
        &other,
        api::DownloadFileRequest {
            offset: size as i64 + 1,
            ..whole.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(field_violations(&past), vec!["offset"]);
    let (_, _, n, _) = download(
        &mut w,
        &other,
        api::DownloadFileRequest {
            offset: size as i64,
            ..whole.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(n, 0);
    // One download counted: the resumed ones were the same download.
    let usage = w
        .client
        .get_item_usage(authed(
            api::GetItemUsageRequest {
                item_id: item.id.clone(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(usage.total_downloads, 1);
    assert_eq!(usage.months.len(), 12);
    let events = w.published::<ev::ResourceDownloaded>().await;
    assert_eq!(events.len(), 1, "a count, without who");
    assert_eq!(events[0].item_tenant_id, TENANT);
    assert_eq!(events[0].reader_category, "consortium");
    assert_eq!(events[0].month_total, 1);

    // A second version becomes current; withdrawing it brings back the first.
    let v2 = upload(
        &mut w,
        &staff,
        header(&item.id, &file.id),
        pdf_chunks(1000, 2),
    )
    .await
    .unwrap();
    assert_eq!(v2.current.unwrap().version, 2);
    let withdrawn = w
        .client
        .withdraw_file_version(authed(
            api::WithdrawFileVersionRequest {
                item_id: item.id.clone(),
                file_id: file.id.clone(),
                version: 2,
                reason: "نسخة خاطئة".into(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(withdrawn.withdrawn);
    let files = w
        .client
        .list_item_files(authed(
            api::ListItemFilesRequest {
                item_id: item.id.clone(),
            },
            &other,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(files.files[0].current.as_ref().unwrap().version, 1);
    let gone = download(
        &mut w,
        &other,
        api::DownloadFileRequest {
            version: 2,
            ..whole.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    // A tenant-only item's files are another tenant's NOT_FOUND.
    let mut private = item_body("داخلي", "Internal", Visibility::Tenant);
    private.external_url = String::new();
    let private = w.create_item(&staff, private).await;
    let f = upload(&mut w, &staff, header(&private.id, ""), pdf_chunks(2000, 3))
        .await
        .unwrap();
    let hidden = download(
        &mut w,
        &other,
        api::DownloadFileRequest {
            item_id: private.id.clone(),
            file_id: f.id.clone(),
            version: 0,
            offset: 0,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
}

async fn refused_uploads_keep_nothing(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let item = draft(&mut w).await;
    // A checksum the bytes do not match.
    let mut h = header(&item.id, "");
    h.sha256 = "0".repeat(64);
    let err = upload(&mut w, &staff, h, pdf_chunks(5000, 1))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&err), vec!["header.sha256"]);
    // A declared size the stream exceeds.
    let mut h = header(&item.id, "");
    h.size_bytes = 100;
    let err = upload(&mut w, &staff, h, pdf_chunks(5000, 1))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&err), vec!["header.size_bytes"]);
    // A program is never kept, whatever it is called.
    let mut h = header(&item.id, "");
    h.file_name = "report.pdf".into();
    let exe = vec![b"MZ\x90\x00".to_vec(), vec![0u8; 4000]];
    let err = upload(&mut w, &staff, h, exe.into_iter())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // A header with every field wrong.
    let err = upload(
        &mut w,
        &staff,
        api::UploadFileHeader {
            item_id: String::new(),
            file_name: "../etc/passwd".into(),
            sha256: "xyz".into(),
            size_bytes: -1,
            ..Default::default()
        },
        std::iter::empty(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        field_violations(&err),
        vec![
            "header.item_id",
            "header.file_name",
            "header.size_bytes",
            "header.sha256"
        ]
    );
    assert_eq!(w.count("item_files", TENANT).await, 0);
    assert_eq!(w.count("file_versions", TENANT).await, 0);
    // Nothing is left in storage either.
    let mut left = Vec::new();
    let mut dirs = vec![w.files_dir.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                dirs.push(e.path());
            } else {
                left.push(e.path());
            }
        }
    }
    assert!(left.is_empty(), "{left:?}");
    // A partner may not add files to the center's item.
    let partner = w.partner();
    let err = upload(&mut w, &partner, header(&item.id, ""), pdf_chunks(100, 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

/// The process's resident memory, in bytes (Linux).
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

async fn fifty_mebibytes_stream_with_memory_bounded(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let item = draft(&mut w).await;
    let size = 50 * MIB;
    // The peak of the process (client and server: both run here) while the
    // file goes up and comes back, sampled every few milliseconds.
    let before = resident();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(resident(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let file = upload(&mut w, &staff, header(&item.id, ""), pdf_chunks(size, 9))
        .await
        .unwrap();
    let (_, sha, n, _) = download(
        &mut w,
        &staff,
        api::DownloadFileRequest {
            item_id: item.id.clone(),
            file_id: file.id.clone(),
            version: 0,
            offset: 0,
        },
    )
    .await
    .unwrap();
    sampling.abort();
    assert_eq!(n, size as u64);
    assert_eq!(sha, file.current.unwrap().sha256);
    let grew = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before);
    eprintln!(
        "50 MiB up and down: the process's resident memory grew by {:.1} MiB at most",
        grew as f64 / MIB as f64
    );
    // Whole in memory, the file alone would be 50 MiB (and a copy or two):
    // streamed, the process holds a few chunks and parts at a time (10 to
    // 25 MiB seen, the allocator keeping some of what was freed).
    assert!(
        grew < 40 * MIB as u64,
        "the process grew by {} MiB moving a 50 MiB file",
        grew / MIB as u64
    );
}

async fn files_live_in_s3_compatible_storage_too(backend: Backend) {
    let moto = crate::support::Moto::start();
    // The bucket is made (and checked) by the storage tests' helper.
    moto.bucket("markaz-library").await;
    let settings = markaz_resources::storage::S3Settings {
        endpoint: Some(moto.endpoint.clone()),
        bucket: "markaz-library".into(),
        region: "us-east-1".into(),
        access_key_id: "markaz-test".into(),
        secret_access_key: "markaz-test-secret".into(),
        allow_http: true,
    };
    let mut w = world_with(backend, Some(Files::S3(settings))).await;
    let staff = w.staff.clone();
    let item = draft(&mut w).await;
    // Larger than one S3 part (5 MiB): a real multipart upload.
    let size = 7 * MIB + 3;
    let (sha, _) = sha_of(pdf_chunks(size, 5));
    let file = upload(&mut w, &staff, header(&item.id, ""), pdf_chunks(size, 5))
        .await
        .unwrap();
    assert_eq!(file.current.as_ref().unwrap().sha256, sha);
    let asked = api::DownloadFileRequest {
        item_id: item.id.clone(),
        file_id: file.id.clone(),
        version: 0,
        offset: 0,
    };
    let (_, got, n, _) = download(&mut w, &staff, asked.clone()).await.unwrap();
    assert_eq!((got, n), (sha, size as u64));
    let (_, _, n, _) = download(
        &mut w,
        &staff,
        api::DownloadFileRequest {
            offset: (6 * MIB) as i64,
            ..asked
        },
    )
    .await
    .unwrap();
    assert_eq!(n, (MIB + 3) as u64);
    // Nothing was written to the local directory.
    assert!(!w.files_dir.exists());
}

async fn the_public_downloads_public_files_only(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let mut public = item_body("دليل عام", "Public guide", Visibility::Public);
    public.external_url = String::new();
    let public = w.create_item(&staff, public).await;
    let f = upload(&mut w, &staff, header(&public.id, ""), pdf_chunks(4000, 4))
        .await
        .unwrap();
    let ask = |item_id: &str, file_id: &str| api::DownloadPublicFileRequest {
        tenant_id: TENANT.into(),
        download: Some(api::DownloadFileRequest {
            item_id: item_id.into(),
            file_id: file_id.into(),
            version: 0,
            offset: 0,
        }),
    };
    // A draft is nobody's to download, public or not.
    let draft = w
        .client
        .download_public_file(tonic::Request::new(ask(&public.id, &f.id)))
        .await;
    assert_eq!(draft.err().map(|e| e.code()), Some(Code::NotFound));
    w.client
        .publish_item(authed(
            api::PublishItemRequest {
                id: public.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();
    let mut stream = w
        .client
        .download_public_file(tonic::Request::new(ask(&public.id, &f.id)))
        .await
        .unwrap()
        .into_inner();
    let mut n = 0;
    while let Some(m) = stream.next().await {
        if let Some(api::download_file_response::Payload::Chunk(c)) = m.unwrap().payload {
            n += c.len();
        }
    }
    assert_eq!(n, 4000);
    // A consortium item is not the public's.
    let mut member = item_body("للأعضاء", "Members", Visibility::Consortium);
    member.external_url = String::new();
    let member = w.create_item(&staff, member).await;
    let g = upload(&mut w, &staff, header(&member.id, ""), pdf_chunks(4000, 4))
        .await
        .unwrap();
    w.client
        .publish_item(authed(
            api::PublishItemRequest {
                id: member.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();
    let hidden = w
        .client
        .download_public_file(tonic::Request::new(ask(&member.id, &g.id)))
        .await;
    assert_eq!(hidden.err().map(|e| e.code()), Some(Code::NotFound));
    // The public's download counted, in the item's own tenant.
    let usage = w
        .client
        .get_item_usage(authed(
            api::GetItemUsageRequest {
                item_id: public.id.clone(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(usage.total_downloads, 1);
}

/// `ListPublicItemFiles`, with the files in S3-compatible storage (moto):
/// a published public item's files that can be downloaded, each with its
/// current version; a draft, an item not public and another center's item
/// answer NOT_FOUND, as an item that does not exist.
async fn the_public_lists_a_public_item_s_downloadable_files_only(backend: Backend) {
    let moto = crate::support::Moto::start();
    moto.bucket("markaz-library").await;
    let settings = markaz_resources::storage::S3Settings {
        endpoint: Some(moto.endpoint.clone()),
        bucket: "markaz-library".into(),
        region: "us-east-1".into(),
        access_key_id: "markaz-test".into(),
        secret_access_key: "markaz-test-secret".into(),
        allow_http: true,
    };
    let mut w = world_with(backend, Some(Files::S3(settings))).await;
    let staff = w.staff.clone();
    let guide = w
        .create_item(
            &staff,
            item_body(
                "دليل المناصرة العام",
                "Public advocacy guide",
                Visibility::Public,
            ),
        )
        .await;
    // The report: a second edition withdrawn, so the first is current.
    let report = upload(&mut w, &staff, header(&guide.id, ""), pdf_chunks(4000, 1))
        .await
        .unwrap();
    upload(
        &mut w,
        &staff,
        header(&guide.id, &report.id),
        pdf_chunks(5000, 2),
    )
    .await
    .unwrap();
    // An annex whose only version was withdrawn: nothing to download.
    let annex = upload(
        &mut w,
        &staff,
        api::UploadFileHeader {
            label: text("الملحق", "Annex"),
            file_name: "ملحق.pdf".into(),
            ..header(&guide.id, "")
        },
        pdf_chunks(3000, 3),
    )
    .await
    .unwrap();
    for (file_id, version) in [(&report.id, 2), (&annex.id, 1)] {
        w.client
            .withdraw_file_version(authed(
                api::WithdrawFileVersionRequest {
                    item_id: guide.id.clone(),
                    file_id: file_id.clone(),
                    version,
                    reason: "نسخة خاطئة".into(),
                },
                &staff,
            ))
            .await
            .unwrap();
    }
    let ask = |tenant: &str, item_id: &str| {
        tonic::Request::new(api::ListPublicItemFilesRequest {
            tenant_id: tenant.into(),
            item_id: item_id.into(),
        })
    };

    // A draft is nobody's to list, public or not.
    let draft = w
        .client
        .list_public_item_files(ask(TENANT, &guide.id))
        .await;
    assert_eq!(draft.err().map(|e| e.code()), Some(Code::NotFound));
    w.client
        .publish_item(authed(
            api::PublishItemRequest {
                id: guide.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();
    let files = w
        .client
        .list_public_item_files(ask(TENANT, &guide.id))
        .await
        .unwrap()
        .into_inner()
        .files;
    assert_eq!(
        files.len(),
        1,
        "the annex has nothing to download: {files:?}"
    );
    let listed = &files[0];
    assert_eq!(listed.id, report.id);
    assert_eq!(listed.label, text("التقرير الكامل", "Full report"));
    assert_eq!(
        listed.version_count, 1,
        "the withdrawn edition is not counted"
    );
    let current = listed.current.as_ref().expect("a current version");
    assert_eq!(current.version, 1);
    assert_eq!(current.file_name.as_bytes(), "تقرير-2019.pdf".as_bytes());
    assert_eq!(current.size_bytes, 4000);
    assert!(!current.withdrawn);
    assert_eq!(current.sha256, sha_of(pdf_chunks(4000, 1)).0);
    assert_eq!(
        current.uploaded_by, "",
        "a staff account is not the public's"
    );
    // What is listed downloads, publicly, from S3.
    let mut stream = w
        .client
        .download_public_file(tonic::Request::new(api::DownloadPublicFileRequest {
            tenant_id: TENANT.into(),
            download: Some(api::DownloadFileRequest {
                item_id: guide.id.clone(),
                file_id: listed.id.clone(),
                version: 0,
                offset: 0,
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(m) = stream.next().await {
        match m.unwrap().payload {
            Some(api::download_file_response::Payload::Chunk(c)) => got.extend(c),
            Some(api::download_file_response::Payload::Header(h)) => {
                assert_eq!(h.uploaded_by, "", "nor in the download's header");
            }
            None => {}
        }
    }
    assert_eq!(got, pdf_chunks(4000, 1).flatten().collect::<Vec<u8>>());

    // Published but not the public's: every other visibility.
    for visibility in [
        Visibility::Consortium,
        Visibility::Tenant,
        Visibility::Partners,
        Visibility::StaffOnly,
    ] {
        let internal = w
            .published_item(&staff, item_body("داخلي", "Internal", visibility))
            .await;
        upload(
            &mut w,
            &staff,
            header(&internal.id, ""),
            pdf_chunks(4000, 4),
        )
        .await
        .unwrap();
        let hidden = w
            .client
            .list_public_item_files(ask(TENANT, &internal.id))
            .await;
        assert_eq!(
            hidden.err().map(|e| e.code()),
            Some(Code::NotFound),
            "{visibility:?}"
        );
    }
    // Another center's public item is not in this center's catalogue, nor
    // this one's in another's; neither says it exists.
    let other_staff = w.other_staff.clone();
    let theirs = w
        .published_item(
            &other_staff,
            item_body("دليل دير الزور", "Deir ez-Zor guide", Visibility::Public),
        )
        .await;
    upload(
        &mut w,
        &other_staff,
        header(&theirs.id, ""),
        pdf_chunks(4000, 5),
    )
    .await
    .unwrap();
    for (tenant, id) in [(TENANT, &theirs.id), (OTHER_TENANT, &guide.id)] {
        let wrong = w.client.list_public_item_files(ask(tenant, id)).await;
        assert_eq!(
            wrong.err().map(|e| e.code()),
            Some(Code::NotFound),
            "{tenant}"
        );
    }
    let in_its_own = w
        .client
        .list_public_item_files(ask(OTHER_TENANT, &theirs.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(in_its_own.files.len(), 1);
    // An item that does not exist answers the same.
    let missing = uuid::Uuid::now_v7().to_string();
    let none = w.client.list_public_item_files(ask(TENANT, &missing)).await;
    assert_eq!(none.err().map(|e| e.code()), Some(Code::NotFound));

    // Bad input: every field named, nothing counted.
    let bad = w
        .client
        .list_public_item_files(ask("Not A Slug!", "not an id"))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&bad), vec!["tenant_id", "item_id"]);
}
