//! Programs: their fields and what an update may change.

use markaz_kit::error::{AllValid, Result};
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::grants::v1 as api;

use super::{NAME_MAX, PROSE_MAX};

#[derive(Debug, Clone, PartialEq)]
pub struct ProgramFields {
    pub name: LocalizedText,
    pub description: LocalizedText,
}

pub const PROGRAM_MASK: &[&str] = &["name", "description"];

pub fn parse_program(p: &api::Program) -> Result<ProgramFields> {
    let (name, description) = (
        validate::localized("program.name", p.name.as_ref(), NAME_MAX, true),
        validate::localized(
            "program.description",
            p.description.as_ref(),
            PROSE_MAX,
            false,
        ),
    )
        .all()?;
    Ok(ProgramFields { name, description })
}

pub fn merge_program(onto: &mut api::Program, from: &api::Program, mask: &[&str]) {
    for path in mask {
        match *path {
            "name" => onto.name = from.name.clone(),
            "description" => onto.description = from.description.clone(),
            _ => {}
        }
    }
}
