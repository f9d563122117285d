//! Files of library items: the upload's header and chunk rules, size limits
//! per kind of content, the media type detected from the first bytes, the
//! SHA-256, versions, and the range a (resumed) download serves.
//!
//! An upload is checked while it streams: [`Upload::accept`] refuses a chunk
//! the moment a rule breaks (an empty or oversized chunk, more bytes than
//! declared or than the limit allows), so a bad upload is cut off, not
//! stored and then rejected. [`Upload::finish`] checks what can only be
//! known at the end: the declared size and checksum, and the media type.

use markaz_kit::error::{Error, FieldViolation, Result, Violations};
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::resources::v1 as api;
use ring::digest;

use super::items::parse_language;
use super::{NAME_MAX, finish, parse_id};

/// The largest chunk either way.
pub const MAX_CHUNK: usize = 1024 * 1024;
/// What the server sends per download message.
pub const DOWNLOAD_CHUNK: usize = 256 * 1024;
/// Bytes kept from the start of an upload to detect its media type.
pub const SNIFF_BYTES: usize = 512;
pub const FILE_NAME_MAX: usize = 255;
pub const MAX_FILES_PER_ITEM: usize = 20;
pub const MAX_VERSIONS_PER_FILE: usize = 50;

const MIB: u64 = 1024 * 1024;

/// The families of content, each with its own size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaClass {
    Document,
    Image,
    Audio,
    Video,
    Archive,
}

/// The size limit of each class; the defaults suit a center's library on a
/// slow connection (a two-hour workshop video fits, a disk image does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeLimits {
    pub document: u64,
    pub image: u64,
    pub audio: u64,
    pub video: u64,
    pub archive: u64,
}

impl Default for SizeLimits {
    fn default() -> Self {
        SizeLimits {
            document: 200 * MIB,
            image: 50 * MIB,
            audio: 500 * MIB,
            video: 2048 * MIB,
            archive: 500 * MIB,
        }
    }
}

impl SizeLimits {
    pub fn of(&self, class: MediaClass) -> u64 {
        match class {
            MediaClass::Document => self.document,
            MediaClass::Image => self.image,
            MediaClass::Audio => self.audio,
            MediaClass::Video => self.video,
            MediaClass::Archive => self.archive,
        }
    }

    /// The most any upload may be, before its type is known.
    pub fn largest(&self) -> u64 {
        [
            self.document,
            self.image,
            self.audio,
            self.video,
            self.archive,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }
}

/// The media types the library keeps, with their class and the container
/// their bytes start as (several types share one signature: a .docx is a
/// zip, an .xls an OLE2 file).
pub const MEDIA_TYPES: &[(&str, MediaClass, Container)] = {
    use Container as C;
    use MediaClass as M;
    &[
        ("application/pdf", M::Document, C::Pdf),
        // First of the zip family: a zip is a zip unless said otherwise.
        ("application/zip", M::Archive, C::Zip),
        ("application/msword", M::Document, C::Ole2),
        ("application/vnd.ms-excel", M::Document, C::Ole2),
        ("application/vnd.ms-powerpoint", M::Document, C::Ole2),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            M::Document,
            C::Zip,
        ),
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            M::Document,
            C::Zip,
        ),
        (
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            M::Document,
            C::Zip,
        ),
        (
            "application/vnd.oasis.opendocument.text",
            M::Document,
            C::Zip,
        ),
        (
            "application/vnd.oasis.opendocument.spreadsheet",
            M::Document,
            C::Zip,
        ),
        (
            "application/vnd.oasis.opendocument.presentation",
            M::Document,
            C::Zip,
        ),
        ("application/epub+zip", M::Document, C::Zip),
        ("text/plain", M::Document, C::Text),
        ("text/csv", M::Document, C::Text),
        ("text/markdown", M::Document, C::Text),
        ("image/png", M::Image, C::Png),
        ("image/jpeg", M::Image, C::Jpeg),
        ("image/gif", M::Image, C::Gif),
        ("image/webp", M::Image, C::RiffWebp),
        ("audio/mpeg", M::Audio, C::Mpeg),
        ("audio/mp4", M::Audio, C::IsoAudio),
        ("audio/ogg", M::Audio, C::Ogg),
        ("audio/wav", M::Audio, C::RiffWave),
        ("audio/flac", M::Audio, C::Flac),
        ("video/mp4", M::Video, C::IsoVideo),
        ("video/quicktime", M::Video, C::QuickTime),
        ("video/webm", M::Video, C::Matroska),
        ("video/ogg", M::Video, C::Ogg),
        ("video/x-msvideo", M::Video, C::RiffAvi),
    ]
};

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Pdf,
    Zip,
    Ole2,
    Text,
    Png,
    Jpeg,
    Gif,
    RiffWebp,
    RiffWave,
    RiffAvi,
    Mpeg,
    Ogg,
    Flac,
    IsoAudio,
    IsoVideo,
    QuickTime,
    Matroska,
    /// A program: never kept, whatever it is called.
    Executable,
}

/// The container of `head` (the first bytes of a file), if known.
pub fn sniff(head: &[u8]) -> Option<Container> {
    use Container as C;
    let at = |i: usize, sig: &[u8]| head.get(i..i + sig.len()) == Some(sig);
    if at(0, b"%PDF-") {
        Some(C::Pdf)
    } else if at(0, b"PK\x03\x04") || at(0, b"PK\x05\x06") {
        Some(C::Zip)
    } else if at(0, &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some(C::Ole2)
    } else if at(0, b"\x89PNG\r\n\x1a\n") {
        Some(C::Png)
    } else if at(0, &[0xFF, 0xD8, 0xFF]) {
        Some(C::Jpeg)
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        Some(C::Gif)
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some(C::RiffWebp)
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        Some(C::RiffWave)
    } else if at(0, b"RIFF") && at(8, b"AVI ") {
        Some(C::RiffAvi)
    } else if at(0, b"OggS") {
        Some(C::Ogg)
    } else if at(0, b"fLaC") {
        Some(C::Flac)
    } else if at(4, b"ftyp") {
        match head.get(8..12) {
            Some(b"M4A ") | Some(b"M4B ") => Some(C::IsoAudio),
            Some(b"qt  ") => Some(C::QuickTime),
            _ => Some(C::IsoVideo),
        }
    } else if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        Some(C::Matroska)
    } else if at(0, b"ID3") || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0) {
        Some(C::Mpeg)
    } else if at(0, b"MZ") || at(0, b"\x7FELF") || at(0, b"#!") || at(0, &[0xCF, 0xFA, 0xED, 0xFE])
    {
        Some(C::Executable)
    } else if is_text(head) {
        Some(C::Text)
    } else {
        None
    }
}

/// UTF-8 without NUL or other C0 controls but tab and line ends (the head
/// may end inside a character).
fn is_text(head: &[u8]) -> bool {
    if head.is_empty() {
        return false;
    }
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !valid.is_empty()
        && !valid
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{FEFF}'))
}

/// The media type of a file from its first bytes, its declared type and its
/// name: the content decides; a declared type (or, failing that, the
/// extension) only chooses among the types sharing the content's signature.
pub fn media_type(head: &[u8], declared: &str, file_name: &str) -> Result<&'static str> {
    let container = sniff(head);
    if container == Some(Container::Executable) {
        return Err(Error::invalid(
            "header.media_type",
            "programs are not kept in the library",
        ));
    }
    let Some(container) = container else {
        return Err(Error::invalid(
            "header.media_type",
            "the content is not a kind the library keeps (documents, images, audio, video, zip)",
        ));
    };
    let candidates: Vec<&'static str> = MEDIA_TYPES
        .iter()
        .filter(|(_, _, c)| *c == container)
        .map(|(t, _, _)| *t)
        .collect();
    let declared = declared.trim().to_ascii_lowercase();
    if !declared.is_empty() {
        return candidates
            .iter()
            .find(|t| **t == declared)
            .copied()
            .ok_or_else(|| {
                Error::invalid(
                    "header.media_type",
                    format!(
                        "declared {declared}, but the content is {}",
                        candidates.join(" or ")
                    ),
                )
            });
    }
    let by_extension = extension_type(file_name).filter(|t| candidates.contains(t));
    Ok(by_extension.unwrap_or(candidates[0]))
}

fn extension_type(file_name: &str) -> Option<&'static str> {
    let ext = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "doc" => "application/msword",
        "xls" => "application/vnd.ms-excel",
        "ppt" => "application/vnd.ms-powerpoint",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        "epub" => "application/epub+zip",
        "csv" => "text/csv",
        "md" => "text/markdown",
        "ogv" => "video/ogg",
        _ => return None,
    })
}

pub fn class_of(media_type: &str) -> Option<MediaClass> {
    MEDIA_TYPES
        .iter()
        .find(|(t, _, _)| *t == media_type)
        .map(|(_, c, _)| *c)
}

// ----------------------------------------------------------------- upload

/// The header of an upload, once valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadHeader {
    pub item_id: String,
    /// Empty for a new file.
    pub file_id: String,
    pub label: LocalizedText,
    pub language: String,
    pub file_name: String,
    pub declared_media_type: String,
    pub declared_size: Option<u64>,
    pub declared_sha256: Option<String>,
}

/// Parses the first message of an upload.
pub fn parse_header(h: &api::UploadFileHeader, limits: &SizeLimits) -> Result<UploadHeader> {
    let mut v = Violations::new();
    let item_id = v.take(parse_id("header.item_id", &h.item_id, true));
    let file_id = v.take(parse_id("header.file_id", &h.file_id, false));
    let label = v.take_many(validate::localized(
        "header.label",
        h.label.as_ref(),
        NAME_MAX,
        false,
    ));
    let language = if h.language.is_empty() {
        Some(String::new())
    } else {
        v.take(parse_language("header.language", &h.language))
    };
    let file_name = v.take(parse_file_name("header.file_name", &h.file_name));
    let declared_media_type = v.take(parse_media_type("header.media_type", &h.media_type));
    let declared_size = match h.size_bytes {
        0 => Some(None),
        n if n < 0 => {
            v.add("header.size_bytes", "not negative");
            None
        }
        n if n as u64 > limits.largest() => {
            v.add(
                "header.size_bytes",
                format!("at most {} MiB", limits.largest() / MIB),
            );
            None
        }
        n => Some(Some(n as u64)),
    };
    let declared_sha256 = match h.sha256.as_str() {
        "" => Some(None),
        s if s.len() == 64
            && s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) =>
        {
            Some(Some(s.to_string()))
        }
        _ => {
            v.add("header.sha256", "64 lowercase hexadecimal digits");
            None
        }
    };
    finish(v, || {
        Some(UploadHeader {
            item_id: item_id?,
            file_id: file_id?,
            label: label?,
            language: language?,
            file_name: file_name?,
            declared_media_type: declared_media_type?,
            declared_size: declared_size?,
            declared_sha256: declared_sha256?,
        })
    })
}

/// A file name as people gave it, kept for the download; never a path (the
/// object's key is made of ids, never of this name).
pub fn parse_file_name(field: &str, name: &str) -> Result<String, FieldViolation> {
    let name = validate::line(field, name, FILE_NAME_MAX, true)?;
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(FieldViolation::new(field, "a file name, not a path"));
    }
    Ok(name)
}

fn parse_media_type(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let ok = value.len() <= 127
        && value.split_once('/').is_some_and(|(t, s)| {
            !t.is_empty()
                && !s.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/+.-".contains(c))
        });
    if ok {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(FieldViolation::new(
            field,
            "a media type such as application/pdf",
        ))
    }
}

/// An upload in progress: what arrived so far, checked chunk by chunk.
pub struct Upload {
    header: UploadHeader,
    limits: SizeLimits,
    received: u64,
    head: Vec<u8>,
    sha: digest::Context,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("header", &self.header)
            .field("received", &self.received)
            .finish()
    }
}

/// A finished upload's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub size: u64,
    pub sha256: String,
    pub media_type: &'static str,
}

/// What a message of the stream turned out to be, for the chunk rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    Header,
    Chunk,
    Empty,
}

impl Upload {
    pub fn new(header: UploadHeader, limits: SizeLimits) -> Upload {
        Upload {
            header,
            limits,
            received: 0,
            head: Vec::with_capacity(SNIFF_BYTES),
            sha: digest::Context::new(&digest::SHA256),
        }
    }

    pub fn header(&self) -> &UploadHeader {
        &self.header
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    /// The rule for the `n`th message (0 = first): the header first and only
    /// first, then chunks.
    pub fn check_message(n: usize, message: Message) -> Result<()> {
        match (n, message) {
            (0, Message::Header) | (1.., Message::Chunk) => Ok(()),
            (0, _) => Err(Error::invalid("header", "the first message is the header")),
            (_, Message::Header) => Err(Error::invalid(
                "header",
                "only the first message is the header",
            )),
            (_, Message::Empty) => Err(Error::invalid("chunk", "a message without a chunk")),
        }
    }

    /// Takes the next chunk, or refuses it (and with it the upload).
    pub fn accept(&mut self, chunk: &[u8]) -> Result<()> {
        if chunk.is_empty() {
            return Err(Error::invalid("chunk", "an empty chunk"));
        }
        if chunk.len() > MAX_CHUNK {
            return Err(Error::invalid(
                "chunk",
                format!("a chunk is at most {MAX_CHUNK} bytes, got {}", chunk.len()),
            ));
        }
        let total = self.received + chunk.len() as u64;
        if let Some(declared) = self.header.declared_size
            && total > declared
        {
            return Err(Error::invalid(
                "header.size_bytes",
                format!("declared {declared} bytes, more arrived"),
            ));
        }
        let limit = self.limit_so_far();
        if total > limit {
            return Err(Error::invalid(
                "chunk",
                format!("the file is larger than the {} MiB allowed", limit / MIB),
            ));
        }
        if self.head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.sha.update(chunk);
        self.received = total;
        Ok(())
    }

    /// The limit known so far: the class's once the head shows the type.
    fn limit_so_far(&self) -> u64 {
        if self.head.len() >= SNIFF_BYTES.min(16)
            && let Ok(t) = media_type(
                &self.head,
                &self.header.declared_media_type,
                &self.header.file_name,
            )
            && let Some(class) = class_of(t)
        {
            return self.limits.of(class);
        }
        self.limits.largest()
    }

    /// Checks the whole: not empty, the declared size and checksum, the media
    /// type against the content and its class's limit.
    pub fn finish(self) -> Result<Uploaded> {
        if self.received == 0 {
            return Err(Error::invalid("chunk", "the file is empty"));
        }
        if let Some(declared) = self.header.declared_size
            && declared != self.received
        {
            return Err(Error::invalid(
                "header.size_bytes",
                format!("declared {declared} bytes, {} arrived", self.received),
            ));
        }
        let sha256: String = self
            .sha
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if let Some(declared) = &self.header.declared_sha256
            && *declared != sha256
        {
            return Err(Error::invalid(
                "header.sha256",
                "the content does not hash to the declared SHA-256",
            ));
        }
        let media_type = media_type(
            &self.head,
            &self.header.declared_media_type,
            &self.header.file_name,
        )?;
        let limit = class_of(media_type).map(|c| self.limits.of(c)).unwrap_or(0);
        if self.received > limit {
            return Err(Error::invalid(
                "chunk",
                format!("a {media_type} file is at most {} MiB", limit / MIB),
            ));
        }
        Ok(Uploaded {
            size: self.received,
            sha256,
            media_type,
        })
    }
}

// --------------------------------------------------------------- versions

/// A stored version, as far as the rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionState {
    pub version: i32,
    pub withdrawn: bool,
}

/// The number of the next upload of a file, or why there is none.
pub fn next_version(versions: &[VersionState]) -> Result<i32> {
    if versions.len() >= MAX_VERSIONS_PER_FILE {
        return Err(Error::precondition(
            "TOO_MANY_VERSIONS",
            "header.file_id",
            format!("a file keeps at most {MAX_VERSIONS_PER_FILE} versions; upload a new file"),
        ));
    }
    Ok(versions.iter().map(|v| v.version).max().unwrap_or(0) + 1)
}

/// The version served when none is asked for: the newest not withdrawn.
pub fn current_version(versions: &[VersionState]) -> Option<i32> {
    versions
        .iter()
        .filter(|v| !v.withdrawn)
        .map(|v| v.version)
        .max()
}

/// Whether an item may take one more file.
pub fn check_new_file(files: usize) -> Result<()> {
    if files >= MAX_FILES_PER_ITEM {
        return Err(Error::precondition(
            "TOO_MANY_FILES",
            "header.item_id",
            format!("an item has at most {MAX_FILES_PER_ITEM} files"),
        ));
    }
    Ok(())
}

/// The object's key in storage: ids only, so no name a person chose ever
/// becomes part of a path.
pub fn object_key(tenant: &str, item_id: &str, file_id: &str, version: i32) -> String {
    format!("{tenant}/items/{item_id}/files/{file_id}/v{version}")
}

/// A version to withdraw, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawVersion {
    pub item_id: String,
    pub file_id: String,
    pub version: i32,
    pub reason: String,
}

pub fn parse_withdraw_version(r: &api::WithdrawFileVersionRequest) -> Result<WithdrawVersion> {
    let mut v = Violations::new();
    let item_id = v.take(parse_id("item_id", &r.item_id, true));
    let file_id = v.take(parse_id("file_id", &r.file_id, true));
    if r.version < 1 {
        v.add("version", "a version number, from 1");
    }
    let reason = v.take(validate::prose("reason", &r.reason, super::NOTE_MAX, true));
    finish(v, || {
        Some(WithdrawVersion {
            item_id: item_id?,
            file_id: file_id?,
            version: r.version,
            reason: reason?,
        })
    })
}

// --------------------------------------------------------------- download

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRequest {
    pub item_id: String,
    pub file_id: String,
    /// `None`: the current version.
    pub version: Option<i32>,
    pub offset: u64,
}

pub fn parse_download(prefix: &str, r: &api::DownloadFileRequest) -> Result<DownloadRequest> {
    let f = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    };
    let mut v = Violations::new();
    let item_id = v.take(parse_id(&f("item_id"), &r.item_id, true));
    let file_id = v.take(parse_id(&f("file_id"), &r.file_id, true));
    let version = match r.version {
        0 => Some(None),
        n if n > 0 => Some(Some(n)),
        _ => {
            v.add(
                f("version"),
                "0 for the current version, or a version number",
            );
            None
        }
    };
    if r.offset < 0 {
        v.add(f("offset"), "not negative");
    }
    finish(v, || {
        Some(DownloadRequest {
            item_id: item_id?,
            file_id: file_id?,
            version: version?,
            offset: r.offset.max(0) as u64,
        })
    })
}

/// The bytes to send of a `size`-byte version from `offset`: nothing when
/// the client already has everything, refused past the end.
pub fn download_range(size: u64, offset: u64) -> Result<std::ops::Range<u64>> {
    if offset > size {
        return Err(Error::invalid(
            "offset",
            format!("the version has {size} bytes; the offset is past its end"),
        ));
    }
    Ok(offset..size)
}

/// A download counts in the item's usage when it starts at the beginning:
/// a resumed download is the same download.
pub fn counts_as_download(offset: u64) -> bool {
    offset == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(size: i64, sha: &str, media: &str) -> api::UploadFileHeader {
        api::UploadFileHeader {
            item_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            file_name: "تقرير-2019.pdf".into(),
            media_type: media.into(),
            size_bytes: size,
            sha256: sha.into(),
            ..Default::default()
        }
    }

    fn upload(size: i64, sha: &str, media: &str) -> Upload {
        let limits = SizeLimits::default();
        Upload::new(
            parse_header(&header(size, sha, media), &limits).unwrap(),
            limits,
        )
    }

    fn pdf(n: usize) -> Vec<u8> {
        let mut v = b"%PDF-1.7\n".to_vec();
        v.resize(n, b'x');
        v
    }

    fn sha_hex(bytes: &[u8]) -> String {
        digest::digest(&digest::SHA256, bytes)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn a_streamed_upload_is_hashed_sized_and_typed() {
        let body = pdf(3 * MAX_CHUNK + 17);
        let mut u = upload(body.len() as i64, &sha_hex(&body), "application/pdf");
        for chunk in body.chunks(MAX_CHUNK) {
            u.accept(chunk).unwrap();
        }
        let done = u.finish().unwrap();
        assert_eq!(done.size, body.len() as u64);
        assert_eq!(done.sha256, sha_hex(&body));
        assert_eq!(done.media_type, "application/pdf");
    }

    #[test]
    fn chunk_rules_cut_a_bad_upload_off() {
        assert!(Upload::check_message(0, Message::Header).is_ok());
        assert!(Upload::check_message(1, Message::Chunk).is_ok());
        assert!(Upload::check_message(0, Message::Chunk).is_err());
        assert!(Upload::check_message(3, Message::Header).is_err());
        assert!(Upload::check_message(2, Message::Empty).is_err());
        let mut u = upload(0, "", "");
        assert!(u.accept(&[]).is_err());
        assert!(u.accept(&vec![0u8; MAX_CHUNK + 1]).is_err());
        assert!(upload(0, "", "").finish().is_err(), "empty file");
    }

    #[test]
    fn declared_size_and_checksum_must_hold() {
        let body = pdf(1000);
        let mut longer = upload(999, "", "");
        assert!(longer.accept(&body).is_err(), "more than declared");
        let mut shorter = upload(1001, "", "");
        shorter.accept(&body).unwrap();
        assert!(shorter.finish().is_err(), "less than declared");
        let mut wrong = upload(0, &"0".repeat(64), "");
        wrong.accept(&body).unwrap();
        let err = wrong.finish().unwrap_err();
        assert!(err.to_string().contains("sha256"), "{err}");
    }

    #[test]
    fn the_size_limit_is_the_content_class_s() {
        let limits = SizeLimits {
            document: 2 * MIB,
            image: MIB,
            audio: 4 * MIB,
            video: 8 * MIB,
            archive: MIB,
        };
        let h = parse_header(&header(0, "", ""), &limits).unwrap();
        let mut u = Upload::new(h.clone(), limits);
        let body = pdf(MAX_CHUNK);
        u.accept(&body).unwrap();
        u.accept(&body).unwrap();
        let err = u.accept(b"x").unwrap_err();
        assert!(err.to_string().contains("2 MiB"), "{err}");
        // A declared size past every limit is refused in the header.
        assert!(parse_header(&header(9 * MIB as i64, "", ""), &limits).is_err());
    }

    #[test]
    fn every_bad_header_field_is_reported_at_once() {
        let bad = api::UploadFileHeader {
            item_id: String::new(),
            file_id: "../x".into(),
            language: "Arabic".into(),
            file_name: "../../etc/passwd".into(),
            media_type: "pdf".into(),
            size_bytes: -1,
            sha256: "XYZ".into(),
            ..Default::default()
        };
        let Err(Error::InvalidArgument(v)) = parse_header(&bad, &SizeLimits::default()) else {
            panic!("refused")
        };
        let fields: Vec<&str> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "header.item_id",
                "header.file_id",
                "header.language",
                "header.file_name",
                "header.media_type",
                "header.size_bytes",
                "header.sha256"
            ]
        );
    }

    #[test]
    fn the_content_decides_the_media_type() {
        let docx = b"PK\x03\x04rest-of-zip";
        assert_eq!(
            media_type(docx, "", "report.docx").unwrap(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert_eq!(
            media_type(docx, "", "bundle.zip").unwrap(),
            "application/zip"
        );
        assert_eq!(
            media_type(docx, "application/epub+zip", "x").unwrap(),
            "application/epub+zip"
        );
        let err = media_type(b"%PDF-1.4", "video/mp4", "a.mp4").unwrap_err();
        assert!(err.to_string().contains("application/pdf"), "{err}");
        assert!(media_type(b"MZ\x90\x00", "application/pdf", "a.pdf").is_err());
        assert!(media_type(b"\x7FELF\x02", "", "a").is_err());
        assert!(media_type(&[0u8, 1, 2, 3, 0, 0], "", "a.bin").is_err());
        assert_eq!(
            media_type("سطر,عمود\n".as_bytes(), "", "data.csv").unwrap(),
            "text/csv"
        );
        assert_eq!(
            media_type("مرحبا".as_bytes(), "", "x").unwrap(),
            "text/plain"
        );
        // A head cut inside a character is still text.
        let cut = &"مرحبا".as_bytes()[..3];
        assert_eq!(sniff(cut), Some(Container::Text));
        for (head, expected) in [
            (&b"\x89PNG\r\n\x1a\n...."[..], "image/png"),
            (&[0xFF, 0xD8, 0xFF, 0xE0][..], "image/jpeg"),
            (&b"GIF89a.."[..], "image/gif"),
            (&b"RIFF\0\0\0\0WEBPVP8 "[..], "image/webp"),
            (&b"RIFF\0\0\0\0WAVEfmt "[..], "audio/wav"),
            (&b"RIFF\0\0\0\0AVI LIST"[..], "video/x-msvideo"),
            (&b"ID3\x04\0"[..], "audio/mpeg"),
            (&b"OggS\0\x02"[..], "audio/ogg"),
            (&b"fLaC\0\0"[..], "audio/flac"),
            (&b"\0\0\0\x20ftypisom"[..], "video/mp4"),
            (&b"\0\0\0\x20ftypM4A "[..], "audio/mp4"),
            (&b"\0\0\0\x14ftypqt  "[..], "video/quicktime"),
            (&[0x1A, 0x45, 0xDF, 0xA3, 0x01][..], "video/webm"),
            (
                &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1][..],
                "application/msword",
            ),
        ] {
            assert_eq!(
                media_type(head, "", "file").unwrap(),
                expected,
                "{expected}"
            );
        }
        assert!(MEDIA_TYPES.iter().all(|(t, _, _)| class_of(t).is_some()));
    }

    #[test]
    fn versions_count_up_and_the_current_skips_withdrawn_ones() {
        let v = |version, withdrawn| VersionState { version, withdrawn };
        assert_eq!(next_version(&[]).unwrap(), 1);
        assert_eq!(next_version(&[v(1, false), v(2, true)]).unwrap(), 3);
        assert_eq!(current_version(&[v(1, false), v(2, true)]), Some(1));
        assert_eq!(current_version(&[v(1, true)]), None);
        let many: Vec<_> = (1..=MAX_VERSIONS_PER_FILE as i32)
            .map(|n| v(n, false))
            .collect();
        assert!(next_version(&many).is_err());
        assert!(check_new_file(MAX_FILES_PER_ITEM - 1).is_ok());
        assert!(check_new_file(MAX_FILES_PER_ITEM).is_err());
        assert_eq!(object_key("raqqa", "i", "f", 3), "raqqa/items/i/files/f/v3");
    }

    #[test]
    fn withdrawing_a_version_names_it_and_says_why() {
        let bad = api::WithdrawFileVersionRequest::default();
        let Err(Error::InvalidArgument(v)) = parse_withdraw_version(&bad) else {
            panic!()
        };
        assert_eq!(v.len(), 4, "{v:?}");
        let ok = api::WithdrawFileVersionRequest {
            item_id: "i".into(),
            file_id: "f".into(),
            version: 2,
            reason: "طبعة خاطئة".into(),
        };
        assert_eq!(parse_withdraw_version(&ok).unwrap().reason, "طبعة خاطئة");
    }

    #[test]
    fn downloads_resume_from_an_offset_and_count_once() {
        assert_eq!(download_range(100, 0).unwrap(), 0..100);
        assert_eq!(download_range(100, 60).unwrap(), 60..100);
        assert_eq!(download_range(100, 100).unwrap(), 100..100);
        assert!(download_range(100, 101).is_err());
        assert!(counts_as_download(0) && !counts_as_download(60));
        let ok = api::DownloadFileRequest {
            item_id: "a".into(),
            file_id: "b".into(),
            version: 0,
            offset: 5,
        };
        assert_eq!(parse_download("", &ok).unwrap().version, None);
        let bad = api::DownloadFileRequest {
            item_id: String::new(),
            file_id: String::new(),
            version: -1,
            offset: -1,
        };
        let Err(Error::InvalidArgument(v)) = parse_download("download", &bad) else {
            panic!()
        };
        assert_eq!(v.len(), 4, "{v:?}");
        assert!(v[0].field.starts_with("download."));
    }
}
