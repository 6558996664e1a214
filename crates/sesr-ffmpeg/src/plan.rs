//! The segment plan of a job and its work folder: where segments start (at the input's
//! keyframes), what each finished segment holds, and the settings a resumed run must share.
//!
//! The folder `<output>.sesr-work/` holds `plan.json`, then for each finished segment
//! `seg-NNNNNN.nut` (the encoded video, renamed into place once complete) and
//! `seg-NNNNNN.json` (its frame count and timestamps, written after it: a segment counts as
//! done only once its record exists).

use crate::time::Timestamp;
use crate::{FfmpegError, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Bumped when the folder's files change meaning.
pub const PLAN_VERSION: u32 = 1;

/// Everything that decides the frames of the output: a resumed run must match it exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub input: PathBuf,
    pub input_bytes: u64,
    /// Modification time of the input, in seconds since the epoch.
    pub input_modified: u64,
    pub video_stream: usize,
    pub decode_pix_fmt: String,
    /// The encoder's options, as passed to ffmpeg.
    pub encoder: Vec<String>,
    /// What transforms the frames (the model and its options), as the caller names it.
    pub transform: String,
    pub scale: usize,
    pub segment_seconds: f64,
}

impl Settings {
    /// Lines naming the fields where `self` (the earlier run) and `now` differ.
    pub fn differences(&self, now: &Settings) -> Vec<String> {
        let a = serde_json::to_value(self).unwrap_or_default();
        let b = serde_json::to_value(now).unwrap_or_default();
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            return vec![];
        };
        a.iter()
            .filter(|(key, value)| b.get(*key) != Some(value))
            .map(|(key, value)| {
                format!(
                    "{key}: {value} then, {} now",
                    b.get(key).cloned().unwrap_or_default()
                )
            })
            .collect()
    }
}

/// One segment: it holds the frames from `start` up to the next segment's start; the first
/// segment also holds any frame before its start.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentPlan {
    pub start: Timestamp,
    /// Where the decoder seeks to resume at this segment: the keyframe before its start,
    /// so that the start decodes exactly as in a run from the beginning.
    pub seek: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    pub settings: Settings,
    pub segments: Vec<SegmentPlan>,
}

/// What a finished segment holds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentRecord {
    pub frames: u64,
    /// Timestamps of its first and last frame (none for a segment without frames).
    pub first_pts: Option<Timestamp>,
    pub last_pts: Option<Timestamp>,
}

/// Segments cut at the keyframes `keys` (sorted), each at least `seconds` long.
pub fn segments(keys: &[Timestamp], seconds: f64) -> Vec<SegmentPlan> {
    let mut plan: Vec<SegmentPlan> = vec![];
    for (i, &key) in keys.iter().enumerate() {
        let due = match plan.last() {
            None => true,
            Some(last) => key.seconds() - last.start.seconds() >= seconds,
        };
        if due {
            plan.push(SegmentPlan {
                start: key,
                seek: i.checked_sub(1).map(|p| keys[p]),
            });
        }
    }
    plan
}

/// The work folder of an output.
#[derive(Clone, Debug)]
pub struct WorkFolder {
    pub dir: PathBuf,
}

impl WorkFolder {
    /// `<output>.sesr-work`, beside the output.
    pub fn of(output: &Path) -> WorkFolder {
        let mut name = output.file_name().unwrap_or_default().to_os_string();
        name.push(".sesr-work");
        WorkFolder {
            dir: output.with_file_name(name),
        }
    }

    pub fn plan(&self) -> PathBuf {
        self.dir.join("plan.json")
    }

    pub fn segment(&self, index: usize) -> PathBuf {
        self.dir.join(format!("seg-{index:06}.nut"))
    }

    pub fn record(&self, index: usize) -> PathBuf {
        self.dir.join(format!("seg-{index:06}.json"))
    }

    /// A file named `stem.<extension of output>`, for ffmpeg to pick the container.
    pub fn with_extension_of(&self, stem: &str, output: &Path) -> PathBuf {
        let ext = output.extension().unwrap_or_default().to_string_lossy();
        self.dir.join(format!("{stem}.{ext}"))
    }

    pub fn read_plan(&self) -> Result<Option<Plan>> {
        let path = self.plan();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(FfmpegError::Io {
                    action: "read",
                    path,
                    source,
                })
            }
        };
        let plan: Plan = serde_json::from_str(&text).map_err(|e| {
            FfmpegError::Resume(format!(
                "{} is not a plan this version reads ({e}); delete the folder {} to start \
                 afresh",
                path.display(),
                self.dir.display()
            ))
        })?;
        if plan.version != PLAN_VERSION {
            return Err(FfmpegError::Resume(format!(
                "{} is of version {} (this sesr-cli writes {PLAN_VERSION}); delete the folder \
                 {} to start afresh",
                path.display(),
                plan.version,
                self.dir.display()
            )));
        }
        Ok(Some(plan))
    }

    pub fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value).expect("plain data serializes");
        sesr_model::atomic::write_file_atomic(path, text.as_bytes())?;
        Ok(())
    }

    /// The record of segment `index`, if it is finished (its record and its file exist).
    pub fn finished(&self, index: usize) -> Option<SegmentRecord> {
        let text = std::fs::read_to_string(self.record(index)).ok()?;
        let record: SegmentRecord = serde_json::from_str(&text).ok()?;
        (record.frames == 0 || self.segment(index).is_file()).then_some(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nut::Rational;

    #[test]
    fn segments_start_at_keyframes_at_least_apart() {
        let ms = Rational::new(1, 1000);
        let keys: Vec<Timestamp> = [17, 800, 1600, 2837, 3000]
            .iter()
            .map(|&t| Timestamp::new(t, ms))
            .collect();
        let plan = segments(&keys, 1.0);
        let starts: Vec<i64> = plan.iter().map(|s| s.start.ticks).collect();
        assert_eq!(starts, [17, 1600, 2837]);
        assert_eq!(plan[1].seek.map(|t| t.ticks), Some(800));
        assert_eq!(plan[0].seek, None);
        assert_eq!(segments(&keys, 0.5).len(), 4);
        assert_eq!(segments(&keys, 0.1).len(), 5);
    }

    #[test]
    fn the_work_folder_sits_beside_the_output() {
        let work = WorkFolder::of(Path::new("/films/out.mp4"));
        assert_eq!(work.dir, Path::new("/films/out.mp4.sesr-work"));
        assert_eq!(
            work.with_extension_of("joined", Path::new("/films/out.mp4")),
            Path::new("/films/out.mp4.sesr-work/joined.mp4")
        );
    }
}
