use super::*;
use std::collections::{BTreeMap, BTreeSet};

fn cal() -> Calendar {
    Calendar::of(Date::new(2026, 12, 1).unwrap())
}

#[test]
fn the_people_are_the_source_trainees_with_unique_names() {
    let people = people();
    let trainees = &people[..TRAINEES];
    assert_eq!(trainees.len(), 256);
    let women = trainees
        .iter()
        .filter(|p| p.gender == Gender::Female)
        .count();
    assert_eq!((women, 256 - women), (70, 186));
    let names: BTreeSet<&str> = people.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), people.len());
    for p in trainees {
        assert_ne!(ORGS[p.org].fate, Fate::Outside);
    }
    assert_eq!(people.len(), 260);
    for b in 0..2 {
        for o in officials(b) {
            assert_eq!(ORGS[people[o].org].kind, Kind::LocalAdministration);
            assert_eq!(ORGS[people[o].org].branch, b);
        }
    }
}

#[test]
fn the_courses_follow_the_source() {
    let cal = cal();
    let courses = courses(&cal);
    let workshops: Vec<&Course> = courses
        .iter()
        .filter(|c| c.kind == CourseKind::Workshop)
        .collect();
    assert_eq!(workshops.len(), 18);
    let in_workshops: Vec<usize> = workshops
        .iter()
        .flat_map(|c| c.participants.clone())
        .collect();
    let distinct: BTreeSet<usize> = in_workshops.iter().copied().collect();
    assert_eq!((in_workshops.len(), distinct.len()), (256, 256));
    let advocacy: Vec<&&Course> = workshops.iter().filter(|c| c.topic == ADVOCACY).collect();
    assert_eq!(advocacy.len(), 3);
    assert_eq!(
        advocacy.iter().map(|c| c.participants.len()).sum::<usize>(),
        39
    );
    let trainings: Vec<&Course> = courses
        .iter()
        .filter(|c| c.kind == CourseKind::TrainingCourse)
        .collect();
    assert_eq!(trainings.len(), 26);
    assert!(trainings.iter().all(|c| c.topic != ADVOCACY));
    for c in &courses {
        let distinct: BTreeSet<usize> = c.participants.iter().copied().collect();
        assert_eq!(distinct.len(), c.participants.len(), "{}", c.key);
        for p in &c.participants {
            // A trainee of a branch trains at that branch.
            assert_eq!(p / (TRAINEES / 2), c.branch, "{}", c.key);
        }
        assert!(c.first_day >= cal.first);
        assert!(c.first_day.add_days(c.days - 1) <= cal.last(), "{}", c.key);
    }
    let titles: BTreeSet<&str> = courses.iter().map(|c| c.title_ar.as_str()).collect();
    assert_eq!(titles.len(), courses.len());
    let events = events(&cal);
    let titles: BTreeSet<&str> = events.iter().map(|e| e.title_ar.as_str()).collect();
    assert_eq!(titles.len(), events.len());
}

#[test]
fn the_consultations_follow_the_first_reading() {
    let all = consultations(&cal());
    let mut count: BTreeMap<(usize, i32), usize> = BTreeMap::new();
    for c in &all {
        *count.entry((c.branch, c.kind as i32)).or_default() += 1;
        assert!(c.held_on <= cal().last());
        for a in &c.attendees {
            assert_eq!(people()[*a].org, c.org);
        }
    }
    let cons = ConsultationKind::Consultation as i32;
    let ts = ConsultationKind::TechnicalSupport as i32;
    assert_eq!(count[&(0, cons)] + count[&(1, cons)], 140);
    assert_eq!((count[&(0, ts)], count[&(1, ts)]), (196, 187));
    let advocacy: Vec<&Consultation> = all.iter().filter(|c| c.topic == ADVOCACY).collect();
    assert_eq!(advocacy.len(), 3);
    let activists: BTreeSet<usize> = advocacy.iter().flat_map(|c| c.attendees.clone()).collect();
    assert_eq!(activists.len(), 9);
    let keys: BTreeSet<&str> = all.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys.len(), 523);
}

#[test]
fn the_grant_round_has_24_projects_12_per_branch_within_the_money() {
    let projects = projects();
    assert_eq!(projects.len(), 24);
    let raqqa = projects
        .iter()
        .filter(|(_, o, _)| ORGS[*o].branch == 0)
        .count();
    assert_eq!(raqqa, 12);
    let campaigns = projects
        .iter()
        .filter(|(_, _, p)| p.campaign.is_some())
        .count();
    assert_eq!(campaigns, 7);
    let mut total = 0;
    for (n, o, p) in &projects {
        assert!(matches!(ORGS[*o].fate, Fate::Incubated | Fate::Graduated));
        assert!(THEMES.iter().any(|t| t.0 == p.theme));
        let a = amount(*n);
        assert!((500_000..=CEILING).contains(&a));
        assert_eq!(budget(*n).0 + budget(*n).1, a);
        assert_eq!(tranches(*n).0 + tranches(*n).1, a);
        total += a;
        let (start, m1, end) = project_days(&cal(), *n);
        assert!(cal().first <= start && start < m1 && m1 < end && end <= cal().last());
    }
    assert!(total <= ENVELOPE);
    assert_eq!(applicants().len(), 26);
}

#[test]
fn networking_has_474_participants() {
    let events = events(&cal());
    let known: BTreeSet<usize> = events.iter().flat_map(|e| e.people.clone()).collect();
    let guests: usize = events.iter().map(|e| e.guests.len()).sum();
    let walk: i32 = events
        .iter()
        .flat_map(|e| e.walk_ins.iter().map(|(_, _, n)| *n))
        .sum();
    assert_eq!((known.len(), guests, walk), (124, 10, 340));
    assert_eq!(
        known.len() as i64 + guests as i64 + walk as i64,
        NETWORKING_PARTICIPANTS
    );
    for e in &events {
        for p in &e.people {
            let org = people()[*p].org;
            assert_eq!(ORGS[org].branch, e.branch);
        }
    }
}

#[test]
fn a_young_year_still_has_room() {
    let cal = Calendar::of(Date::new(2027, 1, 3).unwrap());
    assert_eq!(cal.first, Date::new(2026, 11, 4).unwrap());
    for c in courses(&cal) {
        assert!(c.first_day.add_days(c.days - 1) <= cal.last());
    }
    for b in bookings(Date::new(2026, 12, 1).unwrap()) {
        assert_ne!(b.2.days().rem_euclid(7), 1, "a Friday");
    }
}

#[test]
fn consultation_beneficiaries_are_the_distinct_attendees() {
    let all = consultations(&cal());
    let people = people();
    let distinct: BTreeSet<usize> = all.iter().flat_map(|c| c.attendees.clone()).collect();
    let women = distinct
        .iter()
        .filter(|p| people[**p].gender == Gender::Female)
        .count();
    // The figures docs/demo.md gives for consultation_beneficiaries.
    assert_eq!((distinct.len(), women), (256, 70));
}
