//! NUT, ffmpeg's native container, as far as raw video through pipes needs it.
//!
//! NUT carries any codec with exact per-frame timestamps in any time base, which YUV4MPEG2
//! cannot (it has none) and Matroska cannot (milliseconds). [`NutReader`] reads what ffmpeg's
//! muxer writes (libavformat/nutenc.c, format version 3: frame-code table, elision headers,
//! syncpoints, repeated headers, info and index packets); [`NutWriter`] writes one raw video
//! stream that ffmpeg's demuxer (nutdec.c) reads: a syncpoint before every frame, every frame
//! a keyframe with its full timestamp and a header checksum. The layout follows
//! `doc/nut.texi` of FFmpeg: variable-length integers of 7 bits per byte, packets of a 64-bit
//! startcode, a forward pointer and a CRC-32 (polynomial 0x04C11DB7, MSB first, initial 0,
//! stored big-endian; the header has its own checksum when the forward pointer exceeds 4096).

use crate::{FfmpegError, Result};
use std::io::{self, BufRead, Write};

pub const ID_STRING: &[u8] = b"nut/multimedia container\0";

const fn startcode(letter: u8, low: u64) -> u64 {
    ((((b'N' as u64) << 8) | letter as u64) << 48) | low
}
const MAIN_STARTCODE: u64 = startcode(b'M', 0x7A56_1F5F_04AD);
const STREAM_STARTCODE: u64 = startcode(b'S', 0x1140_5BF2_F9DB);
const SYNCPOINT_STARTCODE: u64 = startcode(b'K', 0xE4AD_EECA_4569);
const INDEX_STARTCODE: u64 = startcode(b'X', 0xDD67_2F23_E64E);
const INFO_STARTCODE: u64 = startcode(b'I', 0xAB68_B596_BA78);

const FLAG_KEY: u64 = 1;
const FLAG_CODED_PTS: u64 = 8;
const FLAG_STREAM_ID: u64 = 16;
const FLAG_SIZE_MSB: u64 = 32;
const FLAG_CHECKSUM: u64 = 64;
const FLAG_RESERVED: u64 = 128;
const FLAG_SM_DATA: u64 = 256;
const FLAG_HEADER_IDX: u64 = 1024;
const FLAG_MATCH_TIME: u64 = 2048;
const FLAG_CODED: u64 = 4096;
const FLAG_INVALID: u64 = 8192;

/// The largest frame this reader accepts (a 16-bit 4:4:4 frame of 8K is 200 MB).
const MAX_FRAME_BYTES: u64 = 1 << 31;
/// Bytes between syncpoints that the writer announces (ffmpeg's own value).
const MAX_DISTANCE: u64 = 32767;

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04C1_1DB7
            } else {
                c << 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}
static CRC_TABLE: [u32; 256] = crc_table();

/// NUT's CRC-32 of `bytes`, continuing from `crc` (0 to start).
pub fn crc32(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        crc = (crc << 8) ^ CRC_TABLE[((crc >> 24) as u8 ^ b) as usize];
    }
    crc
}

/// A rational number, as NUT stores time bases and aspect ratios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rational {
    pub num: u64,
    pub den: u64,
}

impl Rational {
    pub fn new(num: u64, den: u64) -> Rational {
        Rational { num, den }
    }

    pub fn as_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

/// One stream of a NUT file, as its stream header describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NutStream {
    /// 0 video, 1 audio, 2 subtitle, 3 data.
    pub class: u64,
    /// The codec tag: for raw video, ffmpeg's pixel-format tag (`I420`, `Y3\x0b\x0a`, ...).
    pub fourcc: Vec<u8>,
    pub time_base: Rational,
    pub width: u64,
    pub height: u64,
    /// Sample (pixel) aspect ratio; 0:0 when unknown.
    pub sample_aspect: Rational,
    /// Codec-specific data (empty for raw video).
    pub extradata: Vec<u8>,
}

/// One frame: its stream, presentation timestamp (in the stream's time base) and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NutFrame {
    pub stream: usize,
    pub pts: i64,
    pub key: bool,
    pub data: Vec<u8>,
}

fn corrupt(what: impl Into<String>) -> FfmpegError {
    FfmpegError::Nut(what.into())
}

/// Reads bytes while keeping a running CRC and the position.
struct Bytes<R> {
    inner: R,
    pos: u64,
    crc: u32,
}

impl<R: BufRead> Bytes<R> {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => corrupt("the stream ends inside a packet"),
            _ => FfmpegError::NutIo(e),
        })?;
        self.crc = crc32(self.crc, buf);
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn u8(&mut self) -> Result<u8> {
        let mut b = [0u8];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    /// The next byte, or `None` at a clean end of the stream.
    fn u8_or_end(&mut self) -> Result<Option<u8>> {
        let available = self.inner.fill_buf().map_err(FfmpegError::NutIo)?;
        if available.is_empty() {
            return Ok(None);
        }
        self.u8().map(Some)
    }

    fn u32_be(&mut self) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    fn u64_be(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(u64::from_be_bytes(b))
    }

    /// `v`: 7 bits a byte, most significant first, the high bit set on all but the last.
    fn v(&mut self) -> Result<u64> {
        let mut value: u64 = 0;
        for _ in 0..10 {
            let b = self.u8()?;
            value = (value << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("a variable-length integer runs past 64 bits"))
    }

    /// `s`: a signed `v` (1, -1, 2, -2, ... from 1, 2, 3, 4, ...).
    fn s(&mut self) -> Result<i64> {
        let v = self.v()?;
        let half = (v / 2) as i64;
        Ok(if v & 1 == 1 { half + 1 } else { -half })
    }

    fn bytes(&mut self, len: u64) -> Result<Vec<u8>> {
        if len > MAX_FRAME_BYTES {
            return Err(corrupt(format!("a field of {len} bytes is implausible")));
        }
        let mut buf = vec![0u8; len as usize];
        self.read_exact(&mut buf)?;
        Ok(buf)
    }

    fn skip(&mut self, mut len: u64) -> Result<()> {
        let mut buf = [0u8; 4096];
        while len > 0 {
            let n = len.min(buf.len() as u64) as usize;
            self.read_exact(&mut buf[..n])?;
            len -= n as u64;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct FrameCode {
    flags: u64,
    stream: u64,
    size_mul: u64,
    size_lsb: u64,
    pts_delta: i64,
    reserved: u64,
    header_idx: u64,
}

#[derive(Clone, Copy, Debug)]
struct StreamState {
    msb_pts_shift: u32,
    last_pts: i64,
}

/// A NUT stream, read frame by frame.
pub struct NutReader<R> {
    bytes: Bytes<R>,
    time_bases: Vec<Rational>,
    codes: [FrameCode; 256],
    elision: Vec<Vec<u8>>,
    streams: Vec<NutStream>,
    states: Vec<StreamState>,
}

/// A packet's header (after its startcode): its end and whether its checksum starts now.
fn packet_header<R: BufRead>(bytes: &mut Bytes<R>, startcode: u64) -> Result<u64> {
    // The header checksum covers the startcode too.
    bytes.crc = crc32(0, &startcode.to_be_bytes());
    let forward = bytes.v()?;
    if forward > 4096 {
        let expected = bytes.crc;
        if bytes.u32_be()? != expected {
            return Err(corrupt("a packet header's checksum does not match"));
        }
    }
    bytes.crc = 0;
    Ok(bytes.pos + forward)
}

/// Checks a packet's closing checksum after its fields were read (reserved bytes skipped).
fn packet_footer<R: BufRead>(bytes: &mut Bytes<R>, end: u64, what: &str) -> Result<()> {
    if bytes.pos + 4 > end {
        return Err(corrupt(format!("the {what} packet is longer than it says")));
    }
    bytes.skip(end - 4 - bytes.pos)?;
    bytes.u32_be()?;
    if bytes.crc != 0 {
        return Err(corrupt(format!(
            "the {what} packet's checksum does not match"
        )));
    }
    Ok(())
}

impl<R: BufRead> NutReader<R> {
    /// Reads the file identifier, the main header and every stream header.
    pub fn open(inner: R) -> Result<NutReader<R>> {
        let mut bytes = Bytes {
            inner,
            pos: 0,
            crc: 0,
        };
        let mut id = vec![0u8; ID_STRING.len()];
        match bytes.inner.read_exact(&mut id) {
            Ok(()) if id == ID_STRING => bytes.pos = id.len() as u64,
            Ok(()) => return Err(corrupt("not a NUT stream (no `nut/multimedia container`)")),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(corrupt("the stream ends before its NUT header"))
            }
            Err(e) => return Err(FfmpegError::NutIo(e)),
        }
        let mut reader = NutReader {
            bytes,
            time_bases: vec![],
            codes: [FrameCode::default(); 256],
            elision: vec![vec![]],
            streams: vec![],
            states: vec![],
        };
        let mut stream_count = None;
        while stream_count.is_none_or(|n| reader.streams.len() < n) {
            let code = reader.bytes.u64_be()?;
            match code {
                MAIN_STARTCODE => stream_count = Some(reader.main_header()?),
                STREAM_STARTCODE if stream_count.is_some() => reader.stream_header()?,
                INFO_STARTCODE | INDEX_STARTCODE if stream_count.is_some() => {
                    reader.skip_packet(code)?
                }
                _ => {
                    return Err(corrupt(format!(
                        "unexpected startcode {code:#018x} in the headers"
                    )))
                }
            }
        }
        Ok(reader)
    }

    pub fn streams(&self) -> &[NutStream] {
        &self.streams
    }

    fn skip_packet(&mut self, code: u64) -> Result<()> {
        let end = packet_header(&mut self.bytes, code)?;
        packet_footer(&mut self.bytes, end, "info or index")
    }

    fn main_header(&mut self) -> Result<usize> {
        let b = &mut self.bytes;
        let end = packet_header(b, MAIN_STARTCODE)?;
        let version = b.v()?;
        if !(2..=4).contains(&version) {
            return Err(corrupt(format!(
                "NUT version {version} is not supported (2 to 4)"
            )));
        }
        if version > 3 {
            b.v()?; // minor version
        }
        let stream_count = b.v()?;
        if stream_count == 0 || stream_count > 256 {
            return Err(corrupt(format!("{stream_count} streams")));
        }
        b.v()?; // max_distance
        let count = b.v()?;
        if count == 0 || count > 256 {
            return Err(corrupt(format!("{count} time bases")));
        }
        let mut time_bases = vec![];
        for _ in 0..count {
            let (num, den) = (b.v()?, b.v()?);
            if num == 0 || den == 0 || num >= 1 << 31 || den >= 1 << 31 {
                return Err(corrupt(format!("time base {num}/{den}")));
            }
            time_bases.push(Rational::new(num, den));
        }
        let mut codes = [FrameCode::default(); 256];
        let (mut pts, mut mul, mut stream, mut header_idx) = (0i64, 1u64, 0u64, 0u64);
        let mut i = 0usize;
        while i < 256 {
            let flags = b.v()?;
            let fields = b.v()?;
            if fields > 0 {
                pts = b.s()?;
            }
            if fields > 1 {
                mul = b.v()?;
            }
            if fields > 2 {
                stream = b.v()?;
            }
            let size = if fields > 3 { b.v()? } else { 0 };
            let reserved = if fields > 4 { b.v()? } else { 0 };
            let count = if fields > 5 {
                b.v()?
            } else {
                mul.checked_sub(size)
                    .ok_or_else(|| corrupt("frame code size"))?
            };
            if fields > 6 {
                b.s()?; // match_time_delta
            }
            if fields > 7 {
                header_idx = b.v()?;
            }
            for _ in 8..fields {
                b.v()?;
            }
            let left = 256 - i - usize::from(i <= usize::from(b'N'));
            if count == 0 || count > left as u64 {
                return Err(corrupt(format!("frame code group of {count} at {i}")));
            }
            let mut j = 0;
            while j < count {
                if i == usize::from(b'N') {
                    codes[i].flags = FLAG_INVALID;
                    i += 1;
                    continue;
                }
                codes[i] = FrameCode {
                    flags,
                    stream,
                    size_mul: mul,
                    size_lsb: size + j,
                    pts_delta: pts,
                    reserved,
                    header_idx,
                };
                i += 1;
                j += 1;
            }
        }
        codes[usize::from(b'N')].flags = FLAG_INVALID;
        let mut elision = vec![vec![]];
        if b.pos + 4 < end {
            let headers = b.v()?;
            if headers >= 128 {
                return Err(corrupt(format!("{headers} elision headers")));
            }
            for _ in 0..headers {
                let len = b.v()?;
                if len == 0 || len >= 256 {
                    return Err(corrupt(format!("an elision header of {len} bytes")));
                }
                elision.push(b.bytes(len)?);
            }
        }
        packet_footer(b, end, "main header")?;
        if self.time_bases.is_empty() {
            self.time_bases = time_bases;
            self.codes = codes;
            self.elision = elision;
        }
        Ok(stream_count as usize)
    }

    fn stream_header(&mut self) -> Result<()> {
        let b = &mut self.bytes;
        let end = packet_header(b, STREAM_STARTCODE)?;
        let id = b.v()?;
        let class = b.v()?;
        let fourcc_len = b.v()?;
        let fourcc = b.bytes(fourcc_len.min(64))?;
        let time_base_id = b.v()? as usize;
        let time_base = *self
            .time_bases
            .get(time_base_id)
            .ok_or_else(|| corrupt(format!("stream {id} uses time base {time_base_id}")))?;
        let msb_pts_shift = b.v()?;
        if msb_pts_shift >= 16 {
            return Err(corrupt(format!("msb_pts_shift {msb_pts_shift}")));
        }
        b.v()?; // max_pts_distance
        b.v()?; // decode_delay
        b.v()?; // stream flags
        let extradata_len = b.v()?;
        let extradata = b.bytes(extradata_len)?;
        let (mut width, mut height, mut sample_aspect) = (0, 0, Rational::new(0, 0));
        if class == 0 {
            width = b.v()?;
            height = b.v()?;
            sample_aspect = Rational::new(b.v()?, b.v()?);
            b.v()?; // colourspace type
        }
        packet_footer(b, end, "stream header")?;
        // Headers repeat in long files: only the first copy defines the stream.
        if id as usize == self.streams.len() {
            self.streams.push(NutStream {
                class,
                fourcc,
                time_base,
                width,
                height,
                sample_aspect,
                extradata,
            });
            self.states.push(StreamState {
                msb_pts_shift: msb_pts_shift as u32,
                last_pts: 0,
            });
        } else if id as usize > self.streams.len() {
            return Err(corrupt(format!("stream header {id} out of order")));
        }
        Ok(())
    }

    fn syncpoint(&mut self) -> Result<()> {
        let b = &mut self.bytes;
        let end = packet_header(b, SYNCPOINT_STARTCODE)?;
        let coded = b.v()?;
        b.v()?; // back_ptr_div16
        packet_footer(b, end, "syncpoint")?;
        let count = self.time_bases.len() as u64;
        let (ts, base) = (coded / count, self.time_bases[(coded % count) as usize]);
        for (stream, state) in self.streams.iter().zip(&mut self.states) {
            // ff_nut_reset_ts: the key timestamp in every stream's time base, rounded down.
            let tb = stream.time_base;
            let num = i128::from(ts) * i128::from(base.num) * i128::from(tb.den);
            let den = i128::from(base.den) * i128::from(tb.num);
            state.last_pts = num.div_euclid(den) as i64;
        }
        Ok(())
    }

    /// The next frame, `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<NutFrame>> {
        loop {
            self.bytes.crc = 0;
            let Some(first) = self.bytes.u8_or_end()? else {
                return Ok(None);
            };
            if first != b'N' {
                return self.frame(first).map(Some);
            }
            let mut rest = [0u8; 7];
            self.bytes.read_exact(&mut rest)?;
            let mut code = [b'N'; 8];
            code[1..].copy_from_slice(&rest);
            match u64::from_be_bytes(code) {
                SYNCPOINT_STARTCODE => self.syncpoint()?,
                MAIN_STARTCODE => {
                    self.main_header()?;
                }
                STREAM_STARTCODE => self.stream_header()?,
                c @ (INFO_STARTCODE | INDEX_STARTCODE) => self.skip_packet(c)?,
                c => return Err(corrupt(format!("unknown startcode {c:#018x}"))),
            }
        }
    }

    fn frame(&mut self, frame_code: u8) -> Result<NutFrame> {
        let code = self.codes[usize::from(frame_code)];
        let b = &mut self.bytes;
        let mut flags = code.flags;
        if flags & FLAG_INVALID != 0 {
            return Err(corrupt(format!("invalid frame code {frame_code}")));
        }
        if flags & FLAG_CODED != 0 {
            flags ^= b.v()?;
        }
        let stream = if flags & FLAG_STREAM_ID != 0 {
            b.v()?
        } else {
            code.stream
        } as usize;
        let state = self
            .states
            .get_mut(stream)
            .ok_or_else(|| corrupt(format!("a frame of stream {stream}")))?;
        let pts = if flags & FLAG_CODED_PTS != 0 {
            let coded = b.v()?;
            let shift = state.msb_pts_shift;
            if coded < 1 << shift {
                // ff_lsb2full
                let mask = (1i64 << shift) - 1;
                let delta = state.last_pts - mask / 2;
                ((coded as i64 - delta) & mask) + delta
            } else {
                (coded - (1 << shift)) as i64
            }
        } else {
            state.last_pts + code.pts_delta
        };
        let mut size = code.size_lsb;
        if flags & FLAG_SIZE_MSB != 0 {
            size = size
                .checked_add(code.size_mul.saturating_mul(b.v()?))
                .ok_or_else(|| corrupt("frame size overflows"))?;
        }
        if flags & FLAG_MATCH_TIME != 0 {
            b.s()?;
        }
        let mut header_idx = code.header_idx;
        if flags & FLAG_HEADER_IDX != 0 {
            header_idx = b.v()?;
        }
        let reserved = if flags & FLAG_RESERVED != 0 {
            b.v()?
        } else {
            code.reserved
        };
        for _ in 0..reserved.min(1 << 16) {
            b.v()?;
        }
        if flags & FLAG_CHECKSUM != 0 {
            let expected = b.crc;
            if b.u32_be()? != expected {
                return Err(corrupt(format!(
                    "the header of the frame at byte {} has a bad checksum",
                    b.pos
                )));
            }
        }
        if flags & FLAG_SM_DATA != 0 {
            return Err(corrupt(
                "frames with side data (NUT version 4) are not supported",
            ));
        }
        if size > 4096 {
            header_idx = 0;
        }
        let elided = self
            .elision
            .get(header_idx as usize)
            .ok_or_else(|| corrupt(format!("elision header {header_idx}")))?;
        if size < elided.len() as u64 {
            return Err(corrupt("a frame shorter than its elided header"));
        }
        if size > MAX_FRAME_BYTES {
            return Err(corrupt(format!("a frame of {size} bytes")));
        }
        let mut data = Vec::with_capacity(size as usize);
        data.extend_from_slice(elided);
        data.resize(size as usize, 0);
        b.read_exact(&mut data[elided.len()..])?;
        state.last_pts = pts;
        Ok(NutFrame {
            stream,
            pts,
            key: flags & FLAG_KEY != 0,
            data,
        })
    }
}

/// Appends NUT's fields to a buffer.
#[derive(Default)]
struct Buf(Vec<u8>);

impl Buf {
    fn v(&mut self, value: u64) {
        let groups = (64 - value.leading_zeros()).div_ceil(7).max(1);
        for i in (1..groups).rev() {
            self.0.push(0x80 | ((value >> (7 * i)) & 0x7f) as u8);
        }
        self.0.push((value & 0x7f) as u8);
    }

    fn s(&mut self, value: i64) {
        let v = if value > 0 {
            2 * value as u64 - 1
        } else {
            2 * value.unsigned_abs()
        };
        self.v(v);
    }
}

/// Writes one raw video stream as NUT: headers first, then [`NutWriter::write_frame`] for
/// each frame (its own syncpoint, key, full timestamp, checksummed header).
pub struct NutWriter<W: Write> {
    inner: W,
    pos: u64,
    last_syncpoint: Option<u64>,
    msb_pts_shift: u32,
}

fn packet(startcode: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Buf::default();
    out.0.extend_from_slice(&startcode.to_be_bytes());
    let forward = body.len() as u64 + 4;
    out.v(forward);
    if forward > 4096 {
        let crc = crc32(0, &out.0);
        out.0.extend_from_slice(&crc.to_be_bytes());
    }
    out.0.extend_from_slice(body);
    out.0.extend_from_slice(&crc32(0, body).to_be_bytes());
    out.0
}

impl<W: Write> NutWriter<W> {
    /// Writes the headers of `stream` (a video stream; its extradata and class are used as
    /// given).
    pub fn new(mut inner: W, stream: &NutStream) -> io::Result<NutWriter<W>> {
        let tb = stream.time_base;
        if tb.num == 0 || tb.den == 0 || tb.num >= 1 << 31 || tb.den >= 1 << 31 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("time base {}/{} cannot be stored in NUT", tb.num, tb.den),
            ));
        }
        let msb_pts_shift = if tb.num * 1000 >= tb.den { 7 } else { 14 };
        let mut main = Buf::default();
        main.v(3); // version
        main.v(1); // streams
        main.v(MAX_DISTANCE);
        main.v(1);
        main.v(tb.num);
        main.v(tb.den);
        // Frame codes: 0 invalid; 1 a keyframe of stream 0 with coded pts, size and checksum;
        // 2..=255 invalid ('N' is always invalid and not counted).
        let frame = FLAG_KEY | FLAG_CODED_PTS | FLAG_SIZE_MSB | FLAG_CHECKSUM;
        for (flags, count) in [(FLAG_INVALID, 1), (frame, 1), (FLAG_INVALID, 253)] {
            main.v(flags);
            main.v(6); // fields: pts_delta, size_mul, stream, size_lsb, reserved, count
            main.s(0);
            main.v(1);
            main.v(0);
            main.v(0);
            main.v(0);
            main.v(count);
        }
        main.v(0); // elision headers beyond the empty one
        let mut header = Buf::default();
        header.v(0); // stream id
        header.v(stream.class);
        header.v(stream.fourcc.len() as u64);
        header.0.extend_from_slice(&stream.fourcc);
        header.v(0); // time base id
        header.v(u64::from(msb_pts_shift));
        header.v((tb.den / tb.num).max(1)); // max_pts_distance
        header.v(0); // decode delay
        header.v(0); // flags
        header.v(stream.extradata.len() as u64);
        header.0.extend_from_slice(&stream.extradata);
        header.v(stream.width);
        header.v(stream.height);
        header.v(stream.sample_aspect.num);
        header.v(stream.sample_aspect.den);
        header.v(0); // colourspace type: unknown
        let mut out = ID_STRING.to_vec();
        out.extend(packet(MAIN_STARTCODE, &main.0));
        out.extend(packet(STREAM_STARTCODE, &header.0));
        inner.write_all(&out)?;
        Ok(NutWriter {
            inner,
            pos: out.len() as u64,
            last_syncpoint: None,
            msb_pts_shift,
        })
    }

    /// One frame at `pts` (in the stream's time base; NUT stores no negative timestamps).
    pub fn write_frame(&mut self, pts: i64, data: &[u8]) -> io::Result<()> {
        self.write_frame_parts(pts, &[data])
    }

    /// One frame whose bytes are `parts` one after another (e.g. its planes).
    pub fn write_frame_parts(&mut self, pts: i64, parts: &[&[u8]]) -> io::Result<()> {
        let pts = u64::try_from(pts).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("timestamp {pts} is negative; NUT stores none"),
            )
        })?;
        let size: usize = parts.iter().map(|p| p.len()).sum();
        let mut sync = Buf::default();
        sync.v(pts); // global_key_pts, time base 0
        sync.v(self.last_syncpoint.map_or(0, |last| (self.pos - last) >> 4));
        let mut out = packet(SYNCPOINT_STARTCODE, &sync.0);
        self.last_syncpoint = Some(self.pos);
        let mut header = Buf::default();
        header.0.push(1); // frame code 1
        header.v(pts + (1 << self.msb_pts_shift));
        header.v(size as u64);
        let crc = crc32(0, &header.0);
        header.0.extend_from_slice(&crc.to_be_bytes());
        out.extend(header.0);
        self.inner.write_all(&out)?;
        for part in parts {
            self.inner.write_all(part)?;
        }
        self.pos += (out.len() + size) as u64;
        Ok(())
    }

    /// Flushes and hands back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varlen_integers_round_trip() {
        for value in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            let mut buf = Buf::default();
            buf.v(value);
            let mut bytes = Bytes {
                inner: &buf.0[..],
                pos: 0,
                crc: 0,
            };
            assert_eq!(bytes.v().unwrap(), value);
        }
        for value in [0i64, 1, -1, 2, -2, 1000, -1000] {
            let mut buf = Buf::default();
            buf.s(value);
            let mut bytes = Bytes {
                inner: &buf.0[..],
                pos: 0,
                crc: 0,
            };
            assert_eq!(bytes.s().unwrap(), value);
        }
    }

    #[test]
    fn crc_matches_ffmpeg_and_closes_to_zero() {
        // The main header packet's body and checksum that ffmpeg 5.1 writes for
        // `ffmpeg -i vfr.mp4 -c:v rawvideo -pix_fmt yuv420p -f nut raw.nut` (read with xxd).
        let hex = "030181ff7f010183f400c00006000000000001a00002010128010029002101937f2002937f\
                   8179c00006000000000001060300000104000001b602fffa02fffb02fffc02fffd4927ae67";
        let hex: String = hex.split_whitespace().collect();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let (body, stored) = bytes.split_at(bytes.len() - 4);
        assert_eq!(crc32(0, body).to_be_bytes(), stored);
        assert_eq!(crc32(0, &bytes), 0);
    }

    #[test]
    fn written_frames_read_back() {
        let stream = NutStream {
            class: 0,
            fourcc: b"I420".to_vec(),
            time_base: Rational::new(1001, 30000),
            width: 4,
            height: 2,
            sample_aspect: Rational::new(1, 1),
            extradata: vec![],
        };
        let mut writer = NutWriter::new(vec![], &stream).unwrap();
        let frames = [
            (0i64, vec![1u8; 12]),
            (1, vec![2; 12]),
            (100_000, vec![3; 12]),
        ];
        for (pts, data) in &frames {
            writer.write_frame(*pts, data).unwrap();
        }
        let bytes = writer.finish().unwrap();
        let mut reader = NutReader::open(&bytes[..]).unwrap();
        assert_eq!(reader.streams(), &[stream]);
        for (pts, data) in &frames {
            let frame = reader.next_frame().unwrap().unwrap();
            assert_eq!((frame.pts, &frame.data, frame.key), (*pts, data, true));
        }
        assert!(reader.next_frame().unwrap().is_none());
        // A stream cut inside a frame is an error, not a short frame.
        let mut cut = NutReader::open(&bytes[..bytes.len() - 3]).unwrap();
        cut.next_frame().unwrap();
        cut.next_frame().unwrap();
        assert!(cut.next_frame().is_err());
    }
}
