//! The NUT reader and writer against real ffmpeg: we read what ffmpeg writes, ffmpeg reads
//! what we write, frame bytes and timestamps exact, in odd time bases and irregular timing.

mod common;

use anyhow::Result;
use common::{ffmpeg, ffprobe};
use sesr_ffmpeg::nut::{NutReader, NutStream, NutWriter, Rational};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Presentation timestamps of the frames ffprobe decodes from `path`, and its time base.
fn probe_pts(path: &Path) -> Result<(Vec<i64>, String)> {
    let text = ffprobe(
        &[
            "-show_entries",
            "frame=pts:stream=time_base",
            "-of",
            "csv=p=0",
        ],
        path,
    )?;
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches(',')).collect();
    let time_base = lines
        .iter()
        .find(|l| l.contains('/'))
        .unwrap_or(&"")
        .to_string();
    let pts = lines
        .iter()
        .filter(|l| !l.contains('/') && !l.is_empty())
        .map(|l| l.parse())
        .collect::<Result<_, _>>()?;
    Ok((pts, time_base))
}

/// Timestamps and bytes of each frame.
type Frames = Vec<(i64, Vec<u8>)>;

fn read_all(bytes: &[u8]) -> Result<(NutStream, Frames)> {
    let mut reader = NutReader::open(bytes)?;
    let stream = reader.streams()[0].clone();
    let mut frames = vec![];
    while let Some(frame) = reader.next_frame()? {
        frames.push((frame.pts, frame.data));
    }
    Ok((stream, frames))
}

#[test]
fn we_read_what_ffmpeg_writes() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // Irregular timestamps in a 1001/30000 time base, 10-bit frames larger than 4096 bytes.
    let filter = "settb=1001/30000,setpts='N*2+if(mod(N\\,3)\\,0\\,1)+if(gt(N\\,6)\\,40\\,0)'";
    for (pix_fmt, size) in [
        ("yuv420p10le", "64x48"),
        ("yuv420p", "64x48"),
        ("gray", "8x4"),
    ] {
        let nut = dir.path().join(format!("{pix_fmt}.nut"));
        let nut_name = nut.to_str().unwrap();
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=s={size}:r=25:d=0.48"),
            "-vf",
            filter,
            "-fps_mode",
            "passthrough",
            "-enc_time_base",
            "-1",
            "-pix_fmt",
            pix_fmt,
            "-c:v",
            "rawvideo",
            "-f",
            "nut",
            nut_name,
        ])?;
        let raw = ffmpeg(&[
            "-i",
            nut_name,
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-",
        ])?;
        let (pts, time_base) = probe_pts(&nut)?;
        let (stream, frames) = read_all(&std::fs::read(&nut)?)?;
        assert_eq!(frames.len(), 12, "{pix_fmt}");
        assert_eq!(
            frames.iter().map(|f| f.0).collect::<Vec<_>>(),
            pts,
            "{pix_fmt}"
        );
        assert_eq!(
            format!("{}/{}", stream.time_base.num, stream.time_base.den),
            time_base
        );
        let data = frames.concat_data();
        assert!(
            data == raw,
            "{pix_fmt}: {} bytes read, ffmpeg decodes {}",
            data.len(),
            raw.len()
        );
        assert!(pts.windows(2).any(|w| w[1] - w[0] != pts[1] - pts[0]));
    }
    Ok(())
}

trait ConcatData {
    fn concat_data(&self) -> Vec<u8>;
}

impl ConcatData for Frames {
    fn concat_data(&self) -> Vec<u8> {
        self.iter().flat_map(|f| f.1.iter().copied()).collect()
    }
}

#[test]
fn small_frames_with_elided_headers_read_back() -> Result<()> {
    // ffmpeg's muxer leaves out a frame's first bytes when they match one of its elision
    // headers (00 00 01, ...), for frames up to 4096 bytes: gray 8x4 frames starting so.
    let dir = tempfile::tempdir()?;
    let raw_in = dir.path().join("in.gray");
    let frames: Vec<Vec<u8>> = (0..4u8)
        .map(|i| {
            let mut f = vec![0, 0, 1, 0xB6];
            f.extend((0..28).map(|j| i.wrapping_mul(31).wrapping_add(j)));
            f
        })
        .collect();
    std::fs::write(&raw_in, frames.concat())?;
    let nut = dir.path().join("small.nut");
    ffmpeg(&[
        "-f",
        "rawvideo",
        "-pix_fmt",
        "gray",
        "-s",
        "8x4",
        "-r",
        "5",
        "-i",
        raw_in.to_str().unwrap(),
        "-c:v",
        "rawvideo",
        "-f",
        "nut",
        nut.to_str().unwrap(),
    ])?;
    let (_, read) = read_all(&std::fs::read(&nut)?)?;
    assert_eq!(read.into_iter().map(|f| f.1).collect::<Vec<_>>(), frames);
    Ok(())
}

#[test]
fn ffmpeg_reads_what_we_write_from_a_file_and_a_pipe() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cases = [
        (Rational::new(1001, 24000), vec![0i64, 1, 3, 7, 8, 100]),
        (
            Rational::new(1, 90000),
            vec![8_589_934_000, 8_589_937_003, 8_589_940_000],
        ),
        (Rational::new(1, 1000), vec![17, 40, 80, 137, 160]),
    ];
    for (time_base, pts) in cases {
        let stream = NutStream {
            class: 0,
            fourcc: vec![b'Y', b'3', 11, 10],
            time_base,
            width: 48,
            height: 32,
            sample_aspect: Rational::new(4, 3),
            extradata: vec![],
        };
        let frame_bytes = (48 * 32 + 2 * 24 * 16) * 2;
        let frames: Vec<Vec<u8>> = (0..pts.len())
            .map(|i| {
                (0..frame_bytes)
                    .map(|j| {
                        // 10-bit little-endian samples.
                        let sample = ((i * 131 + j / 2 * 7) % 1024) as u16;
                        sample.to_le_bytes()[j % 2]
                    })
                    .collect()
            })
            .collect();
        let mut writer = NutWriter::new(vec![], &stream)?;
        for (t, data) in pts.iter().zip(&frames) {
            writer.write_frame(*t, data)?;
        }
        let bytes = writer.finish()?;
        let path = dir.path().join("ours.nut");
        std::fs::write(&path, &bytes)?;
        let decoded = ffmpeg(&[
            "-i",
            path.to_str().unwrap(),
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-",
        ])?;
        assert!(
            decoded == frames.concat(),
            "{time_base:?}: ffmpeg decodes other bytes"
        );
        let (probed, tb) = probe_pts(&path)?;
        assert_eq!(probed, pts);
        assert_eq!(tb, format!("{}/{}", time_base.num, time_base.den));
        let sar = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=sample_aspect_ratio,pix_fmt",
            ])
            .args(["-of", "csv=p=0"])
            .arg(&path)
            .output()?;
        assert_eq!(String::from_utf8(sar.stdout)?.trim(), "4:3,yuv420p10le");
        // Through a pipe, as the encoding ffmpeg reads it.
        let mut child = Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-loglevel",
                "error",
                "-f",
                "nut",
                "-i",
                "pipe:0",
            ])
            .args(["-copyts", "-c", "copy", "-f", "framecrc", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        child.stdin.take().unwrap().write_all(&bytes)?;
        let out = child.wait_with_output()?;
        let crc = String::from_utf8(out.stdout)?;
        let piped: Vec<i64> = crc
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(',').nth(2).unwrap().trim().parse().unwrap())
            .collect();
        assert_eq!(piped, pts);
    }
    Ok(())
}
