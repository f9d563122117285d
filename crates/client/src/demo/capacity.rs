//! Capacity building: the workshops and courses, each taken through its
//! life cycle (open, enrol, start, a mark for everyone at every session,
//! complete), and the consultation and technical-support sessions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use markaz_proto::capacity::v1 as cap;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;

use super::center::{self, BRANCHES};
use super::{Ids, Seed, ar_of, parallel, rid, text};
use crate::rpc::{Api, all};

fn client(api: &Api) -> CapacityServiceClient<tonic::transport::Channel> {
    CapacityServiceClient::new(api.channel.clone())
}

/// The steps of the progress bar: a course, a consultation.
pub(crate) fn steps(cal: &center::Calendar) -> usize {
    center::courses(cal).len() + center::consultations(cal).len()
}

pub(crate) async fn seed(seed: &Arc<Seed>, ids: &Arc<Ids>) -> Result<(), String> {
    let api = &seed.api;
    let courses = center::courses(&seed.cal);
    let consultations = center::consultations(&seed.cal);
    seed.progress.phase("capacity: courses and workshops");
    let existing: HashMap<String, cap::Course> = all("ListCourses", |page_token| async move {
        let r = api
            .call("ListCourses", || {
                let mut c = client(api);
                let r = api.request(cap::ListCoursesRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                });
                async move { c.list_courses(r).await }
            })
            .await?;
        Ok((r.courses, r.next_page_token))
    })
    .await?
    .into_iter()
    .map(|c| (ar_of(&c.title), c))
    .collect();
    let (s, i, plan, existing) = (
        seed.clone(),
        ids.clone(),
        Arc::new(courses),
        Arc::new(existing),
    );
    parallel(seed, plan.len(), move |k| {
        let (s, i, plan, existing) = (s.clone(), i.clone(), plan.clone(), existing.clone());
        async move {
            course(
                &s,
                &i,
                k,
                &plan[k],
                existing.get(&plan[k].title_ar).cloned(),
            )
            .await
        }
    })
    .await?;

    seed.progress
        .phase("capacity: consultations and technical support");
    let noted: HashSet<String> = all("ListConsultations", |page_token| async move {
        let r = api
            .call("ListConsultations", || {
                let mut c = client(api);
                let r = api.request(cap::ListConsultationsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                });
                async move { c.list_consultations(r).await }
            })
            .await?;
        Ok((r.consultations, r.next_page_token))
    })
    .await?
    .into_iter()
    .map(|c| c.notes)
    .collect();
    let (s, i, plan, noted) = (
        seed.clone(),
        ids.clone(),
        Arc::new(consultations),
        Arc::new(noted),
    );
    parallel(seed, plan.len(), move |k| {
        let (s, i, plan, noted) = (s.clone(), i.clone(), plan.clone(), noted.clone());
        async move {
            let c = &plan[k];
            let notes = center::consultation_note(c);
            if noted.contains(&notes) {
                s.found("consultations");
                return Ok(());
            }
            let api = &s.api;
            let advisor = if c.external {
                cap::Advisor {
                    name: "خبير من شبكة خبراء المركز".into(),
                    kind: cap::AdvisorKind::ExternalExpert as i32,
                }
            } else {
                cap::Advisor {
                    name: "مسؤول بناء القدرات".into(),
                    kind: cap::AdvisorKind::Staff as i32,
                }
            };
            api.call(&format!("CreateConsultation {}", c.key), || {
                let mut client = client(api);
                let r = api.request(cap::CreateConsultationRequest {
                    consultation: Some(cap::Consultation {
                        kind: c.kind as i32,
                        topic_codes: vec![c.topic.into()],
                        organization_id: i.orgs[c.org].clone(),
                        attendee_person_ids: c
                            .attendees
                            .iter()
                            .map(|p| i.people[*p].clone())
                            .collect(),
                        advisor: Some(advisor.clone()),
                        branch_id: BRANCHES[c.branch].id.into(),
                        held_on: Some(c.held_on.to_proto()),
                        duration_minutes: if c.kind == cap::ConsultationKind::Consultation {
                            90
                        } else {
                            120
                        },
                        notes: notes.clone(),
                        ..Default::default()
                    }),
                    request_id: rid(&c.key),
                });
                async move { client.create_consultation(r).await }
            })
            .await?;
            s.created("consultations");
            Ok(())
        }
    })
    .await?;
    Ok(())
}

/// Takes course `k` from wherever it stands to completed.
async fn course(
    s: &Seed,
    ids: &Ids,
    k: usize,
    plan: &center::Course,
    found: Option<cap::Course>,
) -> Result<(), String> {
    let api = &s.api;
    let what = |step: &str| format!("{step} {}", plan.title_en);
    let mut course = match found {
        Some(c) => {
            s.found("courses");
            c
        }
        None => {
            let made = api
                .call(&what("CreateCourse"), || {
                    let mut c = client(api);
                    let r = api.request(cap::CreateCourseRequest {
                        course: Some(cap::Course {
                            kind: plan.kind as i32,
                            title: text(&plan.title_ar, &plan.title_en),
                            description: text(
                                "لكوادر المنظمات الشريكة في برنامج الاحتضان",
                                "For the staff of the incubated partner organizations",
                            ),
                            topic_codes: vec![plan.topic.into()],
                            branch_id: BRANCHES[plan.branch].id.into(),
                            venue: format!("مقر المركز في {}", BRANCHES[plan.branch].city),
                            sessions: (0..plan.days)
                                .map(|d| cap::Session {
                                    date: Some(plan.first_day.add_days(d).to_proto()),
                                    ..Default::default()
                                })
                                .collect(),
                            capacity: 25,
                            trainers: vec![cap::Trainer {
                                name: "مدرب المركز".into(),
                                subject: String::new(),
                                external: false,
                            }],
                            audience: cap::Audience::Open as i32,
                            ..Default::default()
                        }),
                        request_id: rid(&plan.key),
                    });
                    async move { c.create_course(r).await }
                })
                .await?;
            s.created("courses");
            made
        }
    };
    loop {
        let status = cap::CourseStatus::try_from(course.status).unwrap_or_default();
        course = match status {
            cap::CourseStatus::Completed => return Ok(()),
            cap::CourseStatus::Planned => {
                api.call(&what("OpenCourse"), || {
                    let mut c = client(api);
                    let r = api.request(cap::OpenCourseRequest {
                        id: course.id.clone(),
                        etag: String::new(),
                    });
                    async move { c.open_course(r).await }
                })
                .await?
            }
            cap::CourseStatus::Open => {
                let enrolled = enrolments(api, &course.id).await?;
                for (j, p) in plan.participants.iter().enumerate() {
                    let person = &ids.people[*p];
                    if enrolled.contains_key(person) {
                        s.found("enrolments");
                        continue;
                    }
                    let org = &ids.person_org[*p];
                    api.call(&what("EnrolParticipant"), || {
                        let mut c = client(api);
                        let r = api.request(cap::EnrolParticipantRequest {
                            course_id: course.id.clone(),
                            person_id: person.clone(),
                            organization_id: org.clone(),
                            request_id: rid(&format!("{}-enrol-{j:02}", plan.key)),
                        });
                        async move { c.enrol_participant(r).await }
                    })
                    .await?;
                    s.created("enrolments");
                }
                api.call(&what("StartCourse"), || {
                    let mut c = client(api);
                    let r = api.request(cap::StartCourseRequest {
                        id: course.id.clone(),
                        etag: String::new(),
                    });
                    async move { c.start_course(r).await }
                })
                .await?
            }
            cap::CourseStatus::Running => {
                // Marks sent again change nothing: a run cut short between
                // two sessions simply sends them all.
                let enrolled = enrolments(api, &course.id).await?;
                let order: Vec<&String> =
                    plan.participants.iter().map(|p| &ids.people[*p]).collect();
                for (n, session) in course.sessions.iter().enumerate() {
                    let marks = enrolled
                        .iter()
                        .map(|(person, enrolment)| {
                            let j = order.iter().position(|p| *p == person).unwrap_or(0);
                            cap::AttendanceMark {
                                enrolment_id: enrolment.clone(),
                                status: if center::absent(k, j, n) {
                                    cap::AttendanceStatus::Absent
                                } else {
                                    cap::AttendanceStatus::Present
                                } as i32,
                                ..Default::default()
                            }
                        })
                        .collect::<Vec<_>>();
                    api.call(&what("RecordAttendance"), || {
                        let mut c = client(api);
                        let r = api.request(cap::RecordAttendanceRequest {
                            course_id: course.id.clone(),
                            session_id: session.id.clone(),
                            marks: marks.clone(),
                            request_id: String::new(),
                        });
                        async move { c.record_attendance(r).await }
                    })
                    .await?;
                }
                api.call(&what("CompleteCourse"), || {
                    let mut c = client(api);
                    let r = api.request(cap::CompleteCourseRequest {
                        id: course.id.clone(),
                        etag: String::new(),
                    });
                    async move { c.complete_course(r).await }
                })
                .await?
            }
            other => {
                return Err(format!(
                    "{}: the course is {}; the seed only completes courses",
                    plan.title_en,
                    other.as_str_name()
                ));
            }
        };
    }
}

/// The places held in a course: person → enrolment.
async fn enrolments(api: &Api, course: &str) -> Result<HashMap<String, String>, String> {
    Ok(all("ListEnrolments", |page_token| async move {
        let r = api
            .call("ListEnrolments", || {
                let mut c = client(api);
                let r = api.request(cap::ListEnrolmentsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    course_id: course.into(),
                    ..Default::default()
                });
                async move { c.list_enrolments(r).await }
            })
            .await?;
        Ok((r.enrolments, r.next_page_token))
    })
    .await?
    .into_iter()
    .filter(|e| e.status == cap::EnrolmentStatus::Enrolled as i32)
    .map(|e| (e.person_id, e.id))
    .collect())
}
