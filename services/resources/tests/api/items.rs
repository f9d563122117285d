//! Library items: visibility on every read path across tenants and roles
//! (get, list, search, the public catalogue), Arabic stored byte for byte,
//! bad input refused with every field and nothing written, updates.

use crate::world::*;

both_backends!(
    visibility_holds_on_every_read_across_tenants_and_roles,
    bad_input_names_every_field_and_writes_nothing,
    arabic_survives_byte_for_byte_and_updates_follow_the_mask,
    the_public_catalogue_is_rate_limited_once_valid,
);

/// One published item of each visibility and a draft, all of TENANT, with
/// a word ("شبكة") in every title so one search finds them all.
async fn library(w: &mut World) -> Vec<(Visibility, String)> {
    let mut out = Vec::new();
    let staff = w.staff.clone();
    for (v, en) in [
        (Visibility::Public, "Public network guide"),
        (Visibility::Consortium, "Consortium network guide"),
        (Visibility::Tenant, "Tenant network guide"),
        (Visibility::Partners, "Partners network guide"),
        (Visibility::StaffOnly, "Staff network guide"),
    ] {
        let item = w
            .published_item(&staff, item_body("دليل الشبكة", en, v))
            .await;
        assert_eq!(item.state, ItemState::Published as i32);
        out.push((v, item.id));
    }
    let draft = w
        .create_item(
            &staff,
            item_body("مسودة الشبكة", "Draft network guide", Visibility::Public),
        )
        .await;
    assert_eq!(draft.state, ItemState::Draft as i32);
    out.push((Visibility::Unspecified, draft.id));
    out
}

async fn listed(w: &mut World, token: &str) -> (Vec<String>, i32) {
    let r = w
        .client
        .list_items(authed(api::ListItemsRequest::default(), token))
        .await
        .unwrap()
        .into_inner();
    (r.items.into_iter().map(|i| i.id).collect(), r.total_size)
}

async fn searched(w: &mut World, token: &str, query: &str) -> (Vec<String>, i32) {
    let r = w
        .client
        .search_items(authed(
            api::SearchItemsRequest {
                query: query.into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut ids: Vec<String> = r
        .results
        .into_iter()
        .filter_map(|r| r.item.map(|i| i.id))
        .collect();
    ids.sort();
    (ids, r.total_size)
}

async fn visibility_holds_on_every_read_across_tenants_and_roles(backend: Backend) {
    let mut w = world(backend).await;
    let items = library(&mut w).await;
    let id = |v: Visibility| {
        items
            .iter()
            .find(|(x, _)| *x == v)
            .map(|(_, id)| id.clone())
            .unwrap()
    };
    let of = |vs: &[Visibility]| {
        let mut ids: Vec<String> = vs.iter().map(|v| id(*v)).collect();
        ids.sort();
        ids
    };
    use Visibility::*;
    let published_for = [
        // Staff of the tenant: every published item (and, in lists, drafts).
        (
            w.staff.clone(),
            of(&[Public, Consortium, Tenant, Partners, StaffOnly]),
        ),
        // Its partners and trainers: all but staff-only.
        (w.partner(), of(&[Public, Consortium, Tenant, Partners])),
        (
            w.token(&[Role::Trainer], None),
            of(&[Public, Consortium, Tenant, Partners]),
        ),
        // Its donors and reviewers: the tenant's audience.
        (
            w.token(&[Role::Donor], None),
            of(&[Public, Consortium, Tenant]),
        ),
        (
            w.token(&[Role::Reviewer], None),
            of(&[Public, Consortium, Tenant]),
        ),
        // Another tenant of the consortium, whatever its role.
        (w.other_staff.clone(), of(&[Public, Consortium])),
        (
            w.app.token(OTHER_TENANT, &[Role::Partner], Some(OTHER_ORG)),
            of(&[Public, Consortium]),
        ),
    ];
    for (token, expected) in &published_for {
        // Search: only what the reader may see, and the total counts
        // nothing else.
        let (found, total) = searched(&mut w, token, "شبكة").await;
        assert_eq!(&found, expected);
        assert_eq!(total as usize, expected.len());
        // Get: the same items; every other one is NOT_FOUND, like an id
        // that does not exist.
        for (_, item) in &items {
            let got = w
                .client
                .get_item(authed(api::GetItemRequest { id: item.clone() }, token))
                .await;
            let staff_reads_draft = token == &w.staff;
            if expected.contains(item) || (staff_reads_draft && *item == id(Unspecified)) {
                assert!(got.is_ok(), "{got:?}");
            } else {
                assert_eq!(got.unwrap_err().code(), Code::NotFound);
            }
        }
        // List: the same, and for staff the draft besides.
        let (mut listed_ids, total) = listed(&mut w, token).await;
        listed_ids.sort();
        let mut wanted = expected.clone();
        if token == &w.staff {
            wanted.push(id(Unspecified));
            wanted.sort();
        }
        assert_eq!(listed_ids, wanted);
        assert_eq!(total as usize, wanted.len());
    }
    // A tenant-only item is invisible to another tenant, in search too; a
    // consortium item visible to every tenant.
    let tenant_only = id(Tenant);
    let other = w.other_staff.clone();
    let (found, _) = searched(&mut w, &other, "Tenant network").await;
    assert!(!found.contains(&tenant_only));
    let (found, _) = searched(&mut w, &other, "Consortium network").await;
    assert_eq!(found, vec![id(Consortium)]);
    // The public catalogue: public and published only, without a token.
    let public = w
        .client
        .search_public_items(tonic::Request::new(api::SearchPublicItemsRequest {
            tenant_id: TENANT.into(),
            search: Some(api::SearchItemsRequest {
                query: "شبكة".into(),
                ..Default::default()
            }),
            include_consortium_public: false,
        }))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<String> = public
        .results
        .iter()
        .filter_map(|r| r.item.as_ref().map(|i| i.id.clone()))
        .collect();
    assert_eq!(ids, vec![id(Public)]);
    assert_eq!(public.total_size, 1);
    let hidden = w
        .client
        .get_public_item(tonic::Request::new(api::GetPublicItemRequest {
            tenant_id: TENANT.into(),
            id: id(Consortium),
        }))
        .await;
    assert_eq!(hidden.unwrap_err().code(), Code::NotFound);
    // Another center's public catalogue does not hold TENANT's items.
    let elsewhere = w
        .client
        .search_public_items(tonic::Request::new(api::SearchPublicItemsRequest {
            tenant_id: OTHER_TENANT.into(),
            search: Some(api::SearchItemsRequest {
                query: "شبكة".into(),
                ..Default::default()
            }),
            include_consortium_public: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(elsewhere.total_size, 0);
    // Another tenant's staff may not change a consortium item it can read.
    let refused = w
        .client
        .withdraw_item(authed(
            api::WithdrawItemRequest {
                id: id(Consortium),
                reason: "لا".into(),
                etag: String::new(),
            },
            &other,
        ))
        .await;
    assert_eq!(refused.unwrap_err().code(), Code::NotFound);
}

async fn bad_input_names_every_field_and_writes_nothing(backend: Backend) {
    let mut w = world(backend).await;
    let bad = api::Item {
        kind: 0,
        title: text("", ""),
        topic_codes: vec!["Not A Slug".into()],
        language: "Arabic".into(),
        visibility: 99,
        external_url: "http://insecure.example".into(),
        publication_date: Some(Date {
            year: 1200,
            month: 0,
            day: 0,
        }),
        ..Default::default()
    };
    let err = w
        .client
        .create_item(authed(
            api::CreateItemRequest {
                item: Some(bad),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields = field_violations(&err);
    for f in [
        "item.kind",
        "item.title",
        "item.topic_codes[0]",
        "item.language",
        "item.source.kind",
        "item.publication_date",
        "item.visibility",
        "item.external_url",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} not in {fields:?}");
    }
    assert_eq!(w.count("items", TENANT).await, 0);
    // A partner contributes for its own organization only.
    let mut theirs = item_body("دليل", "Guide", Visibility::Tenant);
    theirs.source = Some(api::Source {
        kind: SourceKind::Partner as i32,
        organization_id: OTHER_ORG.into(),
        name: String::new(),
    });
    let partner = w.partner();
    let err = w
        .client
        .create_item(authed(
            api::CreateItemRequest {
                item: Some(theirs),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&err), vec!["item.source.organization_id"]);
    assert_eq!(w.count("items", TENANT).await, 0);
}

async fn arabic_survives_byte_for_byte_and_updates_follow_the_mask(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    // Harakat, tatweel, a hamza seat and an RTL mark as people type them.
    let title = "دَليلُ المُنـاصَرة للمنظّمات الأهليّة";
    let mut body = item_body(title, "", Visibility::Consortium);
    body.summary = text("ملخّص: «مسؤوليّة» المنظمات تجاه المجتمع", "");
    let item = w.published_item(&staff, body).await;
    let got = w
        .client
        .get_item(authed(
            api::GetItemRequest {
                id: item.id.clone(),
            },
            &w.other_staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let t = got.title.unwrap();
    assert_eq!(t.ar.as_bytes(), title.as_bytes());
    assert_eq!(got.tenant_id, TENANT);
    assert_eq!(got.view_count, 1, "a read counts a view");
    // Once published, what the item is stays; its presentation changes.
    let refused = w
        .client
        .update_item(authed(
            api::UpdateItemRequest {
                item: Some(api::Item {
                    id: item.id.clone(),
                    language: "en".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["language".into()],
                }),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&refused), vec!["update_mask.language"]);
    let updated = w
        .client
        .update_item(authed(
            api::UpdateItemRequest {
                item: Some(api::Item {
                    id: item.id.clone(),
                    etag: item.etag.clone(),
                    visibility: Visibility::Tenant as i32,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["visibility".into()],
                }),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.visibility, Visibility::Tenant as i32);
    assert_eq!(updated.title.unwrap().ar, title);
    // The other tenant lost it at once.
    let gone = w
        .client
        .get_item(authed(
            api::GetItemRequest {
                id: item.id.clone(),
            },
            &w.other_staff,
        ))
        .await;
    assert_eq!(gone.unwrap_err().code(), Code::NotFound);
    // A stale etag is ABORTED.
    let stale = w
        .client
        .update_item(authed(
            api::UpdateItemRequest {
                item: Some(api::Item {
                    id: item.id.clone(),
                    etag: item.etag.clone(),
                    visibility: Visibility::Public as i32,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["visibility".into()],
                }),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    // The whole item sent back without a mask: what may change, changes.
    let mut whole = w
        .client
        .get_item(authed(
            api::GetItemRequest {
                id: item.id.clone(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    whole.title = text(title, "Advocacy guide for civil organizations");
    whole.language = "en".into();
    let replaced = w
        .client
        .update_item(authed(
            api::UpdateItemRequest {
                item: Some(whole),
                update_mask: None,
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        replaced.title.unwrap().en,
        "Advocacy guide for civil organizations"
    );
    assert_eq!(replaced.language, "ar", "fixed once published");
    let events = w.published::<ev::ResourcePublished>().await;
    assert_eq!(
        events.len(),
        3,
        "the publication and the two published edits"
    );
    assert_eq!(events[1].visibility, "VISIBILITY_TENANT");
}

async fn the_public_catalogue_is_rate_limited_once_valid(backend: Backend) {
    let mut w = world(backend).await;
    let get = |id: &str| {
        tonic::Request::new(api::GetPublicItemRequest {
            tenant_id: TENANT.into(),
            id: id.into(),
        })
    };
    // Malformed calls cost no window.
    for _ in 0..150 {
        let bad = w
            .client
            .get_public_item(get("not an id"))
            .await
            .unwrap_err();
        assert_eq!(bad.code(), Code::InvalidArgument);
    }
    let missing = uuid::Uuid::now_v7().to_string();
    for _ in 0..markaz_resources::api::PUBLIC_PER_ADDRESS.max {
        let r = w.client.get_public_item(get(&missing)).await.unwrap_err();
        assert_eq!(r.code(), Code::NotFound);
    }
    let limited = w.client.get_public_item(get(&missing)).await.unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted);
    // Listing an item's files counts in the same window as the catalogue's
    // other calls: the visitor who used it up is refused there too.
    let files = w
        .client
        .list_public_item_files(tonic::Request::new(api::ListPublicItemFilesRequest {
            tenant_id: TENANT.into(),
            item_id: missing.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(files.code(), Code::ResourceExhausted);
}
