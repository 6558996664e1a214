//! What a model argument names: a model the project ships, by name, or a file, with what it
//! holds. One parser for every program (`sesr-cli`'s `--checkpoint`, a library user's string),
//! so that names, file kinds and their messages are defined once.
//!
//! A shipped model is named `PRESET[-xSCALE][-qat|-int8]`: `m5` (SESR-M5 x2, float32),
//! `m11-x4`, `m5-x2-int8` (scale 2 when left out). Its files in `sesr-zoo` are named by
//! [`ShippedName::file_name`] (`m5_x2.safetensors`, `m5_x2_qat.safetensors`,
//! `m5_x2_int8.tflite`). Anything with a folder separator or an extension is a path.

use crate::checkpoint::{read_meta, sidecar_path, CheckpointMeta};
use crate::{ModelError, Preset, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Which of a shipped model's three files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShippedForm {
    /// The collapsed float32 checkpoint.
    Float32,
    /// The collapsed checkpoint after quantization-aware training (weights plus 8-bit ranges).
    Qat,
    /// The int8 `.tflite` exported from the QAT checkpoint.
    Int8,
}

impl ShippedForm {
    /// Every form, in the order the zoo lists them.
    pub const ALL: [ShippedForm; 3] = [ShippedForm::Float32, ShippedForm::Qat, ShippedForm::Int8];

    /// The suffix of names (`""`, `"-qat"`, `"-int8"`).
    fn name_suffix(self) -> &'static str {
        match self {
            ShippedForm::Float32 => "",
            ShippedForm::Qat => "-qat",
            ShippedForm::Int8 => "-int8",
        }
    }
}

/// The upscaling factors the zoo ships, smallest first.
pub const SHIPPED_SCALES: [usize; 2] = [2, 4];

/// A shipped model: preset, scale and form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShippedName {
    /// The paper's preset.
    pub preset: Preset,
    /// 2 or 4.
    pub scale: usize,
    /// Which file.
    pub form: ShippedForm,
}

impl ShippedName {
    /// Parses `PRESET[-xSCALE][-qat|-int8]`; `None` when `text` is not such a name (it has a
    /// folder separator or an extension, or does not start with a preset), an error when it
    /// starts like one but is misspelled.
    pub fn parse(text: &str) -> Option<Result<ShippedName>> {
        let parsed = Self::parse_quietly(text)?;
        Some(parsed.ok_or_else(|| ModelError::UnknownModel {
            text: text.to_string(),
            hint: naming_hint(None),
        }))
    }

    /// [`ShippedName::parse`] without the error: `Some(None)` for a misspelled name.
    fn parse_quietly(text: &str) -> Option<Option<ShippedName>> {
        if text.contains(['/', '\\', '.']) {
            return None;
        }
        let lower = text.to_ascii_lowercase();
        let mut parts = lower.split('-');
        let preset: Preset = parts.next()?.parse().ok()?;
        let (mut scale, mut form) = (2, ShippedForm::Float32);
        for (i, part) in parts.enumerate() {
            match part {
                "x2" | "x4" if i == 0 => scale = if part == "x2" { 2 } else { 4 },
                "qat" if form == ShippedForm::Float32 => form = ShippedForm::Qat,
                "int8" if form == ShippedForm::Float32 => form = ShippedForm::Int8,
                _ => return Some(None),
            }
        }
        Some(Some(ShippedName {
            preset,
            scale,
            form,
        }))
    }

    /// The name of `preset` at `scale` in `form`.
    pub fn new(preset: Preset, scale: usize, form: ShippedForm) -> Self {
        Self {
            preset,
            scale,
            form,
        }
    }

    /// The same model in another form.
    pub fn with_form(self, form: ShippedForm) -> Self {
        Self { form, ..self }
    }

    /// The file `sesr-zoo` keeps it in: `m5_x2.safetensors`, `m5_x2_qat.safetensors`,
    /// `m5_x2_int8.tflite` (a checkpoint's sidecar is the same stem with `.json`).
    pub fn file_name(&self) -> String {
        let stem = format!("{}_x{}", self.preset.name(), self.scale);
        match self.form {
            ShippedForm::Float32 => format!("{stem}.safetensors"),
            ShippedForm::Qat => format!("{stem}_qat.safetensors"),
            ShippedForm::Int8 => format!("{stem}_int8.tflite"),
        }
    }

    /// Every model the zoo can ship, presets smallest first, x2 before x4, in every form.
    pub fn all() -> Vec<ShippedName> {
        let mut names = vec![];
        for preset in Preset::ALL {
            for scale in SHIPPED_SCALES {
                for form in ShippedForm::ALL {
                    names.push(ShippedName::new(preset, scale, form));
                }
            }
        }
        names
    }
}

impl std::fmt::Display for ShippedName {
    /// `m5-x2`, `m5-x2-qat`, `m5-x2-int8`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-x{}{}",
            self.preset.name(),
            self.scale,
            self.form.name_suffix()
        )
    }
}

/// What a model argument names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelRef {
    /// A shipped model. `shadows` is a file of the same name in the working folder, which
    /// the shipped model wins over (a program should say so).
    Shipped {
        name: ShippedName,
        shadows: Option<PathBuf>,
    },
    /// A checkpoint (`.safetensors` with its `.json` sidecar), training or collapsed.
    Checkpoint { path: PathBuf, meta: CheckpointMeta },
    /// A TFLite model (by its file identifier `TFL3`).
    Tflite(PathBuf),
    /// An ONNX model (by its extension: protobuf has no identifier).
    Onnx(PathBuf),
}

/// The kinds of model a reference may name, for messages.
pub const ACCEPTED: &str = "a checkpoint (MODEL.safetensors with its MODEL.json sidecar), an \
                            int8 .tflite export, or a shipped model's name \
                            PRESET[-xSCALE][-qat|-int8] (m3, m5, m7, m11, xl; e.g. m5-x4-int8)";

impl ModelRef {
    /// Parses a model argument: a shipped model's name, or a path whose file is read just
    /// enough to say what it is (its first bytes, a checkpoint's sidecar).
    pub fn parse(text: &str) -> Result<ModelRef> {
        if let Some(name) = ShippedName::parse(text) {
            let local = Path::new(text);
            let shadows = local.exists().then(|| local.to_path_buf());
            return Ok(ModelRef::Shipped {
                name: name?,
                shadows,
            });
        }
        Self::file(Path::new(text))
    }

    /// A path's model, refusing what is not one with a message that says what it is.
    pub fn file(path: &Path) -> Result<ModelRef> {
        Self::file_accepting(path, ACCEPTED)
    }

    /// [`ModelRef::file`] for an argument that takes less than every model: `accepted` says
    /// what (`"a training checkpoint"`) in the messages.
    pub fn file_accepting(path: &Path, accepted: &str) -> Result<ModelRef> {
        let refuse = |what: String| {
            Err(ModelError::NotAModel {
                path: path.to_path_buf(),
                what,
            })
        };
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(source) if std::fs::symlink_metadata(path).is_ok() => {
                return refuse(broken_link(path, &source));
            }
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
                // A bare word may have meant a shipped model: `m99`, or `m5_x4` and
                // `m5_x4.safetensors`, the zoo's own file names.
                let text = path.to_string_lossy();
                let bare = !text.contains(['/', '\\']);
                return refuse(match suggestion(&text) {
                    Some(name) if bare => format!(
                        "no such file, and not a shipped model's name; {}",
                        naming_hint(Some(name))
                    ),
                    None if bare && !text.contains('.') => format!(
                        "no such file, and not a shipped model's name; {}",
                        naming_hint(None)
                    ),
                    _ => "no such file".into(),
                });
            }
            Err(source) => {
                return Err(ModelError::Io {
                    action: "open",
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        if metadata.is_dir() {
            return refuse(
                "is a folder; give a model file in it (a run folder holds best.safetensors and \
                 last.safetensors)"
                    .into(),
            );
        }
        let head = read_head(path)?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match sniff(&head) {
            Sniffed::Tflite => return Ok(ModelRef::Tflite(path.to_path_buf())),
            Sniffed::Other(what) => {
                return refuse(format!("is {what}, not a model; {accepted} is needed"))
            }
            Sniffed::Safetensors | Sniffed::Unknown => {}
        }
        match extension.as_deref() {
            Some("onnx") => return Ok(ModelRef::Onnx(path.to_path_buf())),
            Some("tflite") => {
                return refuse(
                    "has the .tflite extension but not TFLite's file identifier (TFL3): it is \
                     not a TFLite model, or it is cut short"
                        .into(),
                )
            }
            _ => {}
        }
        if !is_safetensors(&head) {
            return refuse(format!(
                "is not a model file this project reads; {accepted} is needed"
            ));
        }
        let sidecar = sidecar_path(path);
        if !sidecar.is_file() {
            let resume = path.file_name().is_some_and(|n| n == crate::run::RESUME);
            return refuse(match resume {
                true => "is a training run's resume state (weights, optimizer and counters), \
                         not a model; give best.safetensors or last.safetensors beside it"
                    .into(),
                false => format!(
                    "its JSON sidecar {} is missing; keep the .json written with the weights \
                     next to them",
                    sidecar.display()
                ),
            });
        }
        Ok(ModelRef::Checkpoint {
            path: path.to_path_buf(),
            meta: read_meta(path)?,
        })
    }

    /// A shipped model by name.
    pub fn shipped(name: ShippedName) -> ModelRef {
        ModelRef::Shipped {
            name,
            shadows: None,
        }
    }

    /// How the model is named in messages: the shipped name (`m5-x2-int8 (shipped)`) or the
    /// path.
    pub fn display_name(&self) -> PathBuf {
        match self {
            ModelRef::Shipped { name, .. } => PathBuf::from(format!("{name} (shipped)")),
            ModelRef::Checkpoint { path, .. } | ModelRef::Tflite(path) | ModelRef::Onnx(path) => {
                path.clone()
            }
        }
    }

    /// The quantization-aware training of a checkpoint (a shipped `-qat` model's included);
    /// `None` for other files.
    pub fn quant(&self) -> Option<crate::QuantConfig> {
        match self {
            ModelRef::Shipped { name, .. } => Some(crate::QuantConfig {
                weights: name.form != ShippedForm::Float32,
                activations: name.form != ShippedForm::Float32,
            }),
            ModelRef::Checkpoint { meta, .. } => Some(meta.kind.quant()),
            ModelRef::Tflite(_) | ModelRef::Onnx(_) => None,
        }
    }

    /// Whether it runs in int8 (a shipped `-int8` model or a `.tflite`, which the project
    /// writes in int8 to run).
    pub fn is_int8(&self) -> bool {
        match self {
            ModelRef::Shipped { name, .. } => name.form == ShippedForm::Int8,
            ModelRef::Tflite(_) => true,
            _ => false,
        }
    }
}

/// What a symbolic link that cannot be followed is, for messages: one to nothing, or one in
/// a loop of links.
pub fn broken_link(path: &Path, source: &std::io::Error) -> String {
    match source.kind() {
        std::io::ErrorKind::NotFound => match std::fs::read_link(path) {
            Ok(target) => format!(
                "is a symbolic link to {}, which does not exist",
                target.display()
            ),
            Err(_) => "is a symbolic link to nothing".into(),
        },
        _ => format!(
            "is a symbolic link that cannot be followed ({source}): a loop of links, or a chain \
             too long; fix the link, or give the real path"
        ),
    }
}

/// How many first bytes [`read_head`] reads: enough for [`sniff`].
pub const HEAD_LEN: u64 = 16;

/// The first [`HEAD_LEN`] bytes of a file (fewer if it is shorter), enough to recognise its
/// kind without reading the rest.
pub fn read_head(path: &Path) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD_LEN as usize);
    std::fs::File::open(path)
        .and_then(|file| file.take(HEAD_LEN).read_to_end(&mut head))
        .map_err(|source| ModelError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
    Ok(head)
}

/// safetensors: an 8-byte little-endian header length, then the JSON header.
fn is_safetensors(head: &[u8]) -> bool {
    head.len() >= 9 && head[8] == b'{'
}

/// What a file's first bytes say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// A TFLite model: the file identifier `TFL3` at bytes 4..8.
    Tflite,
    /// A safetensors file (a checkpoint, or a run's resume state): a little-endian header
    /// length, then the JSON header.
    Safetensors,
    /// A file people pass by mistake, described (`"a PNG image"`).
    Other(&'static str),
    /// Nothing recognisable (an ONNX model, whose protobuf has no signature, among others).
    Unknown,
}

/// What `head` (a file's first [`HEAD_LEN`] bytes) says the file is.
pub fn sniff(head: &[u8]) -> Sniffed {
    if head.len() >= 8 && &head[4..8] == b"TFL3" {
        Sniffed::Tflite
    } else if let Some(what) = known_non_model(head) {
        Sniffed::Other(what)
    } else if is_safetensors(head) {
        Sniffed::Safetensors
    } else {
        Sniffed::Unknown
    }
}

/// Files people pass by mistake, by their signatures.
fn known_non_model(head: &[u8]) -> Option<&'static str> {
    const SIGNATURES: [(&[u8], &str); 8] = [
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"BM", "a BMP image"),
        (b"RIFF", "a RIFF file (WebP image or WAV sound)"),
        (b"YUV4MPEG2", "a YUV4MPEG2 video"),
        (b"PK\x03\x04", "a ZIP archive (a PyTorch .pt/.pth file?)"),
        (b"\x1aE\xdf\xa3", "a Matroska/WebM video"),
    ];
    SIGNATURES
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, what)| *what)
}

/// The shipped name closest to a misspelling: `m5_x4` -> `m5-x4`, `M5-X4-INT8.tflite` ->
/// `m5-x4-int8`; `None` when no preset starts it.
fn suggestion(text: &str) -> Option<String> {
    let stem = text
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(text)
        .split('.')
        .next()
        .unwrap_or(text)
        .to_ascii_lowercase()
        .replace('_', "-");
    ShippedName::parse_quietly(&stem)
        .flatten()
        .map(|name| name.to_string())
}

/// What shipped models are called, with a suggestion when there is one.
fn naming_hint(suggestion: Option<String>) -> String {
    let mean = suggestion.map_or(String::new(), |s| format!("did you mean `{s}`? "));
    format!(
        "{mean}shipped models are named PRESET[-xSCALE][-qat|-int8] with PRESET one of m3, m5, \
         m7, m11, xl and SCALE 2 (the default) or 4: m5, m5-qat, m5-int8, m5-x4, ..., \
         xl-x4-int8 (docs/models.md lists them)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_with_defaults() {
        let name = |t: &str| ShippedName::parse(t).unwrap().unwrap();
        assert_eq!(
            name("m5"),
            ShippedName::new(Preset::M5, 2, ShippedForm::Float32)
        );
        assert_eq!(
            name("M11-x4-INT8"),
            ShippedName::new(Preset::M11, 4, ShippedForm::Int8)
        );
        assert_eq!(
            name("xl-qat"),
            ShippedName::new(Preset::Xl, 2, ShippedForm::Qat)
        );
        assert_eq!(name("m5-x4-int8").to_string(), "m5-x4-int8");
        assert!(ShippedName::parse("m5.safetensors").is_none());
        assert!(ShippedName::parse("runs/m5").is_none());
        assert!(ShippedName::parse("m99").is_none());
        for bad in ["m5-x3", "m5-int8-qat", "m5-qat-x2", "m5-"] {
            let err = ShippedName::parse(bad).unwrap().unwrap_err().to_string();
            assert!(err.contains("PRESET[-xSCALE][-qat|-int8]"), "{bad}: {err}");
        }
    }

    #[test]
    fn file_names_follow_the_zoo() {
        let name = ShippedName::new(Preset::M5, 4, ShippedForm::Qat);
        assert_eq!(name.file_name(), "m5_x4_qat.safetensors");
        assert_eq!(
            name.with_form(ShippedForm::Int8).file_name(),
            "m5_x4_int8.tflite"
        );
        assert_eq!(ShippedName::all().len(), 5 * 2 * 3);
    }

    #[test]
    fn misspellings_get_a_suggestion() {
        assert_eq!(suggestion("m5_x4"), Some("m5-x4".into()));
        assert_eq!(suggestion("M5_X4_INT8.tflite"), Some("m5-x4-int8".into()));
        assert_eq!(suggestion("m99"), None);
        let err = ModelRef::parse("m5_x4").unwrap_err().to_string();
        assert!(err.contains("did you mean `m5-x4`?"), "{err}");
        let err = ModelRef::parse("m99").unwrap_err().to_string();
        assert!(err.contains("no such file"), "{err}");
        assert!(err.contains("m3, m5, m7, m11, xl"), "{err}");
    }

    /// Issue #30: the zoo's file names get the shipped name; a path in a folder is a file.
    #[test]
    fn zoo_file_names_get_the_shipped_name() {
        let err = ModelRef::parse("m5_x4.safetensors")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not a shipped model's name; did you mean `m5-x4`?"),
            "{err}"
        );
        let err = ModelRef::parse("m5_x2_int8.tflite")
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `m5-x2-int8`?"), "{err}");
        let err = ModelRef::parse("m99").unwrap_err().to_string();
        assert!(err.contains("not a shipped model's name"), "{err}");
        let err = ModelRef::parse("runs/m5_x4.safetensors")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "runs/m5_x4.safetensors: no such file");
        let err = ModelRef::parse("notes.txt").unwrap_err().to_string();
        assert_eq!(err, "notes.txt: no such file");
    }

    #[cfg(unix)]
    #[test]
    fn broken_links_say_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let err = ModelRef::file(&a).unwrap_err().to_string();
        assert!(
            err.contains("is a symbolic link that cannot be followed") && err.contains("loop"),
            "{err}"
        );
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("gone.safetensors"), &dangling).unwrap();
        let err = ModelRef::file(&dangling).unwrap_err().to_string();
        assert!(
            err.contains("is a symbolic link to")
                && err.contains("gone.safetensors, which does not exist"),
            "{err}"
        );
    }

    #[test]
    fn sniffing_reads_the_signatures() {
        assert_eq!(sniff(b"\x1c\0\0\0TFL3\0\0\0\0"), Sniffed::Tflite);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), Sniffed::Other("a PNG image"));
        assert_eq!(sniff(b"\x10\0\0\0\0\0\0\0{\"a\""), Sniffed::Safetensors);
        assert_eq!(sniff(b"\x08\x07\x12\x04sesr"), Sniffed::Unknown);
        assert_eq!(sniff(b""), Sniffed::Unknown);
    }
}
