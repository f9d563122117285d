//! Advocacy campaigns: who runs one (a coalition or one organization), its
//! issue, targets and activities, its life cycle (planned → active →
//! completed; planned | active → cancelled), and its outcomes with their
//! evidence.

use markaz_kit::error::{Result, Violations};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::networking::v1 as api;

pub use api::{CampaignStatus, OutcomeKind, TargetKind};

use super::lifecycle::{Action, Lifecycle};
use super::{
    EvidenceSpec, NAME_MAX, PROSE_MAX, branch, day_not_after, finish, issue_code, optional_id,
    parse_evidence, required_id,
};

pub const MAX_TARGETS: usize = 20;
pub const MAX_ACTIVITIES: usize = 200;
pub const MAX_PEOPLE_REACHED: i32 = 10_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Runner {
    Coalition(String),
    Organization(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: TargetKind,
    pub organization_id: Option<String>,
    pub description: LocalizedText,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivitySpec {
    /// The activity's id when it is kept; `None` for a new one.
    pub id: Option<String>,
    pub date: Date,
    pub description: LocalizedText,
    pub event_id: Option<String>,
    pub people_reached: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignFields {
    pub title: LocalizedText,
    pub issue_code: String,
    pub objective: LocalizedText,
    pub runner: Runner,
    pub targets: Vec<Target>,
    /// In date order.
    pub activities: Vec<ActivitySpec>,
    pub branch_id: String,
    pub start_date: Date,
    pub end_date: Date,
    pub grant_award_id: Option<String>,
}

impl CampaignFields {
    /// The organizations among the targets.
    pub fn target_organizations(&self) -> Vec<&str> {
        self.targets
            .iter()
            .filter_map(|t| t.organization_id.as_deref())
            .collect()
    }
}

fn parse_runner(v: &mut Violations, runner: Option<&api::campaign::Runner>) -> Option<Runner> {
    use api::campaign::Runner as R;
    match runner {
        None => {
            v.add(
                "campaign.coalition_id",
                "a coalition or an organization runs it",
            );
            None
        }
        Some(R::CoalitionId(id)) => v
            .take(required_id("campaign.coalition_id", id))
            .map(Runner::Coalition),
        Some(R::OrganizationId(id)) => v
            .take(required_id("campaign.organization_id", id))
            .map(Runner::Organization),
    }
}

fn parse_targets(v: &mut Violations, targets: &[api::CampaignTarget]) -> Vec<Target> {
    if targets.is_empty() {
        v.add(
            "campaign.targets",
            "at least one: whom the campaign addresses",
        );
    }
    if targets.len() > MAX_TARGETS {
        v.add("campaign.targets", format!("at most {MAX_TARGETS}"));
    }
    let mut out: Vec<Target> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let f = |n: &str| format!("campaign.targets[{i}].{n}");
        let kind = v
            .take(validate::enumeration::<TargetKind>(
                &f("kind"),
                t.kind,
                true,
            ))
            .flatten();
        let organization_id = v.take(optional_id(&f("organization_id"), &t.organization_id));
        let description = v.take_many(validate::localized(
            &f("description"),
            t.description.as_ref(),
            NAME_MAX,
            false,
        ));
        let (Some(kind), Some(organization_id), Some(description)) =
            (kind, organization_id, description)
        else {
            continue;
        };
        if kind == TargetKind::LocalAdministration && organization_id.is_none() {
            v.add(
                f("organization_id"),
                "required: which local-administration body",
            );
            continue;
        }
        if organization_id.is_none() && description.ar.is_empty() && description.en.is_empty() {
            v.add(f("description"), "required unless an organization is named");
            continue;
        }
        if organization_id.is_some() && out.iter().any(|x| x.organization_id == organization_id) {
            v.add(f("organization_id"), "a target twice");
            continue;
        }
        out.push(Target {
            kind,
            organization_id,
            description,
        });
    }
    out
}

fn parse_activities(
    v: &mut Violations,
    activities: &[api::CampaignActivity],
    existing: &[String],
    start: Option<Date>,
) -> Vec<ActivitySpec> {
    if activities.len() > MAX_ACTIVITIES {
        v.add("campaign.activities", format!("at most {MAX_ACTIVITIES}"));
    }
    let mut out: Vec<ActivitySpec> = Vec::new();
    for (i, a) in activities.iter().enumerate() {
        let f = |n: &str| format!("campaign.activities[{i}].{n}");
        let id = v
            .take(optional_id(&f("id"), &a.id))
            .and_then(|id| match id {
                Some(id) if !existing.contains(&id) => {
                    v.add(f("id"), "not an activity of this campaign");
                    None
                }
                Some(id) if out.iter().any(|x| x.id.as_ref() == Some(&id)) => {
                    v.add(f("id"), "named twice");
                    None
                }
                other => Some(other),
            });
        let date = v.take(Date::required(&f("date"), a.date.as_ref()));
        if let (Some(day), Some(start)) = (date, start)
            && day < start
        {
            v.add(
                f("date"),
                format!("{day} is before the campaign starts, {start}"),
            );
        }
        let description = v.take_many(validate::localized(
            &f("description"),
            a.description.as_ref(),
            PROSE_MAX,
            true,
        ));
        let event_id = v.take(optional_id(&f("event_id"), &a.event_id));
        if !(0..=MAX_PEOPLE_REACHED).contains(&a.people_reached) {
            v.add(
                f("people_reached"),
                format!("from 0 to {MAX_PEOPLE_REACHED}"),
            );
        }
        if let (Some(id), Some(date), Some(description), Some(event_id)) =
            (id, date, description, event_id)
        {
            out.push(ActivitySpec {
                id,
                date,
                description,
                event_id,
                people_reached: a.people_reached,
            });
        }
    }
    out.sort_by_key(|a| a.date);
    out
}

/// Parses the settable fields of a campaign; an activity sent with an id
/// must be one of `existing` (the campaign's activities).
pub fn parse_campaign(c: &api::Campaign, existing: &[String]) -> Result<CampaignFields> {
    let mut v = Violations::new();
    let title = v.take_many(validate::localized(
        "campaign.title",
        c.title.as_ref(),
        NAME_MAX,
        true,
    ));
    let issue = v.take(issue_code("campaign.issue_code", &c.issue_code));
    let objective = v.take_many(validate::localized(
        "campaign.objective",
        c.objective.as_ref(),
        PROSE_MAX,
        false,
    ));
    let runner = parse_runner(&mut v, c.runner.as_ref());
    let targets = parse_targets(&mut v, &c.targets);
    let branch_id = v.take(branch("campaign.branch_id", &c.branch_id, true));
    let start_date = v.take(Date::required("campaign.start_date", c.start_date.as_ref()));
    let end_date = v.take(Date::required("campaign.end_date", c.end_date.as_ref()));
    if let (Some(s), Some(e)) = (start_date, end_date)
        && e < s
    {
        v.add("campaign.end_date", format!("before the start, {s}"));
    }
    let activities = parse_activities(&mut v, &c.activities, existing, start_date);
    let grant_award_id = v.take(optional_id("campaign.grant_award_id", &c.grant_award_id));
    finish(v, || {
        Some(CampaignFields {
            title: title?,
            issue_code: issue?,
            objective: objective?,
            runner: runner?,
            targets,
            activities,
            branch_id: branch_id?,
            start_date: start_date?,
            end_date: end_date?,
            grant_award_id: grant_award_id?,
        })
    })
}

pub const CAMPAIGN_MASK: &[&str] = &[
    "title",
    "issue_code",
    "objective",
    "coalition_id",
    "organization_id",
    "targets",
    "activities",
    "branch_id",
    "start_date",
    "end_date",
    "grant_award_id",
];

pub fn merge_campaign(onto: &mut api::Campaign, from: &api::Campaign, mask: &[&str]) {
    for path in mask {
        match *path {
            "title" => onto.title = from.title.clone(),
            "issue_code" => onto.issue_code = from.issue_code.clone(),
            "objective" => onto.objective = from.objective.clone(),
            // Either path names the one runner.
            "coalition_id" | "organization_id" => onto.runner = from.runner.clone(),
            "targets" => onto.targets = from.targets.clone(),
            "activities" => onto.activities = from.activities.clone(),
            "branch_id" => onto.branch_id = from.branch_id.clone(),
            "start_date" => onto.start_date = from.start_date,
            "end_date" => onto.end_date = from.end_date,
            "grant_award_id" => onto.grant_award_id = from.grant_award_id.clone(),
            _ => {}
        }
    }
}

/// What changed between two versions of a campaign: `refocused` when its
/// issue or runner did (a different campaign, in the figures), `edited`
/// when anything else did.
pub fn changes(old: &CampaignFields, new: &CampaignFields) -> (bool, bool) {
    let refocused = old.issue_code != new.issue_code || old.runner != new.runner;
    let edited = old.title != new.title
        || old.objective != new.objective
        || old.targets != new.targets
        || old.activities != new.activities
        || old.branch_id != new.branch_id
        || old.start_date != new.start_date
        || old.end_date != new.end_date
        || old.grant_award_id != new.grant_award_id;
    (refocused, edited)
}

/// Whether a campaign in `status` may take the changes from `old` to `new`.
pub fn check_campaign_update(
    status: CampaignStatus,
    old: &CampaignFields,
    new: &CampaignFields,
) -> Result<()> {
    let (refocused, edited) = changes(old, new);
    if refocused {
        CAMPAIGN_LIFECYCLE.next(status, A::Refocus)?;
    }
    if edited {
        CAMPAIGN_LIFECYCLE.next(status, A::Edit)?;
    }
    Ok(())
}

// ============================================================ life cycle

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CampaignAction {
    Edit,
    /// Its issue or who runs it changes.
    Refocus,
    Launch,
    Complete,
    Cancel,
    RecordOutcome,
}

impl CampaignAction {
    pub const ALL: [CampaignAction; 6] = [
        CampaignAction::Edit,
        CampaignAction::Refocus,
        CampaignAction::Launch,
        CampaignAction::Complete,
        CampaignAction::Cancel,
        CampaignAction::RecordOutcome,
    ];
}

impl Action for CampaignAction {
    fn past(self) -> &'static str {
        match self {
            CampaignAction::Edit => "changed",
            CampaignAction::Refocus => "given another issue or runner",
            CampaignAction::Launch => "launched",
            CampaignAction::Complete => "completed",
            CampaignAction::Cancel => "cancelled",
            CampaignAction::RecordOutcome => "given outcomes",
        }
    }
}

use CampaignAction as A;
use CampaignStatus as S;

/// planned → active → completed; planned | active → cancelled. A launched
/// campaign keeps its issue and runner (it is counted by them); outcomes
/// come once it is launched, also after it completed (a decision often
/// follows months later), never for a cancelled one.
pub const CAMPAIGN_LIFECYCLE: Lifecycle<CampaignStatus, CampaignAction> = Lifecycle {
    kind: "CAMPAIGN_STATUS",
    subject: "campaign.status",
    noun: "a campaign",
    moves: &[
        (S::Planned, A::Edit, S::Planned),
        (S::Active, A::Edit, S::Active),
        (S::Planned, A::Refocus, S::Planned),
        (S::Planned, A::Launch, S::Active),
        (S::Active, A::Complete, S::Completed),
        (S::Planned, A::Cancel, S::Cancelled),
        (S::Active, A::Cancel, S::Cancelled),
        (S::Active, A::RecordOutcome, S::Active),
        (S::Completed, A::RecordOutcome, S::Completed),
    ],
};

// =============================================================== outcomes

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeFields {
    pub kind: OutcomeKind,
    pub description: LocalizedText,
    pub achieved_on: Date,
    pub target_organization_id: Option<String>,
    pub evidence: Vec<EvidenceSpec>,
}

fn outcome_fields(
    v: &mut Violations,
    o: &api::CampaignOutcome,
    today: Date,
) -> Option<OutcomeFields> {
    let kind = v
        .take(validate::enumeration::<OutcomeKind>(
            "outcome.kind",
            o.kind,
            true,
        ))
        .flatten();
    let description = v.take_many(validate::localized(
        "outcome.description",
        o.description.as_ref(),
        PROSE_MAX,
        true,
    ));
    let achieved_on = match o.achieved_on.as_ref() {
        None => {
            v.add("outcome.achieved_on", "required");
            None
        }
        some => v.take(day_not_after("outcome.achieved_on", some, today)),
    };
    let target = v.take(optional_id(
        "outcome.target_organization_id",
        &o.target_organization_id,
    ));
    let evidence = parse_evidence(v, "outcome.evidence", &o.evidence, 1);
    Some(OutcomeFields {
        kind: kind?,
        description: description?,
        achieved_on: achieved_on?,
        target_organization_id: target?,
        evidence,
    })
}

/// Parses an outcome (an update): achieved by today, with evidence.
pub fn parse_outcome(o: &api::CampaignOutcome, today: Date) -> Result<OutcomeFields> {
    let mut v = Violations::new();
    let fields = outcome_fields(&mut v, o, today);
    finish(v, || fields)
}

/// Parses a new outcome: its campaign, and its fields.
pub fn parse_new_outcome(
    o: Option<&api::CampaignOutcome>,
    today: Date,
) -> Result<(String, OutcomeFields)> {
    let empty = api::CampaignOutcome::default();
    let o = o.unwrap_or(&empty);
    let mut v = Violations::new();
    let campaign_id = v.take(required_id("outcome.campaign_id", &o.campaign_id));
    let fields = outcome_fields(&mut v, o, today);
    finish(v, || Some((campaign_id?, fields?)))
}

/// An outcome against its campaign: achieved once the campaign started,
/// concerning one of its targets if it names a body.
pub fn check_outcome(outcome: &OutcomeFields, campaign: &CampaignFields) -> Result<()> {
    let mut v = Violations::new();
    if outcome.achieved_on < campaign.start_date {
        v.add(
            "outcome.achieved_on",
            format!(
                "{} is before the campaign started, {}",
                outcome.achieved_on, campaign.start_date
            ),
        );
    }
    if let Some(target) = &outcome.target_organization_id
        && !campaign.target_organizations().contains(&target.as_str())
    {
        v.add(
            "outcome.target_organization_id",
            "not one of the campaign's targets",
        );
    }
    v.finish()
}

pub const OUTCOME_MASK: &[&str] = &[
    "kind",
    "description",
    "achieved_on",
    "target_organization_id",
    "evidence",
];

pub fn merge_outcome(onto: &mut api::CampaignOutcome, from: &api::CampaignOutcome, mask: &[&str]) {
    for path in mask {
        match *path {
            "kind" => onto.kind = from.kind,
            "description" => onto.description = from.description.clone(),
            "achieved_on" => onto.achieved_on = from.achieved_on,
            "target_organization_id" => {
                onto.target_organization_id = from.target_organization_id.clone()
            }
            "evidence" => onto.evidence = from.evidence.clone(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bad_fields;
    use crate::domain::lifecycle::assert_matches_spec;
    use markaz_kit::error::Error;
    use markaz_kit::rpc::new_id;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn text(ar: &str) -> Option<LocalizedText> {
        Some(LocalizedText {
            ar: ar.into(),
            en: String::new(),
        })
    }

    fn campaign(council: &str) -> api::Campaign {
        api::Campaign {
            title: text("حملة دعم أطفال الثلاسيميا"),
            issue_code: "thalassemia".into(),
            objective: text("تأمين الأدوية مجاناً للأطفال المصابين"),
            runner: Some(api::campaign::Runner::OrganizationId(new_id())),
            targets: vec![
                api::CampaignTarget {
                    kind: TargetKind::LocalAdministration as i32,
                    organization_id: council.into(),
                    description: None,
                },
                api::CampaignTarget {
                    kind: TargetKind::Community as i32,
                    organization_id: String::new(),
                    description: text("أهالي الأطفال"),
                },
            ],
            activities: vec![
                api::CampaignActivity {
                    date: Some(d("2019-05-20").to_proto()),
                    description: text("جلسة توعية في المدرسة"),
                    people_reached: 60,
                    ..Default::default()
                },
                api::CampaignActivity {
                    date: Some(d("2019-05-02").to_proto()),
                    description: text("لقاء مع المجلس المحلي"),
                    event_id: new_id(),
                    ..Default::default()
                },
            ],
            branch_id: "raqqa".into(),
            start_date: Some(d("2019-05-01").to_proto()),
            end_date: Some(d("2019-08-31").to_proto()),
            grant_award_id: new_id(),
            ..Default::default()
        }
    }

    #[test]
    fn a_campaign_parses_with_its_targets_and_activities_in_date_order() {
        let council = new_id();
        let f = parse_campaign(&campaign(&council), &[]).unwrap();
        assert_eq!(f.issue_code, "thalassemia");
        assert!(matches!(f.runner, Runner::Organization(_)));
        assert_eq!(f.target_organizations(), [council.as_str()]);
        assert_eq!(f.activities[0].date, d("2019-05-02"));
        assert_eq!(f.activities[1].people_reached, 60);
        assert!(f.grant_award_id.is_some());
        let coalition = api::Campaign {
            runner: Some(api::campaign::Runner::CoalitionId(new_id())),
            grant_award_id: String::new(),
            ..campaign(&council)
        };
        let f = parse_campaign(&coalition, &[]).unwrap();
        assert!(matches!(f.runner, Runner::Coalition(_)));
        assert_eq!(f.grant_award_id, None);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let council = new_id();
        let mut c = campaign(&council);
        c.title = None;
        c.issue_code = "Thalassemia".into();
        c.runner = None;
        c.targets.push(api::CampaignTarget {
            kind: TargetKind::LocalAdministration as i32,
            ..Default::default()
        });
        c.targets.push(api::CampaignTarget {
            kind: TargetKind::Media as i32,
            ..Default::default()
        });
        c.targets.push(api::CampaignTarget {
            kind: TargetKind::DecisionMaker as i32,
            organization_id: council.clone(),
            description: None,
        });
        c.activities.push(api::CampaignActivity {
            id: new_id(),
            date: Some(d("2019-04-30").to_proto()),
            description: None,
            people_reached: -1,
            ..Default::default()
        });
        c.end_date = Some(d("2019-04-01").to_proto());
        c.branch_id = String::new();
        let fields = bad_fields(parse_campaign(&c, &[]));
        assert_eq!(
            fields,
            [
                "campaign.title",
                "campaign.issue_code",
                "campaign.coalition_id",
                "campaign.targets[2].organization_id",
                "campaign.targets[3].description",
                "campaign.targets[4].organization_id",
                "campaign.branch_id",
                "campaign.end_date",
                "campaign.activities[2].id",
                "campaign.activities[2].date",
                "campaign.activities[2].description",
                "campaign.activities[2].people_reached",
            ]
        );
        let errs = bad_fields(parse_campaign(&api::Campaign::default(), &[]));
        assert!(errs.iter().any(|e| e == "campaign.targets"));
    }

    #[test]
    fn activities_sent_with_their_id_keep_it() {
        let council = new_id();
        let kept = new_id();
        let mut c = campaign(&council);
        c.activities[0].id = kept.clone();
        let f = parse_campaign(&c, std::slice::from_ref(&kept)).unwrap();
        assert_eq!(f.activities[1].id.as_ref(), Some(&kept));
        assert_eq!(f.activities[0].id, None);
        c.activities[1].id = kept.clone();
        let errs = bad_fields(parse_campaign(&c, std::slice::from_ref(&kept)));
        assert_eq!(errs[0], "campaign.activities[1].id");
    }

    #[test]
    fn the_mask_replaces_the_runner_by_either_path() {
        let council = new_id();
        let mut onto = campaign(&council);
        let coalition = Some(api::campaign::Runner::CoalitionId(new_id()));
        let from = api::Campaign {
            runner: coalition.clone(),
            ..Default::default()
        };
        merge_campaign(&mut onto, &from, &["organization_id"]);
        assert_eq!(onto.runner, coalition);
        assert!(onto.title.is_some());
        for path in CAMPAIGN_MASK {
            let mut probe = api::Campaign::default();
            merge_campaign(&mut probe, &campaign(&council), &[path]);
            assert_ne!(probe, api::Campaign::default(), "{path} is merged");
        }
    }

    #[test]
    fn the_table_is_the_specification() {
        assert_matches_spec(
            &CAMPAIGN_LIFECYCLE,
            &[
                S::Unspecified,
                S::Planned,
                S::Active,
                S::Completed,
                S::Cancelled,
            ],
            &CampaignAction::ALL,
            &[
                (S::Planned, A::Edit, S::Planned),
                (S::Planned, A::Refocus, S::Planned),
                (S::Planned, A::Launch, S::Active),
                (S::Planned, A::Cancel, S::Cancelled),
                (S::Active, A::Edit, S::Active),
                (S::Active, A::Complete, S::Completed),
                (S::Active, A::Cancel, S::Cancelled),
                (S::Active, A::RecordOutcome, S::Active),
                (S::Completed, A::RecordOutcome, S::Completed),
            ],
        );
        assert!(CAMPAIGN_LIFECYCLE.is_final(S::Completed));
        assert!(CAMPAIGN_LIFECYCLE.is_final(S::Cancelled));
    }

    #[test]
    fn a_launched_campaign_keeps_its_issue_and_runner() {
        let council = new_id();
        let c = campaign(&council);
        let old = parse_campaign(&c, &[]).unwrap();
        let mut retitled = c.clone();
        retitled.title = text("عنوان جديد");
        let new = parse_campaign(&retitled, &[]).unwrap();
        assert_eq!(changes(&old, &new), (false, true));
        assert!(check_campaign_update(S::Active, &old, &new).is_ok());
        assert!(check_campaign_update(S::Completed, &old, &new).is_err());
        let mut other_issue = c.clone();
        other_issue.issue_code = "diabetes".into();
        let new = parse_campaign(&other_issue, &[]).unwrap();
        assert_eq!(changes(&old, &new), (true, false));
        assert!(check_campaign_update(S::Planned, &old, &new).is_ok());
        let Err(Error::FailedPrecondition { description, .. }) =
            check_campaign_update(S::Active, &old, &new)
        else {
            panic!()
        };
        assert!(
            description.contains("another issue or runner"),
            "{description}"
        );
        assert!(check_campaign_update(S::Cancelled, &old, &old).is_ok());
    }

    fn outcome(campaign_id: &str, target: &str) -> api::CampaignOutcome {
        api::CampaignOutcome {
            campaign_id: campaign_id.into(),
            kind: OutcomeKind::PledgeObtained as i32,
            description: text("تعهد المجلس بتأمين أدوية الثلاسيميا"),
            achieved_on: Some(d("2019-07-01").to_proto()),
            target_organization_id: target.into(),
            evidence: vec![api::Evidence {
                url: "https://example.org/letter.pdf".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn an_outcome_has_evidence_and_belongs_to_its_campaign() {
        let council = new_id();
        let today = d("2019-12-01");
        let c = parse_campaign(&campaign(&council), &[]).unwrap();
        let id = new_id();
        let (campaign_id, o) = parse_new_outcome(Some(&outcome(&id, &council)), today).unwrap();
        assert_eq!(campaign_id, id);
        assert!(check_outcome(&o, &c).is_ok());

        let mut early = o.clone();
        early.achieved_on = d("2019-04-01");
        early.target_organization_id = Some(new_id());
        let fields = bad_fields(check_outcome(&early, &c));
        assert_eq!(
            fields,
            ["outcome.achieved_on", "outcome.target_organization_id"]
        );

        let fields = bad_fields(parse_new_outcome(None, today));
        assert_eq!(
            fields,
            [
                "outcome.campaign_id",
                "outcome.kind",
                "outcome.description",
                "outcome.achieved_on",
                "outcome.evidence"
            ]
        );
        let future = api::CampaignOutcome {
            achieved_on: Some(d("2019-12-03").to_proto()),
            ..outcome(&id, "")
        };
        assert!(parse_outcome(&future, today).is_err());
        assert!(parse_outcome(&outcome(&id, ""), today).is_ok());

        let mut onto = outcome(&id, &council);
        merge_outcome(&mut onto, &api::CampaignOutcome::default(), &["evidence"]);
        assert!(onto.evidence.is_empty());
        assert_eq!(onto.campaign_id, id);
        for path in OUTCOME_MASK {
            let mut probe = api::CampaignOutcome::default();
            merge_outcome(&mut probe, &outcome(&id, &council), &[path]);
            assert_ne!(probe, api::CampaignOutcome::default(), "{path} is merged");
        }
    }
}
