//! What donors are, what a tenant shares with one, and what a donor may ask:
//! parsing and the rules, no I/O.

use std::collections::BTreeMap;

use markaz_kit::error::{AllValid, Error, FieldViolation, Result, Violations};
use markaz_kit::rpc::parse_id;
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::common::v1::{LocalizedText, Sector};
use markaz_proto::donors::v1 as api;
use markaz_proto::impact::v1::Dimension;

use super::catalogue::{Indicator, indicator};
use super::exports;
use super::suppression::{MAX_THRESHOLD, MIN_THRESHOLD};

/// The dimensions a donor may split a figure by, one at a time: what a
/// donor report asks (sex, governorate) and no more, so that every figure
/// a donor can see of one indicator and quarter is one small table.
pub const DONOR_DIMENSIONS: [Dimension; 2] = [Dimension::Gender, Dimension::Branch];

/// A watch follows at most this many figures (tenant × indicator ×
/// quarter).
pub const MAX_WATCHED: i32 = 500;

/// At most this many quarters in one request.
pub const MAX_QUARTERS: usize = 12;

/// At most this many programs or indicators in one agreement.
pub const MAX_SHARED: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Donor {
    pub id: String,
    pub name: LocalizedText,
    pub iati_identifier: String,
}

pub fn donor(req: &api::RegisterDonorRequest) -> Result<Donor> {
    let empty = api::Donor::default();
    let d = req.donor.as_ref().unwrap_or(&empty);
    let (id, name, iati) = (
        validate::slug("donor.id", &d.id, 64),
        validate::localized("donor.name", d.name.as_ref(), 200, true),
        iati_identifier("donor.iati_identifier", &d.iati_identifier),
    )
        .all()?;
    Ok(Donor {
        id,
        name,
        iati_identifier: iati,
    })
}

/// An IATI organisation identifier: a registration agency prefix and a
/// number ("XM-DAC-41114", "XI-IATI-EC_ECHO"), letters, digits, '-', '.', '_'.
fn iati_identifier(field: &str, value: &str) -> Result<String, FieldViolation> {
    let ok = value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        && (value.is_empty() || value.contains('-'));
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldViolation::new(
            field,
            "an IATI organisation identifier such as XM-DAC-41114",
        ))
    }
}

/// A share agreement as the tenant asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShare {
    pub donor_id: String,
    pub program_ids: Vec<String>,
    pub indicator_codes: Vec<String>,
    pub from: Date,
    pub until: Date,
    pub purpose: LocalizedText,
}

/// The catalogue indicators a donor can be given: counts, not money (money
/// reaches a donor per project, in ListFundedProjects).
pub fn shareable(code: &str) -> Option<&'static Indicator> {
    indicator(code).filter(|i| !i.is_money())
}

pub fn new_share(req: &api::CreateShareAgreementRequest) -> Result<NewShare> {
    let empty = api::ShareAgreement::default();
    let s = req.share_agreement.as_ref().unwrap_or(&empty);
    let mut v = Violations::new();
    let donor_id = v.take(validate::slug("share_agreement.donor_id", &s.donor_id, 64));
    let from = v.take(Date::required("share_agreement.from", s.from.as_ref()));
    let until = v.take(Date::required("share_agreement.until", s.until.as_ref()));
    if let (Some(f), Some(u)) = (from, until)
        && u < f
    {
        v.add("share_agreement.until", format!("before {f}, the start"));
    }
    let purpose = v.take_many(validate::localized(
        "share_agreement.purpose",
        s.purpose.as_ref(),
        2000,
        true,
    ));
    let mut program_ids = Vec::new();
    for (i, p) in s.program_ids.iter().enumerate() {
        let field = format!("share_agreement.program_ids[{i}]");
        match parse_id(&field, p) {
            Ok(p) if program_ids.contains(&p) => v.add(field, "named twice"),
            Ok(p) => program_ids.push(p),
            Err(e) => {
                v.take::<()>(Err(e));
            }
        }
    }
    let mut indicator_codes = Vec::new();
    for (i, c) in s.indicator_codes.iter().enumerate() {
        let field = format!("share_agreement.indicator_codes[{i}]");
        match indicator(c) {
            None => v.add(field, format!("no indicator {c:?} in the catalogue")),
            Some(ind) if ind.is_money() => v.add(
                field,
                format!("{c:?} is money: donors see money per project (ListFundedProjects)"),
            ),
            Some(_) if indicator_codes.contains(c) => v.add(field, "named twice"),
            Some(_) => indicator_codes.push(c.clone()),
        }
    }
    if s.program_ids.is_empty() && s.indicator_codes.is_empty() {
        v.add(
            "share_agreement",
            "shares nothing: name programs, indicators or both",
        );
    }
    for (field, n) in [
        ("share_agreement.program_ids", s.program_ids.len()),
        ("share_agreement.indicator_codes", s.indicator_codes.len()),
    ] {
        if n > MAX_SHARED {
            v.add(field, format!("at most {MAX_SHARED}"));
        }
    }
    v.finish()?;
    let missing = || Error::internal("a parsed share agreement lacks a field");
    Ok(NewShare {
        donor_id: donor_id.ok_or_else(missing)?,
        program_ids,
        indicator_codes,
        from: from.ok_or_else(missing)?,
        until: until.ok_or_else(missing)?,
        purpose: purpose.ok_or_else(missing)?,
    })
}

pub fn revoke_reason(req: &api::RevokeShareAgreementRequest) -> Result<(String, String)> {
    let (id, reason) = (
        parse_id("id", &req.id),
        validate::line("reason", &req.reason, 500, true),
    )
        .all()?;
    Ok((id, reason))
}

/// Sharing settings as an admin sets them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SettingsFields {
    /// The suppression threshold (0 asked: the default).
    pub threshold: i64,
    /// The tenant as an IATI reporting organisation.
    pub iati_identifier: String,
    pub name: LocalizedText,
    /// Catalogue counts the public page shows.
    pub public_codes: Vec<String>,
    /// Programs whose IATI file is public.
    pub published_programs: Vec<String>,
    /// Branch id -> Syrian admin-1 p-code.
    pub branch_pcodes: BTreeMap<String, String>,
    /// SECTOR_* name -> DAC 5 code.
    pub sector_codes: BTreeMap<String, String>,
}

/// At most this many branches or sectors mapped, public indicators or
/// published programs.
pub const MAX_SETTINGS_ITEMS: usize = 100;

pub fn settings(req: &api::UpdateSharingSettingsRequest) -> Result<SettingsFields> {
    let empty = api::SharingSettings::default();
    let s = req.settings.as_ref().unwrap_or(&empty);
    let t = match i64::from(s.suppression_threshold) {
        0 => Ok(super::suppression::DEFAULT_THRESHOLD),
        t if (MIN_THRESHOLD..=MAX_THRESHOLD).contains(&t) => Ok(t),
        t => Err(FieldViolation::new(
            "settings.suppression_threshold",
            format!("from {MIN_THRESHOLD} to {MAX_THRESHOLD} (0: the default), got {t}"),
        )),
    };
    let mut v = Violations::new();
    let mut public_codes = Vec::new();
    for (i, c) in s.public_indicator_codes.iter().enumerate() {
        let field = format!("settings.public_indicator_codes[{i}]");
        match indicator(c) {
            None => v.add(field, format!("no indicator {c:?} in the catalogue")),
            Some(ind) if ind.is_money() => v.add(
                field,
                format!("{c:?} is money: the public page shows counts"),
            ),
            Some(_) if public_codes.contains(c) => v.add(field, "named twice"),
            Some(_) => public_codes.push(c.clone()),
        }
    }
    let mut published_programs = Vec::new();
    for (i, p) in s.published_program_ids.iter().enumerate() {
        let field = format!("settings.published_program_ids[{i}]");
        match parse_id(&field, p) {
            Ok(p) if published_programs.contains(&p) => v.add(field, "named twice"),
            Ok(p) => published_programs.push(p),
            Err(e) => {
                v.take::<()>(Err(e));
            }
        }
    }
    let mut branch_pcodes = BTreeMap::new();
    // Sorted: a map's order on the wire is no order, the refusal's is.
    let mut branches: Vec<(&String, &String)> = s.branch_admin1_pcodes.iter().collect();
    branches.sort();
    for (branch, code) in branches {
        let field = format!("settings.branch_admin1_pcodes[{branch:?}]");
        match validate::slug(&field, branch, 64) {
            Err(e) => {
                v.take::<()>(Err(e));
            }
            Ok(b) => match exports::check_admin1(code) {
                Ok(code) => {
                    branch_pcodes.insert(b, code.to_string());
                }
                Err(why) => v.add(field, why),
            },
        }
    }
    let mut sector_codes = BTreeMap::new();
    let mut sectors: Vec<(&String, &String)> = s.sector_dac5_codes.iter().collect();
    sectors.sort();
    for (sector, code) in sectors {
        let field = format!("settings.sector_dac5_codes[{sector:?}]");
        match Sector::from_str_name(sector) {
            None | Some(Sector::Unspecified) => {
                v.add(field, format!("{sector:?} is not a SECTOR_* name"))
            }
            Some(_) => match exports::check_dac5(code) {
                Ok(()) => {
                    sector_codes.insert(sector.clone(), code.clone());
                }
                Err(why) => v.add(field, why),
            },
        }
    }
    for (field, n) in [
        (
            "settings.public_indicator_codes",
            s.public_indicator_codes.len(),
        ),
        (
            "settings.published_program_ids",
            s.published_program_ids.len(),
        ),
        (
            "settings.branch_admin1_pcodes",
            s.branch_admin1_pcodes.len(),
        ),
        ("settings.sector_dac5_codes", s.sector_dac5_codes.len()),
    ] {
        if n > MAX_SETTINGS_ITEMS {
            v.add(field, format!("at most {MAX_SETTINGS_ITEMS}"));
        }
    }
    if !s.published_program_ids.is_empty() && s.iati_identifier.is_empty() {
        v.add(
            "settings.iati_identifier",
            "required to publish IATI files (settings.published_program_ids)",
        );
    }
    let (threshold, iati_identifier, name, ()) = (
        t,
        iati_identifier("settings.iati_identifier", &s.iati_identifier),
        validate::localized(
            "settings.organisation_name",
            s.organisation_name.as_ref(),
            200,
            false,
        ),
        v.finish(),
    )
        .all()?;
    Ok(SettingsFields {
        threshold,
        iati_identifier,
        name,
        public_codes,
        published_programs,
        branch_pcodes,
        sector_codes,
    })
}

/// A calendar quarter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quarter {
    pub year: i32,
    /// 1 to 4.
    pub number: u32,
}

impl Quarter {
    pub fn of(d: Date) -> Quarter {
        let p = d.to_proto();
        Quarter {
            year: p.year,
            number: (p.month as u32 - 1) / 3 + 1,
        }
    }

    pub fn first_day(self) -> Date {
        Date::new(self.year, (self.number - 1) * 3 + 1, 1).unwrap_or(Date::from_days(0))
    }

    pub fn last_day(self) -> Date {
        self.next().first_day().add_days(-1)
    }

    pub fn next(self) -> Quarter {
        if self.number == 4 {
            Quarter {
                year: self.year + 1,
                number: 1,
            }
        } else {
            Quarter {
                number: self.number + 1,
                ..self
            }
        }
    }

    /// "2026-Q1".
    pub fn label(self) -> String {
        format!("{}-Q{}", self.year, self.number)
    }

    /// Whether the quarter lies wholly within `[from, until]`.
    pub fn within(self, from: Date, until: Date) -> bool {
        from <= self.first_day() && self.last_day() <= until
    }
}

/// A donor's request for figures, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DonorQuery {
    /// Empty: every shared indicator.
    pub codes: Vec<String>,
    pub quarters: Vec<Quarter>,
    /// None or one of [`DONOR_DIMENSIONS`].
    pub split: Option<Dimension>,
    /// Empty: every sharing tenant.
    pub tenant: String,
    pub from: Date,
    pub until: Date,
}

impl DonorQuery {
    pub fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{}|{:?}|{}",
            self.codes.join(","),
            self.from,
            self.until,
            self.split,
            self.tenant
        )
    }
}

pub fn donor_query(req: &api::GetIndicatorsRequest) -> Result<DonorQuery> {
    let mut v = Violations::new();
    let from = v.take(Date::required("from", req.from.as_ref()));
    let until = v.take(Date::required("until", req.until.as_ref()));
    let mut quarters = Vec::new();
    if let Some(f) = from
        && Quarter::of(f).first_day() != f
    {
        v.add("from", format!("{f} is not the first day of a quarter"));
    }
    if let Some(u) = until
        && Quarter::of(u).last_day() != u
    {
        v.add("until", format!("{u} is not the last day of a quarter"));
    }
    if let (Some(f), Some(u)) = (from, until) {
        if u < f {
            v.add("until", format!("before {f}, the start"));
        } else {
            let mut q = Quarter::of(f);
            while q <= Quarter::of(u) && quarters.len() <= MAX_QUARTERS {
                quarters.push(q);
                q = q.next();
            }
            if quarters.len() > MAX_QUARTERS {
                v.add("until", format!("at most {MAX_QUARTERS} quarters at once"));
            }
        }
    }
    let mut split = None;
    for (i, d) in req.group_by.iter().enumerate() {
        let field = format!("group_by[{i}]");
        match Dimension::try_from(*d) {
            Ok(d) if DONOR_DIMENSIONS.contains(&d) => {
                if split.is_some() {
                    v.add(
                        field,
                        "a donor's figure is split by one dimension at a time",
                    );
                } else {
                    split = Some(d);
                }
            }
            _ => v.add(
                field,
                "donors split by DIMENSION_GENDER or DIMENSION_BRANCH, one at a time",
            ),
        }
    }
    let mut codes: Vec<String> = Vec::new();
    for (i, c) in req.codes.iter().enumerate() {
        let field = format!("codes[{i}]");
        match shareable(c) {
            None => v.add(field, format!("no indicator {c:?} a donor can be shared")),
            Some(ind) if split.is_some_and(|d| !ind.has(d)) => v.add(
                field,
                format!(
                    "{c:?} cannot be split by {}",
                    split.map(|d| d.as_str_name()).unwrap_or_default()
                ),
            ),
            Some(_) if codes.contains(c) => v.add(field, "named twice"),
            Some(_) => codes.push(c.clone()),
        }
    }
    // A tenant id's shape (kit::db::check_tenant's, which a domain may
    // not call): lowercase letters, digits and '-', at most 63.
    let tenant_shaped = req.tenant_id.len() <= 63
        && req
            .tenant_id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let tenant = if tenant_shaped {
        req.tenant_id.clone()
    } else {
        v.add("tenant_id", "not a tenant id");
        String::new()
    };
    v.finish()?;
    let missing = || Error::internal("a parsed request lacks its period");
    Ok(DonorQuery {
        codes,
        quarters,
        split,
        tenant,
        from: from.ok_or_else(missing)?,
        until: until.ok_or_else(missing)?,
    })
}

/// What every request for a donor's figures asks, paged or not (a watch,
/// an export, a public page), parsed as [`donor_query`] parses it.
pub fn figures_query(
    codes: Vec<String>,
    from: Option<markaz_proto::common::v1::Date>,
    until: Option<markaz_proto::common::v1::Date>,
    group_by: Vec<i32>,
    tenant_id: String,
) -> Result<DonorQuery> {
    donor_query(&api::GetIndicatorsRequest {
        codes,
        from,
        until,
        group_by,
        tenant_id,
        page_size: 0,
        page_token: String::new(),
    })
}

/// At most this many quarters in one public request: a public page's year.
pub const MAX_PUBLIC_QUARTERS: usize = 4;

/// A public page's request for figures: a donor's query of one center
/// (named, required), at most a year of quarters.
pub fn public_query(req: api::GetPublicFiguresRequest) -> Result<DonorQuery> {
    let center = if req.tenant_id.is_empty() {
        Err(FieldViolation::new("tenant_id", "required: the center"))
    } else {
        Ok(())
    };
    let (q, ()) = (
        figures_query(req.codes, req.from, req.until, req.group_by, req.tenant_id),
        center,
    )
        .all()?;
    if q.quarters.len() > MAX_PUBLIC_QUARTERS {
        return Err(Error::invalid(
            "until",
            format!("at most {MAX_PUBLIC_QUARTERS} quarters at once on a public page"),
        ));
    }
    Ok(q)
}

/// The donor dimensions `indicator` has: the lines of its protected table.
pub fn donor_lines(ind: &Indicator) -> Vec<Dimension> {
    DONOR_DIMENSIONS
        .iter()
        .copied()
        .filter(|d| ind.has(*d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: i32, d: i32) -> Option<markaz_proto::common::v1::Date> {
        Some(markaz_proto::common::v1::Date {
            year: y,
            month: m,
            day: d,
        })
    }

    #[test]
    fn quarters_are_whole() {
        let q = donor_query(&api::GetIndicatorsRequest {
            from: day(2025, 1, 1),
            until: day(2025, 6, 30),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(q.quarters.len(), 2);
        assert_eq!(q.quarters[1].label(), "2025-Q2");
        assert_eq!(q.quarters[1].last_day().to_string(), "2025-06-30");
        let bad = donor_query(&api::GetIndicatorsRequest {
            from: day(2025, 1, 2),
            until: day(2025, 6, 29),
            group_by: vec![Dimension::Topic as i32],
            codes: vec!["grant_amount_committed".into()],
            ..Default::default()
        })
        .unwrap_err();
        let Error::InvalidArgument(bad) = bad else {
            panic!("{bad:?}")
        };
        let fields: Vec<&str> = bad.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, vec!["from", "until", "group_by[0]", "codes[0]"]);
    }
}
