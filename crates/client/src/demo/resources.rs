//! Resources: the civic-knowledge library (published), the co-working
//! space of each branch with the partners' bookings of the coming days,
//! and the services the space gave them (internet, printing, legal support).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use markaz_kit::time::Date;
use markaz_proto::resources::v1 as res;
use markaz_proto::resources::v1::resources_service_client::ResourcesServiceClient;

use super::center::{self, BRANCHES, ITEMS, ORGS, SPACES};
use super::{Ids, Seed, ar_of, rid, text};
use crate::rpc::{Api, all};

fn client(api: &Api) -> ResourcesServiceClient<tonic::transport::Channel> {
    ResourcesServiceClient::new(api.channel.clone())
}

/// Saturday to Thursday, 9:00 to 17:00.
fn opening_hours() -> Vec<res::OpeningInterval> {
    use res::Weekday as W;
    [
        W::Saturday,
        W::Sunday,
        W::Monday,
        W::Tuesday,
        W::Wednesday,
        W::Thursday,
    ]
    .into_iter()
    .map(|weekday| res::OpeningInterval {
        weekday: weekday as i32,
        opens_minute: 9 * 60,
        closes_minute: 17 * 60,
    })
    .collect()
}

/// What the space gave: (partner, kind, quantity, days before today).
const SERVICES: [(usize, res::SpaceServiceKind, i32); 12] = [
    (0, res::SpaceServiceKind::Internet, 40),
    (1, res::SpaceServiceKind::Printing, 250),
    (2, res::SpaceServiceKind::LegalSupport, 2),
    (4, res::SpaceServiceKind::Internet, 24),
    (7, res::SpaceServiceKind::Publications, 60),
    (11, res::SpaceServiceKind::LegalSupport, 1),
    (14, res::SpaceServiceKind::Internet, 36),
    (16, res::SpaceServiceKind::Printing, 180),
    (18, res::SpaceServiceKind::LegalSupport, 3),
    (19, res::SpaceServiceKind::Internet, 16),
    (23, res::SpaceServiceKind::Printing, 90),
    (26, res::SpaceServiceKind::Publications, 40),
];

/// The steps of the progress bar: an item, a space, a booking, a service.
pub(crate) fn steps(cal: &center::Calendar) -> usize {
    ITEMS.len() + SPACES.len() + center::bookings(cal.today).len() + SERVICES.len()
}

pub(crate) async fn seed(seed: &Arc<Seed>, ids: &Arc<Ids>) -> Result<(), String> {
    let api = &seed.api;
    let bookings = center::bookings(seed.cal.today);
    seed.progress.phase("resources: library, spaces, bookings");

    // The library: each item by its Arabic title, published.
    let items: HashMap<String, res::Item> = all("ListItems", |page_token| async move {
        let r = api
            .call("ListItems", || {
                let mut c = client(api);
                let r = api.request(res::ListItemsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                });
                async move { c.list_items(r).await }
            })
            .await?;
        Ok((r.items, r.next_page_token))
    })
    .await?
    .into_iter()
    .map(|i| (ar_of(&i.title), i))
    .collect();
    for (k, it) in ITEMS.iter().enumerate() {
        let item = match items.get(it.ar) {
            Some(i) => {
                seed.found("library items");
                i.clone()
            }
            None => {
                let made = api
                    .call(&format!("CreateItem {}", it.en), || {
                        let mut c = client(api);
                        let r = api.request(res::CreateItemRequest {
                            item: Some(res::Item {
                                kind: it.kind as i32,
                                title: text(it.ar, it.en),
                                summary: text(
                                    "من مراجع المركز في المعرفة المدنية، بأسلوب واضح وموائم للسياق المحلي",
                                    "One of the center's civic-knowledge references, clear and suited to the local context",
                                ),
                                authors: vec![it.source_name.into()],
                                topic_codes: if it.topic.is_empty() {
                                    Vec::new()
                                } else {
                                    vec![it.topic.into()]
                                },
                                language: "ar".into(),
                                source: Some(res::Source {
                                    kind: it.source as i32,
                                    organization_id: if it.source == res::SourceKind::Donor {
                                        ids.orgs[ORGS.len() - 1].clone()
                                    } else {
                                        String::new()
                                    },
                                    name: it.source_name.into(),
                                }),
                                publication_date: Some(markaz_proto::common::v1::Date {
                                    year: it.year,
                                    month: 0,
                                    day: 0,
                                }),
                                licence: res::Licence::CcBy as i32,
                                visibility: res::Visibility::Public as i32,
                                external_url: it.url.into(),
                                ..Default::default()
                            }),
                            request_id: rid(&format!("item-{k:02}")),
                        });
                        async move { c.create_item(r).await }
                    })
                    .await?;
                seed.created("library items");
                made
            }
        };
        // An item is published with a file or a link: the linked ones have
        // their link, the others a short text file of their own.
        if item.file_count == 0 && it.url.is_empty() {
            let content = format!(
                "{}\n{}\n\nمن مكتبة المعرفة المدنية في مركز دعم المجتمع المدني (بيانات تجريبية).\nFrom the civic-knowledge library of the Civil Society Support Center (demo data).\n",
                it.ar, it.en
            )
            .into_bytes();
            let messages = vec![
                res::UploadFileRequest {
                    payload: Some(res::upload_file_request::Payload::Header(
                        res::UploadFileHeader {
                            item_id: item.id.clone(),
                            label: text("النص الكامل", "Full text"),
                            language: "ar".into(),
                            file_name: format!("demo-item-{k:02}.txt"),
                            media_type: "text/plain".into(),
                            size_bytes: content.len() as i64,
                            request_id: rid(&format!("item-{k:02}-file")),
                            ..Default::default()
                        },
                    )),
                },
                res::UploadFileRequest {
                    payload: Some(res::upload_file_request::Payload::Chunk(content)),
                },
            ];
            api.call(&format!("UploadFile {}", it.en), || {
                let mut c = client(api);
                let r = api.request(tokio_stream::iter(messages.clone()));
                async move { c.upload_file(r).await }
            })
            .await?;
            seed.created("library files");
        }
        if item.state == res::ItemState::Draft as i32 {
            api.call(&format!("PublishItem {}", it.en), || {
                let mut c = client(api);
                let r = api.request(res::PublishItemRequest {
                    id: item.id.clone(),
                    etag: String::new(),
                });
                async move { c.publish_item(r).await }
            })
            .await?;
        }
        seed.progress.tick();
    }

    // The spaces, by their Arabic name.
    let spaces: HashMap<String, String> = all("ListSpaces", |page_token| async move {
        let r = api
            .call("ListSpaces", || {
                let mut c = client(api);
                let r = api.request(res::ListSpacesRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    include_archived: true,
                    ..Default::default()
                });
                async move { c.list_spaces(r).await }
            })
            .await?;
        Ok((r.spaces, r.next_page_token))
    })
    .await?
    .into_iter()
    .map(|s| (ar_of(&s.name), s.id))
    .collect();
    let mut space_ids = Vec::new();
    for (k, sp) in SPACES.iter().enumerate() {
        let id = match spaces.get(sp.ar) {
            Some(id) => {
                seed.found("spaces");
                id.clone()
            }
            None => {
                let made = api
                    .call("CreateSpace", || {
                        let mut c = client(api);
                        let r = api.request(res::CreateSpaceRequest {
                            space: Some(res::Space {
                                branch_id: BRANCHES[sp.branch].id.into(),
                                kind: sp.kind as i32,
                                name: text(sp.ar, sp.en),
                                description: text(
                                    "للاجتماعات والعمل، مع الإنترنت والطباعة",
                                    "For meetings and work, with internet and printing",
                                ),
                                capacity: sp.capacity,
                                opening_hours: opening_hours(),
                                utc_offset_minutes: 180,
                                bookable_by: res::BookableBy::Partners as i32,
                                ..Default::default()
                            }),
                            request_id: rid(&format!("space-{k}")),
                        });
                        async move { c.create_space(r).await }
                    })
                    .await?;
                seed.created("spaces");
                made.id
            }
        };
        space_ids.push(id);
        seed.progress.tick();
    }

    // Bookings of the coming days, by the key in their notes.
    let booked: HashSet<String> = all("ListBookings", |page_token| async move {
        let r = api
            .call("ListBookings", || {
                let mut c = client(api);
                let r = api.request(res::ListBookingsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                });
                async move { c.list_bookings(r).await }
            })
            .await?;
        Ok((r.bookings, r.next_page_token))
    })
    .await?
    .into_iter()
    .map(|b| b.notes)
    .collect();
    for (k, (space, partner, day)) in bookings.iter().enumerate() {
        let notes = format!("حجز منظمة شريكة [demo:booking-{k}]");
        if booked.contains(&notes) {
            seed.found("bookings");
            seed.progress.tick();
            continue;
        }
        // 10:00 to 12:00 in Syria (UTC+3).
        let at = |hour: i64| prost_types::Timestamp {
            seconds: day.days() * 86_400 + (hour - 3) * 3600,
            nanos: 0,
        };
        api.call("CreateBooking", || {
            let mut c = client(api);
            let r = api.request(res::CreateBookingRequest {
                booking: Some(res::Booking {
                    space_id: space_ids[*space].clone(),
                    organization_id: ids.orgs[*partner].clone(),
                    purpose: if k % 2 == 0 {
                        res::BookingPurpose::Meeting
                    } else {
                        res::BookingPurpose::Work
                    } as i32,
                    purpose_note: format!("اجتماع فريق {}", ORGS[*partner].ar),
                    expected_attendance: 6,
                    start_time: Some(at(10)),
                    end_time: Some(at(12)),
                    notes: notes.clone(),
                    ..Default::default()
                }),
                request_id: rid(&format!("booking-{k}")),
            });
            async move { c.create_booking(r).await }
        })
        .await?;
        seed.created("bookings");
        seed.progress.tick();
    }

    // What the space gave the partners, by the key in the notes.
    let given: HashSet<String> = all("ListSpaceServices", |page_token| async move {
        let r = api
            .call("ListSpaceServices", || {
                let mut c = client(api);
                let r = api.request(res::ListSpaceServicesRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    include_voided: true,
                    ..Default::default()
                });
                async move { c.list_space_services(r).await }
            })
            .await?;
        Ok((r.services, r.next_page_token))
    })
    .await?
    .into_iter()
    .map(|s| s.notes)
    .collect();
    for (k, (partner, kind, quantity)) in SERVICES.iter().enumerate() {
        let notes = format!("خدمات مساحة العمل المشتركة [demo:service-{k:02}]");
        if given.contains(&notes) {
            seed.found("space services");
            seed.progress.tick();
            continue;
        }
        let on: Date = seed.cal.spread(k, SERVICES.len(), 0);
        api.call("RecordSpaceService", || {
            let mut c = client(api);
            let r = api.request(res::RecordSpaceServiceRequest {
                service: Some(res::SpaceService {
                    organization_id: ids.orgs[*partner].clone(),
                    branch_id: BRANCHES[ORGS[*partner].branch].id.into(),
                    kind: *kind as i32,
                    quantity: *quantity,
                    provided_on: Some(on.to_proto()),
                    notes: notes.clone(),
                    ..Default::default()
                }),
                request_id: rid(&format!("service-{k:02}")),
            });
            async move { c.record_space_service(r).await }
        })
        .await?;
        seed.created("space services");
        seed.progress.tick();
    }
    Ok(())
}
