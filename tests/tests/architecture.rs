//! The boundaries of the tree, checked rather than promised:
//!
//! * a service crate depends on kit and proto, never on another service —
//!   the one exception is a library a producer owns for its consumers (the
//!   copies of membership's data), which itself depends on kit and proto only;
//! * kit depends on no service;
//! * a service's `domain` (the rules) does no I/O: no SQL, no database
//!   handle, no runtime, no files or sockets.
//!
//! A new service under `services/` is covered without being named here.

use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the repository")
        .to_path_buf()
}

/// A workspace member: its package name, its directory, its dependencies.
struct Member {
    name: String,
    dir: PathBuf,
    dependencies: Vec<String>,
}

fn member(dir: &Path) -> Option<Member> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let manifest: toml::Table = toml::from_str(&text).expect("a Cargo.toml parses");
    let name = manifest.get("package")?.get("name")?.as_str()?.to_string();
    let dependencies = manifest
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default();
    Some(Member {
        name,
        dir: dir.to_path_buf(),
        dependencies,
    })
}

/// Every crate under `services/`, and the libraries inside service folders
/// (`services/membership/copies`).
fn services() -> Vec<Member> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(repository().join("services")).expect("services/") {
        let dir = entry.expect("an entry").path();
        if let Some(m) = member(&dir) {
            found.push(m);
        }
        for inner in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if let Some(m) = member(&inner.path()) {
                found.push(m);
            }
        }
    }
    assert!(found.len() >= 3, "the services are found");
    found
}

/// A library a producer owns for its consumers: named `<producer>-copies`.
fn is_producer_library(name: &str) -> bool {
    name.ends_with("-copies")
}

#[test]
fn services_depend_on_no_other_service() {
    let services = services();
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    let mut wrong = Vec::new();
    for s in &services {
        for d in &s.dependencies {
            if d != &s.name && names.contains(&d.as_str()) {
                let allowed = is_producer_library(d) && !is_producer_library(&s.name);
                if !allowed {
                    wrong.push(format!("{} depends on {d}", s.name));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn kit_depends_on_no_service() {
    let kit = member(&repository().join("crates/kit")).expect("crates/kit");
    let services: Vec<String> = services().into_iter().map(|s| s.name).collect();
    let wrong: Vec<&String> = kit
        .dependencies
        .iter()
        .filter(|d| services.contains(d))
        .collect();
    assert!(wrong.is_empty(), "kit depends on {wrong:?}");
}

/// What the rules of a service may not use.
const NOT_IN_A_DOMAIN: &[&str] = &[
    "sqlx",
    "markaz_kit::db",
    "kit::db",
    "Tx",
    "tokio",
    "std::fs",
    "std::net",
    "tonic::",
];

fn rust_files(path: &Path, into: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("a folder").flatten() {
            rust_files(&entry.path(), into);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        into.push(path.to_path_buf());
    }
}

#[test]
fn domains_do_no_io() {
    let mut wrong = Vec::new();
    let mut checked = 0;
    for s in services() {
        let mut files = Vec::new();
        rust_files(&s.dir.join("src/domain.rs"), &mut files);
        rust_files(&s.dir.join("src/domain"), &mut files);
        for file in files {
            checked += 1;
            let text = std::fs::read_to_string(&file).expect("a source file");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for word in NOT_IN_A_DOMAIN {
                    let hit = code.match_indices(word).any(|(i, _)| {
                        let before = code[..i].chars().next_back();
                        let after = code[i + word.len()..].chars().next();
                        let part_of_a_name =
                            |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                        !part_of_a_name(before) && !part_of_a_name(after)
                    });
                    if hit {
                        wrong.push(format!("{}:{}: {word}", file.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(checked >= 3, "the domains are found");
    assert!(wrong.is_empty(), "I/O in a domain:\n{}", wrong.join("\n"));
}
