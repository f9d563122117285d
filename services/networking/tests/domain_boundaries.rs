//! The domain does no I/O: no database, no files, no network, no runtime.
//! Its rules are plain functions over plain types, tested without any of
//! them; the API and the store around it do the rest.

use std::path::{Path, PathBuf};

/// Every file under `dir`, folders included.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the domain folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn the_domain_does_no_io() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let files = sources(&dir);
    assert!(files.len() > 10, "the domain's files are read: {files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a source file");
        for forbidden in [
            "sqlx",
            "kit::db",
            "markaz_kit::db",
            "tokio",
            "std::fs",
            "std::net",
            "std::process",
            "async fn",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}",
                path.display()
            );
        }
    }
}

#[test]
fn the_crate_depends_on_the_platform_and_the_protos_only() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .expect("the manifest");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("a [dependencies] table");
    let names: Vec<&str> = deps
        .lines()
        .filter_map(|l| l.split(['.', '=', ' ']).next())
        .filter(|n| !n.is_empty())
        .collect();
    assert_eq!(names, ["markaz-kit", "markaz-proto"]);
}
