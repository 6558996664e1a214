//! Whole-network fusion: every layer of a tile is computed while its rows sit in cache.
//!
//! The image is cut into horizontal bands (one rayon task each, writing its own rows of the
//! output) and each band into column tiles. A tile streams its rows top to bottom: every
//! layer keeps a small ring of its latest rows, and a row is computed the moment the next
//! layer needs it, so a 16-channel feature map never exists beyond a few rows of a few hundred
//! pixels. Layer `l` of a tile covers the tile's columns and rows widened by its *lag*, the
//! number of pixels the layers after it read beyond their own output; outside the image, rows
//! and columns hold the tensor's zero point (TFLite's SAME padding). Rows store `q + 128` in
//! groups of four channels (see `scalar::offset`), the layout the SIMD kernels read as 16
//! pixels per register.

use std::ops::Range;

use rayon::prelude::*;

use super::kernels::Kernels;
use super::plan::{NetworkPlan, U8_OFFSET};

/// Low-resolution columns per tile: rings of a few rows of this width stay in L2.
const TILE_WIDTH: usize = 384;
/// Bytes after each ring row that SIMD kernels may read past a row's last pixel (up to four
/// blocks of 16 pixels and a kernel; the values read there are never used).
const ROW_SLACK: usize = 512;
/// The largest kernel a row call takes.
pub(crate) const MAX_KERNEL: usize = 9;

/// Which layers the rings hold: `0` the shifted input, `1` f0, `2..=m + 1` the blocks, `m + 2`
/// the residual sum; the output conv writes the result directly.
struct Geometry {
    m: usize,
    /// Per ring: how far beyond the tile it is computed.
    lag: Vec<usize>,
    /// Per ring: channels per pixel.
    channels: Vec<usize>,
    /// Per ring: rows kept (a power of two).
    capacity: Vec<usize>,
    /// Per ring: the value of its padding (the tensor's zero point as `u8`).
    pad: Vec<u8>,
}

impl Geometry {
    fn new(plan: &NetworkPlan) -> Self {
        let m = plan.m();
        let f = plan.features();
        let convs = &plan.convs;
        let residual = m + 2;
        let mut lag = vec![0; m + 3];
        lag[residual] = convs[m + 1].pad_size();
        if m >= 1 {
            lag[m + 1] = lag[residual];
            for l in (2..=m).rev() {
                lag[l] = lag[l + 1] + convs[l].pad_size();
            }
            lag[1] = lag[residual].max(lag[2] + convs[1].pad_size());
        } else {
            lag[1] = lag[residual];
        }
        lag[0] = lag[1] + convs[0].pad_size();

        // Rows a ring must keep: its consumer's window, plus how far ahead of the residual sum
        // f0 runs (the residual reads f0 after the blocks have consumed newer rows).
        let mut span = vec![1; m + 3];
        for (l, s) in span.iter_mut().enumerate().take(m + 1) {
            *s = 2 * convs[l].pad_size() + 1;
        }
        span[1] = span[1].max(lag[1] - lag[residual] + 1);
        span[residual] = 2 * convs[m + 1].pad_size() + 1;
        let capacity = span.iter().map(|s| (s + 1).next_power_of_two()).collect();

        let mut channels = vec![f; m + 3];
        channels[0] = 1;
        let mut pad = vec![0; m + 3];
        pad[0] = convs[0].pad;
        for l in 1..=m + 1 {
            pad[l] = convs[l - 1].layer_pad();
        }
        pad[residual] = convs[m + 1].pad;
        Self {
            m,
            lag,
            channels,
            capacity,
            pad,
        }
    }

    fn origin(&self) -> usize {
        self.lag[0]
    }

    /// Pixels per ring row: a tile and the widest lag on both sides.
    fn width(&self) -> usize {
        TILE_WIDTH + 2 * self.origin()
    }
}

/// The last rows of one layer.
struct Ring {
    data: Vec<u8>,
    row_bytes: usize,
    mask: usize,
    pad: u8,
    pad_row: Vec<u8>,
    /// Next row to compute, and the end of the rows this tile needs.
    next: usize,
    end: usize,
}

impl Ring {
    fn new(row_bytes: usize, capacity: usize, pad: u8) -> Self {
        Self {
            data: vec![pad; row_bytes * capacity],
            row_bytes,
            mask: capacity - 1,
            pad,
            pad_row: vec![pad; row_bytes],
            next: 0,
            end: 0,
        }
    }

    /// Row `y` of the layer (`height` rows); the padding row outside the image.
    fn row(&self, y: isize, height: usize) -> &[u8] {
        if y < 0 || y as usize >= height {
            &self.pad_row
        } else {
            let slot = y as usize & self.mask;
            &self.data[slot * self.row_bytes..][..self.row_bytes]
        }
    }

    fn row_mut(&mut self, y: usize) -> &mut [u8] {
        let slot = y & self.mask;
        &mut self.data[slot * self.row_bytes..][..self.row_bytes]
    }
}

/// One thread's buffers, reused from tile to tile.
struct Scratch {
    rings: Vec<Ring>,
    /// The output conv's row (when it is not fused with the end of the network).
    conv_out: Vec<u8>,
}

impl Scratch {
    fn new(geometry: &Geometry, outputs: usize) -> Self {
        let width = geometry.width();
        let rings = (0..geometry.lag.len())
            .map(|l| {
                Ring::new(
                    width * geometry.channels[l] + ROW_SLACK,
                    geometry.capacity[l],
                    geometry.pad[l],
                )
            })
            .collect();
        Self {
            rings,
            conv_out: vec![0; width * outputs + ROW_SLACK],
        }
    }
}

/// The image and where the tile lies in it.
struct Tile<'a> {
    plan: &'a NetworkPlan,
    geometry: &'a Geometry,
    kernels: &'a Kernels,
    input: &'a [i8],
    width: usize,
    height: usize,
    /// The tile's image columns.
    x0: usize,
    x1: usize,
}

impl Tile<'_> {
    /// Image columns of ring `l` (its lag around the tile, inside the image).
    fn columns(&self, lag: usize) -> Range<usize> {
        self.x0.saturating_sub(lag)..(self.x1 + lag).min(self.width)
    }

    /// Buffer columns of image columns (buffer column `origin` is image column `x0`).
    fn buffer(&self, cols: Range<usize>) -> Range<usize> {
        let shift = |x: usize| x + self.geometry.origin() - self.x0;
        shift(cols.start)..shift(cols.end)
    }

    /// Makes ring `l` hold row `y` (and every row before it that the tile needs).
    fn ensure(&self, rings: &mut [Ring], l: usize, y: usize) {
        let y = y.min(rings[l].end.saturating_sub(1));
        while rings[l].next <= y && rings[l].next < rings[l].end {
            let row = rings[l].next;
            self.compute(rings, l, row);
            rings[l].next += 1;
        }
    }

    fn compute(&self, rings: &mut [Ring], l: usize, y: usize) {
        let geometry = self.geometry;
        let m = geometry.m;
        let cols = self.columns(geometry.lag[l]);
        let bcols = self.buffer(cols.clone());
        if l == 0 {
            let table = &self.plan.shift_table;
            let input = &self.input[y * self.width..][..self.width];
            let out = &mut rings[0].row_mut(y)[bcols];
            for (o, &x) in out.iter_mut().zip(&input[cols]) {
                *o = table[(x as i32 + U8_OFFSET) as usize];
            }
        } else if l <= m + 1 {
            let conv = &self.plan.convs[l - 1];
            let pad = conv.pad_size();
            self.ensure(rings, l - 1, y + pad);
            let (before, after) = rings.split_at_mut(l);
            let source = &before[l - 1];
            let mut rows: [&[u8]; MAX_KERNEL] = [&[]; MAX_KERNEL];
            for (ky, row) in rows.iter_mut().enumerate().take(conv.kernel) {
                *row = source.row(y as isize + ky as isize - pad as isize, self.height);
            }
            let out = after[0].row_mut(y);
            self.kernels.conv_row(
                self.plan,
                l - 1,
                &rows[..conv.kernel],
                out,
                bcols.clone(),
                geometry.width(),
            );
            // PReLU blocks: the PReLU follows the conv on the row while it is in L1.
            if let Some(prelu) = &conv.prelu {
                self.kernels.prelu_row(prelu, out, bcols, geometry.width());
            }
        } else {
            self.ensure(rings, m + 1, y);
            self.ensure(rings, 1, y);
            // Each group of four channels is a run of pixels (see `scalar::offset`).
            let channels = geometry.channels[l];
            let (groups, segment, unit) = if channels.is_multiple_of(4) {
                (channels / 4, 4 * geometry.width(), 4)
            } else {
                (1, 0, channels)
            };
            let (before, after) = rings.split_at_mut(l);
            let a = before[m + 1].row(y as isize, self.height);
            let b = before[1].row(y as isize, self.height);
            let out = after[0].row_mut(y);
            for g in 0..groups {
                let bytes = g * segment + unit * bcols.start..g * segment + unit * bcols.end;
                self.kernels.add_row(
                    &self.plan.residual,
                    &a[bytes.clone()],
                    &b[bytes.clone()],
                    &mut out[bytes],
                );
            }
        }
    }

    /// Output rows `y0..y1` of the tile into `out` (the band's high-resolution rows, starting
    /// at low-resolution row `y0`).
    fn run(&self, scratch: &mut Scratch, y0: usize, y1: usize, out: &mut [i8]) {
        let geometry = self.geometry;
        let plan = self.plan;
        let residual = geometry.m + 2;
        for (l, ring) in scratch.rings.iter_mut().enumerate() {
            ring.data.fill(ring.pad);
            let lag = geometry.lag[l];
            ring.next = y0.saturating_sub(lag);
            ring.end = (y1 + lag).min(self.height);
        }
        let conv = &plan.convs[geometry.m + 1];
        let pad = conv.pad_size();
        let s = plan.scale;
        let out_width = s * self.width;
        let bcols = self.buffer(self.x0..self.x1);
        for y in y0..y1 {
            self.ensure(&mut scratch.rings, residual, y + pad);
            let source = &scratch.rings[residual];
            let mut rows: [&[u8]; MAX_KERNEL] = [&[]; MAX_KERNEL];
            for (ky, row) in rows.iter_mut().enumerate().take(conv.kernel) {
                *row = source.row(y as isize + ky as isize - pad as isize, self.height);
            }
            let input = &self.input[y * self.width + self.x0..][..self.x1 - self.x0];
            self.kernels.output_row(
                plan,
                &rows[..conv.kernel],
                bcols.clone(),
                geometry.width(),
                input,
                &mut out[(y - y0) * s * out_width..][..s * out_width],
                out_width,
                self.x0,
                &mut scratch.conv_out,
            );
        }
    }
}

/// Runs the network on `input` (`height` rows of `width` int8 values) into `output`
/// (`scale^2 * height * width` values), on `threads` threads.
pub(crate) fn run(
    plan: &NetworkPlan,
    kernels: &Kernels,
    input: &[i8],
    width: usize,
    height: usize,
    output: &mut [i8],
    threads: usize,
) {
    let geometry = Geometry::new(plan);
    let s = plan.scale;
    // Two bands per thread balance the load; each band recomputes its lag rows.
    let bands = (2 * threads).min(height.div_ceil(16)).max(1);
    let band_rows = height.div_ceil(bands);
    let band_values = band_rows * s * s * width;
    let work = |scratch: &mut Scratch, (band, out): (usize, &mut [i8])| {
        let y0 = band * band_rows;
        let y1 = (y0 + band_rows).min(height);
        let tiles = width.div_ceil(TILE_WIDTH);
        for t in 0..tiles {
            // Equal tiles, none wider than TILE_WIDTH.
            let x0 = t * width / tiles;
            let x1 = (t + 1) * width / tiles;
            let tile = Tile {
                plan,
                geometry: &geometry,
                kernels,
                input,
                width,
                height,
                x0,
                x1,
            };
            tile.run(scratch, y0, y1, out);
        }
    };
    let new_scratch = || Scratch::new(&geometry, s * s);
    if threads <= 1 {
        let mut scratch = new_scratch();
        for item in output.chunks_mut(band_values).enumerate() {
            work(&mut scratch, item);
        }
    } else {
        output
            .par_chunks_mut(band_values)
            .enumerate()
            .for_each_init(new_scratch, work);
    }
}
