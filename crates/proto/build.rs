//! Compiles every `.proto` under the workspace's `proto/` directory.
//!
//! protoc comes from the `protoc-bin-vendored` crate, so a fresh machine needs
//! no system protoc.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let mut protos = Vec::new();
    collect(&root, &mut protos)?;
    protos.sort();
    println!("cargo:rerun-if-changed={}", root.display());
    for p in &protos {
        println!("cargo:rerun-if-changed={}", p.display());
    }

    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = prost_build::Config::new();
    config
        .protoc_executable(protoc_bin_vendored::protoc_bin_path()?)
        .enable_type_names()
        .include_file("_includes.rs");

    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("markaz_descriptor.bin"))
        .compile_with_config(config, &protos, &[root])?;
    Ok(())
}

fn collect(dir: &Path, into: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, into)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            into.push(path);
        }
    }
    Ok(())
}
