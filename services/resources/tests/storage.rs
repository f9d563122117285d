//! The object-storage adapter against the local filesystem and a real
//! S3-compatible server (moto on loopback): the same test bodies on both.

mod support;

use markaz_resources::storage::{FileStore, READ_PIECE};
use support::{Content, Moto, read_hashed, write_all};

const MIB: u64 = 1024 * 1024;

/// A multi-part file written in API-sized chunks reads back whole, from an
/// offset, and in a middle range; a missing object is NOT_FOUND; a delete
/// is final and repeatable.
async fn round_trip(store: &FileStore) {
    let object = "raqqa/items/i-1/files/f-1/v1";
    let size = 12 * MIB + 12_345;
    let mut content = Content::new(7, size, 1024 * 1024);
    assert_eq!(write_all(store, object, &mut content).await, size);
    let whole = content.sha256();
    assert_eq!(store.size(object).await.unwrap(), size);

    let (read, sha, largest) = read_hashed(store, object, 0..size).await;
    assert_eq!((read, sha), (size, whole));
    assert!(
        largest <= READ_PIECE,
        "pieces of at most {READ_PIECE}, saw {largest}"
    );

    // A resumed download: the bytes from the offset are the tail of the
    // same content.
    let offset = 5 * MIB + 3;
    let mut tail = Content::new(7, size, 1024 * 1024);
    let mut skipped = 0u64;
    let mut tail_sha = ring::digest::Context::new(&ring::digest::SHA256);
    while let Some(chunk) = tail.next_chunk() {
        let start = skipped;
        skipped += chunk.len() as u64;
        if skipped > offset {
            let from = offset.saturating_sub(start) as usize;
            tail_sha.update(&chunk[from..]);
        }
    }
    let (read, sha, _) = read_hashed(store, object, offset..size).await;
    assert_eq!(read, size - offset);
    assert_eq!(sha, tail_sha.finish().as_ref().to_vec());
    // Resumed at the very end: nothing to send, no error.
    assert_eq!(read_hashed(store, object, size..size).await.0, 0);

    let missing = store
        .size("raqqa/items/none/files/none/v1")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, markaz_kit::Error::NotFound { .. }),
        "{missing}"
    );

    store.delete(object).await.unwrap();
    assert!(store.size(object).await.is_err());
    store.delete(object).await.unwrap();
}

/// An aborted upload leaves nothing under its key, and Arabic file content
/// survives byte for byte.
async fn abort_and_small_files(store: &FileStore) {
    let object = "raqqa/items/i-2/files/f-2/v1";
    let mut writer = store.writer(object).await.unwrap();
    writer
        .write(bytes::Bytes::from(vec![1u8; 3 * MIB as usize]))
        .await
        .unwrap();
    writer.abort().await.unwrap();
    assert!(store.size(object).await.is_err(), "nothing was kept");

    let text = "دليل المناصرة — الطبعة الثانية\n".repeat(3);
    let mut writer = store.writer(object).await.unwrap();
    writer
        .write(bytes::Bytes::from(text.clone()))
        .await
        .unwrap();
    assert_eq!(writer.finish().await.unwrap(), text.len() as u64);
    let mut stream = store.read(object, 0..text.len() as u64).await.unwrap();
    let mut back = Vec::new();
    while let Some(piece) = futures::StreamExt::next(&mut stream).await {
        back.extend_from_slice(&piece.unwrap());
    }
    assert_eq!(back, text.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_filesystem() {
    let dir = std::env::temp_dir().join(format!("markaz-files-{}", uuid::Uuid::now_v7().simple()));
    let store = FileStore::local(&dir).unwrap();
    assert_eq!(store.kind(), "local");
    round_trip(&store).await;
    abort_and_small_files(&store).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_compatible_server() {
    let moto = Moto::start();
    let store = moto.bucket("markaz-library").await;
    assert_eq!(store.kind(), "s3");
    round_trip(&store).await;
    abort_and_small_files(&store).await;
}
