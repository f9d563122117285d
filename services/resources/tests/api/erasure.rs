//! Erasure (issue 9): a person written, in every spelling, into every
//! free-text field of the resources API (the list comes from the proto
//! descriptors, [`Coverage`]), then erased through the service's real
//! consumer: afterwards no read returns anything of her — a search for her
//! name finds nothing — no table of its database holds anything of her,
//! and the figures stay what they were.
//!
//! The files' bytes are out of reach of a text sweep and out of scope; what
//! is said about a file (label, file name, withdrawal reason) is in the
//! database and swept. Object keys are made of ids only, so the local store
//! these tests use and S3 hold the same metadata: none.

use markaz_kit::testing::erasure::{
    Coverage, EMAIL, FULL_NAME, SPELLINGS, bytes_leak, erased_event, leaks, mention, message_leaks,
    table_leaks,
};
use markaz_proto::common::v1::{AgeBand, Gender};

use crate::world::*;

both_backends!(nothing_of_an_erased_person_is_left_in_resources);

/// Fields of the resources requests that hold no prose, so no name.
const EXEMPT: &[&str] = &[
    // Topic codes (slugs) and BCP-47 language tags, validated as such, and
    // the filters that name them.
    "Item.topic_codes",
    "Item.language",
    "ListItemsRequest.topic_code",
    "ListItemsRequest.language",
    "SearchFilters.topic_codes",
    "SearchFilters.languages",
    "UploadFileHeader.language",
    // An address (http/https), not prose.
    "Item.external_url",
    // A media type ("application/pdf") and a hex SHA-256 digest.
    "UploadFileHeader.media_type",
    "UploadFileHeader.sha256",
];

/// `SPELLINGS[BIDI]` wraps the name in bidi isolates, which every text
/// field refuses (`validate::suspicious`): sent once to show it is refused,
/// skipped everywhere else.
const BIDI: usize = 5;

/// The mentions of the person, each spelling in turn.
struct Mentions(usize);

impl Mentions {
    fn next(&mut self) -> String {
        if self.0 % SPELLINGS.len() == BIDI {
            self.0 += 1;
        }
        self.0 += 1;
        mention(self.0 - 1)
    }

    fn text(&mut self) -> Option<LocalizedText> {
        Some(LocalizedText {
            ar: self.next(),
            en: self.next(),
        })
    }
}

/// What the reads after the erasure found, all of it reported at once.
#[derive(Default)]
struct Reads(Vec<String>);

impl Reads {
    /// A read that must answer, and must not name her.
    fn ok<M: Message + std::fmt::Debug>(
        &mut self,
        what: &str,
        answer: Result<tonic::Response<M>, Status>,
    ) -> M {
        match answer {
            Ok(r) => {
                let m = r.into_inner();
                if message_leaks(&m) {
                    self.0.push(format!("{what}: {m:?}"));
                }
                m
            }
            Err(s) => panic!("{what} failed: {s:?}"),
        }
    }

    /// A retry, answered or refused, that must not name her either way.
    fn any<M: Message + std::fmt::Debug>(
        &mut self,
        what: &str,
        answer: Result<tonic::Response<M>, Status>,
    ) {
        match answer {
            Ok(r) => {
                self.ok(what, Ok(r));
            }
            Err(s) => {
                if leaks(s.message()) || bytes_leak(s.details()) {
                    self.0.push(format!("{what} (refused): {s:?}"));
                }
            }
        }
    }
}

fn person(id: &str, name: &str, gender: Gender, age_band: AgeBand) -> ev::PersonRegistered {
    ev::PersonRegistered {
        person: Some(ev::PersonSnapshot {
            id: id.into(),
            full_name: name.into(),
            gender: gender as i32,
            age_band: age_band as i32,
            branch_id: "raqqa".into(),
            version: 1,
        }),
    }
}

/// An item whose every text mentions her (she is one of its authors).
fn item_mentioning(m: &mut Mentions, visibility: Visibility) -> api::Item {
    api::Item {
        title: m.text(),
        summary: m.text(),
        authors: vec![m.next(), m.next()],
        source: Some(api::Source {
            kind: SourceKind::Donor as i32,
            name: m.next(),
            ..Default::default()
        }),
        licence: api::Licence::Other as i32,
        licence_note: m.next(),
        // Output only.
        state_note: m.next(),
        ..item_body("", "", visibility)
    }
}

fn contribution_mentioning(m: &mut Mentions) -> api::Item {
    api::Item {
        source: Some(api::Source::default()),
        ..item_mentioning(m, Visibility::Tenant)
    }
}

/// A booking whose every text mentions her.
fn booking_mentioning(m: &mut Mentions, space: &str, from: i64, until: i64) -> api::Booking {
    api::Booking {
        purpose_note: m.next(),
        notes: m.next(),
        // Output only.
        cancel_reason: m.next(),
        booked_by: m.next(),
        ..booking_body(space, from, until)
    }
}

fn pdf(text: &str) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

async fn upload(
    w: &mut World,
    coverage: &mut Coverage,
    header: api::UploadFileHeader,
    body: Vec<u8>,
) -> api::ItemFile {
    use api::upload_file_request::Payload;
    let messages = vec![
        api::UploadFileRequest {
            payload: Some(Payload::Header(header)),
        },
        api::UploadFileRequest {
            payload: Some(Payload::Chunk(body)),
        },
    ];
    for message in &messages {
        coverage.note(message);
    }
    w.client
        .upload_file(authed(futures::stream::iter(messages), &w.staff))
        .await
        .expect("uploaded")
        .into_inner()
}

/// What the service counts: services given per organization and kind,
/// spaces' use, the library's use. It counts no person — by gender, age
/// band or otherwise: bookings and services name organizations.
async fn figures(w: &mut World) -> Vec<String> {
    let staff = w.staff.clone();
    let today = KDate::today();
    let services = w
        .client
        .get_space_service_report(authed(
            api::GetSpaceServiceReportRequest {
                from: Some(today.add_days(-30).to_proto()),
                until: Some(today.to_proto()),
                branch_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let spaces = w
        .client
        .get_space_usage_report(authed(api::GetSpaceUsageReportRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner();
    let library = w
        .client
        .get_library_usage_report(authed(api::GetLibraryUsageReportRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner();
    // Names are text (scrubbed); the figures are the numbers.
    let numbers = |debug: String| {
        debug
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(",")
    };
    vec![
        numbers(format!("{services:?}")),
        numbers(format!("{spaces:?}")),
        numbers(format!("{library:?}")),
    ]
}

async fn nothing_of_an_erased_person_is_left_in_resources(backend: Backend) {
    let mut w = world(backend).await;
    let mut m = Mentions(0);
    let mut coverage = Coverage::default();
    let staff = w.staff.clone();
    let partner = w.partner();

    // She and a colleague, as membership announces them.
    let nadia = markaz_kit::rpc::new_id();
    w.deliver(
        "membership",
        TENANT,
        &person(&nadia, FULL_NAME, Gender::Female, AgeBand::AgeBand2534),
    )
    .await;
    w.deliver(
        "membership",
        TENANT,
        &person(
            &markaz_kit::rpc::new_id(),
            "عمر السيد",
            Gender::Male,
            AgeBand::AgeBand3544,
        ),
    )
    .await;

    // The library: a public guide she wrote, edited, with a file in two
    // versions (the first withdrawn).
    let create_item = api::CreateItemRequest {
        item: Some(item_mentioning(&mut m, Visibility::Public)),
        request_id: "item-1".into(),
    };
    coverage.note(&create_item);
    let guide = w
        .client
        .create_item(authed(create_item.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let update_item = api::UpdateItemRequest {
        item: Some(api::Item {
            id: guide.id.clone(),
            ..item_mentioning(&mut m, Visibility::Public)
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec![
                "title".into(),
                "summary".into(),
                "authors".into(),
                "source".into(),
                "licence_note".into(),
            ],
        }),
    };
    coverage.note(&update_item);
    w.client
        .update_item(authed(update_item, &staff))
        .await
        .unwrap();
    let header = |m: &mut Mentions, file_id: &str| api::UploadFileHeader {
        item_id: guide.id.clone(),
        file_id: file_id.into(),
        label: m.text(),
        language: "ar".into(),
        file_name: format!("{}.pdf", m.next()),
        media_type: "application/pdf".into(),
        ..Default::default()
    };
    let h = header(&mut m, "");
    let file = upload(&mut w, &mut coverage, h, pdf("v1")).await;
    let h = header(&mut m, &file.id);
    upload(&mut w, &mut coverage, h, pdf("v2")).await;
    let withdraw_version = api::WithdrawFileVersionRequest {
        item_id: guide.id.clone(),
        file_id: file.id.clone(),
        version: 1,
        reason: m.next(),
    };
    coverage.note(&withdraw_version);
    w.client
        .withdraw_file_version(authed(withdraw_version, &staff))
        .await
        .unwrap();
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
    let bidi = w
        .client
        .create_item(authed(
            api::CreateItemRequest {
                item: Some(item_body(&mention(BIDI), "", Visibility::Tenant)),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(bidi.code(), Code::InvalidArgument, "{bidi:?}");
    // Another item, published then withdrawn with a reason naming her.
    let withdrawn = w
        .published_item(&staff, item_mentioning(&mut m, Visibility::Tenant))
        .await;
    let withdraw = api::WithdrawItemRequest {
        id: withdrawn.id.clone(),
        reason: m.next(),
        etag: String::new(),
    };
    coverage.note(&withdraw);
    w.client
        .withdraw_item(authed(withdraw, &staff))
        .await
        .unwrap();
    // A partner's contribution through moderation, and a rejected one.
    let contributed = w
        .create_item(&partner, contribution_mentioning(&mut m))
        .await;
    let submit = |m: &mut Mentions, id: &str| api::SubmitContributionRequest {
        id: id.into(),
        note: m.next(),
        etag: String::new(),
    };
    let s = submit(&mut m, &contributed.id);
    coverage.note(&s);
    w.client
        .submit_contribution(authed(s, &partner))
        .await
        .unwrap();
    let changes = api::RequestContributionChangesRequest {
        id: contributed.id.clone(),
        note: m.next(),
        etag: String::new(),
    };
    coverage.note(&changes);
    w.client
        .request_contribution_changes(authed(changes, &staff))
        .await
        .unwrap();
    let s = submit(&mut m, &contributed.id);
    w.client
        .submit_contribution(authed(s, &partner))
        .await
        .unwrap();
    let approve = api::ApproveContributionRequest {
        id: contributed.id.clone(),
        note: m.next(),
        etag: String::new(),
    };
    coverage.note(&approve);
    w.client
        .approve_contribution(authed(approve, &staff))
        .await
        .unwrap();
    let rejected = w
        .create_item(&partner, contribution_mentioning(&mut m))
        .await;
    let s = submit(&mut m, &rejected.id);
    w.client
        .submit_contribution(authed(s, &partner))
        .await
        .unwrap();
    let reject = api::RejectContributionRequest {
        id: rejected.id.clone(),
        reason: m.next(),
        etag: String::new(),
    };
    coverage.note(&reject);
    w.client
        .reject_contribution(authed(reject, &staff))
        .await
        .unwrap();
    // Searches for her, before: they find her (so "nothing" after means
    // something).
    let search = api::SearchItemsRequest {
        query: m.next(),
        ..Default::default()
    };
    coverage.note(&search);
    let found = w
        .client
        .search_items(authed(search, &staff))
        .await
        .unwrap()
        .into_inner();
    assert!(found.total_size > 0, "a search for her finds her items");
    let suggest = api::SuggestItemsRequest {
        prefix: m.next(),
        max_results: 10,
    };
    coverage.note(&suggest);
    w.client
        .suggest_items(authed(suggest, &staff))
        .await
        .unwrap();

    // The space: a room, its equipment, a closure, bookings, services.
    let create_space = api::CreateSpaceRequest {
        space: Some(api::Space {
            name: m.text(),
            description: m.text(),
            ..space_body(false)
        }),
        request_id: "space-1".into(),
    };
    coverage.note(&create_space);
    let space = w
        .client
        .create_space(authed(create_space.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let update_space = api::UpdateSpaceRequest {
        space: Some(api::Space {
            id: space.id.clone(),
            name: m.text(),
            description: m.text(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["name".into(), "description".into()],
        }),
    };
    coverage.note(&update_space);
    w.client
        .update_space(authed(update_space, &staff))
        .await
        .unwrap();
    let create_equipment = api::CreateEquipmentRequest {
        equipment: Some(api::Equipment {
            branch_id: "raqqa".into(),
            kind: api::EquipmentKind::Projector as i32,
            name: m.text(),
            bookable: true,
            ..Default::default()
        }),
        request_id: "equipment-1".into(),
    };
    coverage.note(&create_equipment);
    let projector = w
        .client
        .create_equipment(authed(create_equipment.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let update_equipment = api::UpdateEquipmentRequest {
        equipment: Some(api::Equipment {
            id: projector.id.clone(),
            name: m.text(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["name".into()],
        }),
    };
    coverage.note(&update_equipment);
    w.client
        .update_equipment(authed(update_equipment, &staff))
        .await
        .unwrap();
    let closed_on = KDate::today().add_days(20);
    let add_closure = api::AddClosureRequest {
        closure: Some(api::Closure {
            branch_id: "raqqa".into(),
            first_day: Some(closed_on.to_proto()),
            last_day: Some(closed_on.to_proto()),
            reason: m.text(),
            ..Default::default()
        }),
        request_id: "closure-1".into(),
    };
    coverage.note(&add_closure);
    w.client
        .add_closure(authed(add_closure.clone(), &staff))
        .await
        .unwrap();
    let create_booking = api::CreateBookingRequest {
        booking: Some(api::Booking {
            equipment_ids: vec![projector.id.clone()],
            ..booking_mentioning(&mut m, &space.id, 1, 2)
        }),
        request_id: "booking-1".into(),
    };
    coverage.note(&create_booking);
    let booking = w
        .client
        .create_booking(authed(create_booking.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let update_booking = api::UpdateBookingRequest {
        booking: Some(api::Booking {
            id: booking.id.clone(),
            notes: m.next(),
            purpose_note: m.next(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["notes".into(), "purpose_note".into()],
        }),
    };
    coverage.note(&update_booking);
    w.client
        .update_booking(authed(update_booking, &staff))
        .await
        .unwrap();
    let cancelled = w
        .book(&staff, booking_mentioning(&mut m, &space.id, 3, 4))
        .await
        .unwrap();
    let cancel = api::CancelBookingRequest {
        id: cancelled.id.clone(),
        reason: m.next(),
        etag: String::new(),
    };
    coverage.note(&cancel);
    w.client
        .cancel_booking(authed(cancel, &staff))
        .await
        .unwrap();
    let create_series = api::CreateBookingSeriesRequest {
        series: Some(api::BookingSeries {
            template: Some(booking_mentioning(&mut m, &space.id, 5, 6)),
            recurrence: Some(api::Recurrence {
                frequency: api::Frequency::Daily as i32,
                count: 2,
                ..Default::default()
            }),
            ..Default::default()
        }),
        request_id: "series-1".into(),
    };
    coverage.note(&create_series);
    let series = w
        .client
        .create_booking_series(authed(create_series.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let cancel_series = api::CancelBookingSeriesRequest {
        id: series.id.clone(),
        reason: m.next(),
    };
    coverage.note(&cancel_series);
    w.client
        .cancel_booking_series(authed(cancel_series, &staff))
        .await
        .unwrap();
    let service = |m: &mut Mentions| api::SpaceService {
        organization_id: PARTNER_ORG.into(),
        branch_id: "raqqa".into(),
        kind: api::SpaceServiceKind::LegalSupport as i32,
        quantity: 2,
        provided_on: Some(KDate::today().add_days(-1).to_proto()),
        notes: m.next(),
        // Output only.
        unit: m.next(),
        void_reason: m.next(),
        recorded_by: m.next(),
        ..Default::default()
    };
    let record_service = api::RecordSpaceServiceRequest {
        service: Some(service(&mut m)),
        request_id: "service-1".into(),
    };
    coverage.note(&record_service);
    let given = w
        .client
        .record_space_service(authed(record_service.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let voided = w
        .client
        .record_space_service(authed(
            api::RecordSpaceServiceRequest {
                service: Some(service(&mut m)),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let void = api::VoidSpaceServiceRequest {
        id: voided.id.clone(),
        reason: m.next(),
    };
    coverage.note(&void);
    w.client
        .void_space_service(authed(void, &staff))
        .await
        .unwrap();

    assert!(
        m.0 > SPELLINGS.len(),
        "every spelling was written somewhere"
    );
    assert_eq!(
        coverage.missing("markaz.resources.v1.ResourcesService", EXEMPT),
        Vec::<String>::new(),
        "free-text fields of the resources requests no request filled"
    );
    let db = w.app.env.db("resources").await.unwrap();
    assert!(
        !table_leaks(&db, TENANT).await.is_empty(),
        "her name was written before the erasure"
    );
    let before = figures(&mut w).await;

    // She asks membership to forget her; the service's consumer hears it.
    w.deliver(
        "membership",
        TENANT,
        &erased_event(
            &nadia,
            &markaz_kit::rpc::new_id(),
            Gender::Female,
            AgeBand::AgeBand2534,
            "raqqa",
        ),
    )
    .await;
    // Before any read: reads count as the library's use.
    assert_eq!(figures(&mut w).await, before);

    let mut reads = Reads::default();
    let mut c = w.client.clone();
    let s = &staff;
    for id in [&guide.id, &withdrawn.id, &contributed.id, &rejected.id] {
        reads.ok(
            "GetItem",
            c.get_item(authed(api::GetItemRequest { id: id.clone() }, s))
                .await,
        );
        reads.ok(
            "ListItemHistory",
            c.list_item_history(authed(
                api::ListItemHistoryRequest {
                    item_id: id.clone(),
                    ..Default::default()
                },
                s,
            ))
            .await,
        );
    }
    reads.ok(
        "GetItem (the partner)",
        c.get_item(authed(
            api::GetItemRequest {
                id: rejected.id.clone(),
            },
            &partner,
        ))
        .await,
    );
    reads.ok(
        "ListItems",
        c.list_items(authed(api::ListItemsRequest::default(), s))
            .await,
    );
    reads.ok(
        "ListItemFiles",
        c.list_item_files(authed(
            api::ListItemFilesRequest {
                item_id: guide.id.clone(),
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListFileVersions",
        c.list_file_versions(authed(
            api::ListFileVersionsRequest {
                item_id: guide.id.clone(),
                file_id: file.id.clone(),
                include_withdrawn: true,
            },
            s,
        ))
        .await,
    );
    let mut download = c
        .download_file(authed(
            api::DownloadFileRequest {
                item_id: guide.id.clone(),
                file_id: file.id.clone(),
                ..Default::default()
            },
            s,
        ))
        .await
        .unwrap()
        .into_inner();
    while let Some(part) = download.message().await.unwrap() {
        reads.ok("DownloadFile", Ok(tonic::Response::new(part)));
    }
    let mut download = c
        .download_public_file(tonic::Request::new(api::DownloadPublicFileRequest {
            tenant_id: TENANT.into(),
            download: Some(api::DownloadFileRequest {
                item_id: guide.id.clone(),
                file_id: file.id.clone(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    while let Some(part) = download.message().await.unwrap() {
        reads.ok("DownloadPublicFile", Ok(tonic::Response::new(part)));
    }
    // Searching for her by name, family name, e-mail: nothing.
    for query in [FULL_NAME, "كريموفا", EMAIL, &mention(0)] {
        let found = reads.ok(
            "SearchItems",
            c.search_items(authed(
                api::SearchItemsRequest {
                    query: query.into(),
                    ..Default::default()
                },
                s,
            ))
            .await,
        );
        assert_eq!(found.total_size, 0, "a search for {query:?}: {found:?}");
        let public = reads.ok(
            "SearchPublicItems",
            c.search_public_items(tonic::Request::new(api::SearchPublicItemsRequest {
                tenant_id: TENANT.into(),
                search: Some(api::SearchItemsRequest {
                    query: query.into(),
                    ..Default::default()
                }),
                include_consortium_public: true,
            }))
            .await,
        );
        assert_eq!(public.total_size, 0, "a public search for {query:?}");
    }
    for prefix in ["كريمو", "nadia", "ناد"] {
        reads.ok(
            "SuggestItems",
            c.suggest_items(authed(
                api::SuggestItemsRequest {
                    prefix: prefix.into(),
                    max_results: 10,
                },
                s,
            ))
            .await,
        );
    }
    // The items are still found by what else they say, snippets and all.
    let rest = reads.ok(
        "SearchItems (the rest of the text)",
        c.search_items(authed(
            api::SearchItemsRequest {
                query: "ملاحظة حضرت".into(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    // The published two: the guide and the approved contribution.
    assert_eq!(rest.total_size, 2, "{rest:?}");
    reads.ok(
        "GetPublicItem",
        c.get_public_item(tonic::Request::new(api::GetPublicItemRequest {
            tenant_id: TENANT.into(),
            id: guide.id.clone(),
        }))
        .await,
    );
    reads.ok(
        "ListPublicItemFiles",
        c.list_public_item_files(tonic::Request::new(api::ListPublicItemFilesRequest {
            tenant_id: TENANT.into(),
            item_id: guide.id.clone(),
        }))
        .await,
    );
    reads.ok(
        "GetItemUsage",
        c.get_item_usage(authed(
            api::GetItemUsageRequest {
                item_id: guide.id.clone(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "GetLibraryUsageReport",
        c.get_library_usage_report(authed(api::GetLibraryUsageReportRequest::default(), s))
            .await,
    );
    reads.ok(
        "GetSpace",
        c.get_space(authed(
            api::GetSpaceRequest {
                id: space.id.clone(),
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListSpaces",
        c.list_spaces(authed(api::ListSpacesRequest::default(), s))
            .await,
    );
    reads.ok(
        "GetEquipment",
        c.get_equipment(authed(
            api::GetEquipmentRequest {
                id: projector.id.clone(),
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListEquipment",
        c.list_equipment(authed(api::ListEquipmentRequest::default(), s))
            .await,
    );
    reads.ok(
        "ListClosures",
        c.list_closures(authed(api::ListClosuresRequest::default(), s))
            .await,
    );
    reads.ok(
        "GetSpaceAvailability",
        c.get_space_availability(authed(
            api::GetSpaceAvailabilityRequest {
                space_id: space.id.clone(),
                from: Some(at_hour(0)),
                until: Some(at_hour(48)),
            },
            s,
        ))
        .await,
    );
    for id in [&booking.id, &cancelled.id] {
        reads.ok(
            "GetBooking",
            c.get_booking(authed(api::GetBookingRequest { id: id.clone() }, s))
                .await,
        );
    }
    reads.ok(
        "GetBookingSeries",
        c.get_booking_series(authed(
            api::GetBookingSeriesRequest {
                id: series.id.clone(),
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListBookings",
        c.list_bookings(authed(api::ListBookingsRequest::default(), s))
            .await,
    );
    reads.ok(
        "GetSpaceUsageReport",
        c.get_space_usage_report(authed(api::GetSpaceUsageReportRequest::default(), s))
            .await,
    );
    for id in [&given.id, &voided.id] {
        reads.ok(
            "GetSpaceService",
            c.get_space_service(authed(api::GetSpaceServiceRequest { id: id.clone() }, s))
                .await,
        );
    }
    reads.ok(
        "ListSpaceServices",
        c.list_space_services(authed(
            api::ListSpaceServicesRequest {
                include_voided: true,
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    // Retries of requests whose stored answers named her.
    reads.any(
        "CreateItem (retry)",
        c.create_item(authed(create_item, s)).await,
    );
    reads.any(
        "CreateSpace (retry)",
        c.create_space(authed(create_space, s)).await,
    );
    reads.any(
        "CreateEquipment (retry)",
        c.create_equipment(authed(create_equipment, s)).await,
    );
    reads.any(
        "AddClosure (retry)",
        c.add_closure(authed(add_closure, s)).await,
    );
    reads.any(
        "CreateBooking (retry)",
        c.create_booking(authed(create_booking, s)).await,
    );
    reads.any(
        "CreateBookingSeries (retry)",
        c.create_booking_series(authed(create_series, s)).await,
    );
    reads.any(
        "RecordSpaceService (retry)",
        c.record_space_service(authed(record_service, s)).await,
    );
    assert_eq!(reads.0, Vec::<String>::new(), "reads that still name her");
    assert_eq!(
        table_leaks(&db, TENANT).await,
        Vec::<String>::new(),
        "columns that still hold something of her"
    );
    if backend == Backend::Sqlite {
        assert_eq!(
            fts_terms(&db)
                .await
                .into_iter()
                .filter(|t| leaks(t) || t == "ناد")
                .collect::<Vec<_>>(),
            Vec::<String>::new(),
            "terms of the full-text index that are hers"
        );
    }
}

/// The terms SQLite's full-text index of the library holds (read through
/// an `fts5vocab` table, in a transaction rolled back).
async fn fts_terms(db: &markaz_kit::db::Db) -> Vec<String> {
    let mut tx = db.write(TENANT).await.unwrap();
    sqlx::query(
        "CREATE VIRTUAL TABLE temp.item_search_terms USING fts5vocab(main, item_search, row)",
    )
    .execute(tx.conn())
    .await
    .unwrap();
    let terms: Vec<String> = sqlx::query_scalar("SELECT term FROM temp.item_search_terms")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        terms.iter().any(|t| t == "حضرت"),
        "the index is read: {terms:?}"
    );
    terms
}
