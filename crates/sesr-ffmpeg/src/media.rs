//! The input as the steps after the probe see it: the file, what ffprobe found in it, the
//! tools that read it and how its subtitles are to be written.

use crate::probe::MediaInfo;
use crate::tools::Tools;
use std::path::Path;

pub(crate) struct Media<'a> {
    pub tools: &'a Tools,
    pub input: &'a Path,
    pub info: &'a MediaInfo,
    /// `-c:s` for the output (None: copied).
    pub subtitle_codec: Option<&'a str>,
}
