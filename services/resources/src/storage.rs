//! The library's files in object storage, through the `object_store` crate:
//! the local filesystem in embedded mode (`markaz dev`), S3-compatible
//! storage in production. The database keeps each version's metadata; the
//! bytes live here under a key made of ids ([`crate::domain::files::object_key`]).
//!
//! Nothing here holds a whole file in memory. A write is a multipart upload
//! fed chunk by chunk as the gRPC stream delivers them: at most one part
//! being filled and [`PARTS_IN_FLIGHT`] parts being sent, so an upload costs
//! about `(1 + PARTS_IN_FLIGHT) × part size` whatever the file's size (S3
//! wants parts of 5 MiB at least, the local filesystem takes any). A read is
//! a ranged GET streamed back in pieces of at most [`READ_PIECE`] bytes, from
//! any offset, for resumed downloads.
//!
//! S3 is reached with `object_store`'s S3 client signing with *ring* and
//! reqwest's rustls TLS on the ring provider: `object_store`'s own `aws`
//! feature would bring `aws-lc-rs` (and its C toolchain); the workspace's
//! `aws-base` + `ring` + `reqwest` is the same client without it.

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use markaz_kit::error::{Error, Result};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};

/// Parts uploading at once, besides the one being filled.
pub const PARTS_IN_FLIGHT: usize = 2;
/// S3's smallest part (but the last).
pub const S3_PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts on the local filesystem are written straight to the staging file.
pub const LOCAL_PART_SIZE: usize = 1024 * 1024;
/// The largest piece a read yields.
pub const READ_PIECE: usize = 256 * 1024;

/// Where S3-compatible storage is, and how to sign in.
#[derive(Clone)]
pub struct S3Settings {
    /// e.g. `https://s3.eu-central-1.amazonaws.com`, or a MinIO/Ceph/moto
    /// address; `None` for AWS itself (from the region).
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Plain http, for a server on loopback in tests; never in production.
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log.
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

/// The library's object storage.
#[derive(Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
    part_size: usize,
    kind: &'static str,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("kind", &self.kind)
            .field("part_size", &self.part_size)
            .finish()
    }
}

/// rustls needs its crypto provider chosen once per process; reqwest (built
/// without a provider of its own) uses whichever is installed. Installing
/// twice is refused by rustls and harmless here.
fn install_ring() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn storage_error(what: &str, e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::not_found("file content", what.to_string()),
        other => Error::Unavailable(format!("object storage ({what}): {other}")),
    }
}

fn key(k: &str) -> Result<Path> {
    Path::parse(k).map_err(|e| Error::internal(format!("object key '{k}': {e}")))
}

impl FileStore {
    /// Files under `root` on the local filesystem (created when missing).
    pub fn local(root: impl AsRef<FsPath>) -> Result<FileStore> {
        let root = root.as_ref();
        std::fs::create_dir_all(root)
            .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", root.display())))?;
        let fs = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| storage_error("local root", e))?
            // Empty directories of deleted objects are removed too.
            .with_automatic_cleanup(true);
        Ok(FileStore {
            store: Arc::new(fs),
            part_size: LOCAL_PART_SIZE,
            kind: "local",
        })
    }

    /// Files in an S3-compatible bucket.
    pub fn s3(settings: &S3Settings) -> Result<FileStore> {
        install_ring();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(&settings.secret_access_key)
            .with_allow_http(settings.allow_http);
        if let Some(endpoint) = &settings.endpoint {
            // Path-style addressing: MinIO, Ceph and moto take the bucket in
            // the path rather than as a subdomain.
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        let s3 = builder
            .build()
            .map_err(|e| storage_error("S3 settings", e))?;
        Ok(FileStore {
            store: Arc::new(s3),
            part_size: S3_PART_SIZE,
            kind: "s3",
        })
    }

    /// "local" or "s3", for logs and health.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Starts writing the object `key`; nothing is visible under the key
    /// until [`FileWriter::finish`].
    pub async fn writer(&self, object: &str) -> Result<FileWriter> {
        let path = key(object)?;
        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|e| storage_error(object, e))?;
        Ok(FileWriter {
            upload: WriteMultipart::new_with_chunk_size(upload, self.part_size),
            key: object.to_string(),
            written: 0,
        })
    }

    /// The bytes `range` of the object, streamed in pieces of at most
    /// [`READ_PIECE`]. An empty range reads nothing (a download resumed at
    /// its end).
    pub async fn read(
        &self,
        object: &str,
        range: Range<u64>,
    ) -> Result<BoxStream<'static, Result<Bytes>>> {
        if range.is_empty() {
            return Ok(stream::empty().boxed());
        }
        let path = key(object)?;
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..Default::default()
        };
        let result = self
            .store
            .get_opts(&path, options)
            .await
            .map_err(|e| storage_error(object, e))?;
        let name = object.to_string();
        Ok(result
            .into_stream()
            .map(move |piece| piece.map_err(|e| storage_error(&name, e)))
            .flat_map(|piece| {
                let pieces: Vec<Result<Bytes>> = match piece {
                    Ok(mut b) => {
                        let mut out = Vec::with_capacity(b.len() / READ_PIECE + 1);
                        while b.len() > READ_PIECE {
                            out.push(Ok(b.split_to(READ_PIECE)));
                        }
                        out.push(Ok(b));
                        out
                    }
                    Err(e) => vec![Err(e)],
                };
                stream::iter(pieces)
            })
            .boxed())
    }

    /// The stored size of the object.
    pub async fn size(&self, object: &str) -> Result<u64> {
        let meta = self
            .store
            .head(&key(object)?)
            .await
            .map_err(|e| storage_error(object, e))?;
        Ok(meta.size)
    }

    /// Deletes the object; deleting one that is gone is fine.
    pub async fn delete(&self, object: &str) -> Result<()> {
        match self.store.delete(&key(object)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage_error(object, e)),
        }
    }
}

/// An object being written, chunk by chunk.
pub struct FileWriter {
    upload: WriteMultipart,
    key: String,
    written: u64,
}

impl std::fmt::Debug for FileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWriter")
            .field("key", &self.key)
            .field("written", &self.written)
            .finish()
    }
}

impl FileWriter {
    /// Appends `chunk`, first waiting while [`PARTS_IN_FLIGHT`] parts are
    /// still uploading: the producer (the client's stream) is slowed down
    /// rather than buffered.
    pub async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.upload
            .wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .map_err(|e| storage_error(&self.key, e))?;
        self.written += chunk.len() as u64;
        self.upload.put(chunk);
        Ok(())
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Completes the upload: the object exists under its key from now on.
    pub async fn finish(self) -> Result<u64> {
        let key = self.key;
        self.upload
            .finish()
            .await
            .map_err(|e| storage_error(&key, e))?;
        Ok(self.written)
    }

    /// Gives the upload up; parts already sent are discarded.
    pub async fn abort(self) -> Result<()> {
        let key = self.key;
        self.upload
            .abort()
            .await
            .map_err(|e| storage_error(&key, e))
    }
}

#[cfg(test)]
mod tests {
    /// The S3 client signs and talks TLS with ring: nothing in the
    /// workspace may bring aws-lc back (the `aws` feature of `object_store`
    /// or reqwest's default `rustls` would).
    #[test]
    fn aws_lc_is_not_in_the_build() {
        let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
        let lock = std::fs::read_to_string(lock).expect("the workspace's Cargo.lock");
        for banned in ["aws-lc-rs", "aws-lc-sys"] {
            assert!(
                !lock.contains(&format!("name = \"{banned}\"")),
                "{banned} is in Cargo.lock"
            );
        }
    }
}
