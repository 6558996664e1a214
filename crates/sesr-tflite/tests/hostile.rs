//! The reader on truncated, corrupted and hostile files: always an error or a model, never a
//! panic, and never an allocation out of proportion to the file.
//!
//! A counting global allocator records the largest single allocation while each input is
//! parsed; this test binary holds one test so nothing else allocates concurrently.
// The only unsafe code of the crate: forwarding `GlobalAlloc` to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use flatbuffers::FlatBufferBuilder;
use sesr_testkit::{random_network, Rng};
use sesr_tflite::read::Model;
use sesr_tflite::{write_float32, InputSize, TfliteError};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Parses `bytes`, checking that no single allocation exceeds a bound linear in its length.
fn parse(bytes: &[u8]) -> Result<Model, TfliteError> {
    LARGEST.store(0, Ordering::Relaxed);
    let result = Model::parse(bytes);
    if let Ok(model) = &result {
        // Whatever parses must also summarise without panicking.
        let _ = sesr_tflite::inspect(model);
        let _ = model.macs();
    }
    let largest = LARGEST.load(Ordering::Relaxed);
    let bound = 64 * bytes.len() + (64 << 10);
    assert!(
        largest <= bound,
        "parsing {} bytes allocated {largest} bytes at once",
        bytes.len()
    );
    result
}

fn small_model() -> Vec<u8> {
    write_float32(&random_network(2, 1, 2, true, 5), InputSize::new(3, 4)).unwrap()
}

/// Field offsets of the schema (`4 + 2 * field number`), written out independently of the
/// crate's own table.
mod field {
    pub const MODEL_VERSION: u16 = 4;
    pub const MODEL_OPERATOR_CODES: u16 = 6;
    pub const MODEL_SUBGRAPHS: u16 = 8;
    pub const MODEL_BUFFERS: u16 = 12;
    pub const CODE_BUILTIN: u16 = 10;
    pub const SUBGRAPH_TENSORS: u16 = 4;
    pub const SUBGRAPH_INPUTS: u16 = 6;
    pub const SUBGRAPH_OUTPUTS: u16 = 8;
    pub const SUBGRAPH_OPERATORS: u16 = 10;
    pub const TENSOR_SHAPE: u16 = 4;
    pub const TENSOR_TYPE: u16 = 6;
    pub const TENSOR_BUFFER: u16 = 8;
    pub const TENSOR_QUANTIZATION: u16 = 12;
    pub const QUANT_SCALE: u16 = 8;
    pub const QUANT_ZERO_POINT: u16 = 10;
    pub const QUANT_AXIS: u16 = 16;
    pub const OPERATOR_OPCODE: u16 = 4;
    pub const OPERATOR_INPUTS: u16 = 6;
    pub const OPERATOR_OUTPUTS: u16 = 8;
    pub const BUFFER_DATA: u16 = 4;
    pub const BUFFER_OFFSET: u16 = 6;
    pub const BUFFER_SIZE: u16 = 8;
}

struct TensorSpec {
    shape: Vec<i32>,
    dtype: i8,
    buffer: u32,
    /// Per-channel scales and their axis.
    per_channel: Option<(Vec<f32>, i32)>,
}

struct BufferSpec {
    data: Vec<u8>,
    /// Data outside the flatbuffer: file offset and size.
    external: Option<(u64, u64)>,
}

/// A hand-made model: one operator (code `CONV_2D`) over the given tensors.
struct Spec {
    tensors: Vec<TensorSpec>,
    buffers: Vec<BufferSpec>,
    opcode_index: u32,
    op_inputs: Vec<i32>,
    op_outputs: Vec<i32>,
    graph_inputs: Vec<i32>,
}

impl Spec {
    fn valid() -> Self {
        Spec {
            tensors: [([1, 2, 2, 1], 0), ([2, 1, 1, 1], 1), ([1, 2, 2, 2], 0)]
                .into_iter()
                .map(|(shape, buffer)| TensorSpec {
                    shape: shape.to_vec(),
                    dtype: 0,
                    buffer,
                    per_channel: None,
                })
                .collect(),
            buffers: vec![
                BufferSpec {
                    data: vec![],
                    external: None,
                },
                BufferSpec {
                    data: vec![0; 8],
                    external: None,
                },
            ],
            opcode_index: 0,
            op_inputs: vec![0, 1, -1],
            op_outputs: vec![2],
            graph_inputs: vec![0],
        }
    }

    fn build(&self) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::new();
        let buffers: Vec<_> = self
            .buffers
            .iter()
            .map(|BufferSpec { data, external }| {
                let data = (!data.is_empty()).then(|| fbb.create_vector(data));
                let start = fbb.start_table();
                if let Some(data) = data {
                    fbb.push_slot_always(field::BUFFER_DATA, data);
                }
                if let Some((offset, size)) = external {
                    fbb.push_slot_always(field::BUFFER_OFFSET, *offset);
                    fbb.push_slot_always(field::BUFFER_SIZE, *size);
                }
                fbb.end_table(start)
            })
            .collect();
        let tensors: Vec<_> = self
            .tensors
            .iter()
            .map(|t| {
                let quant = t.per_channel.as_ref().map(|(scales, axis)| {
                    let scale = fbb.create_vector(scales);
                    let zero_point = fbb.create_vector(&vec![0i64; scales.len()]);
                    let start = fbb.start_table();
                    fbb.push_slot_always(field::QUANT_SCALE, scale);
                    fbb.push_slot_always(field::QUANT_ZERO_POINT, zero_point);
                    fbb.push_slot_always(field::QUANT_AXIS, *axis);
                    fbb.end_table(start)
                });
                let shape = fbb.create_vector(&t.shape);
                let start = fbb.start_table();
                fbb.push_slot_always(field::TENSOR_SHAPE, shape);
                fbb.push_slot_always(field::TENSOR_TYPE, t.dtype);
                fbb.push_slot_always(field::TENSOR_BUFFER, t.buffer);
                if let Some(q) = quant {
                    fbb.push_slot_always(field::TENSOR_QUANTIZATION, q);
                }
                fbb.end_table(start)
            })
            .collect();
        let op = {
            let inputs = fbb.create_vector(&self.op_inputs);
            let outputs = fbb.create_vector(&self.op_outputs);
            let start = fbb.start_table();
            fbb.push_slot_always(field::OPERATOR_OPCODE, self.opcode_index);
            fbb.push_slot_always(field::OPERATOR_INPUTS, inputs);
            fbb.push_slot_always(field::OPERATOR_OUTPUTS, outputs);
            fbb.end_table(start)
        };
        let code = {
            let start = fbb.start_table();
            fbb.push_slot_always(field::CODE_BUILTIN, 3i32);
            fbb.end_table(start)
        };
        let subgraph = {
            let tensors = fbb.create_vector(&tensors);
            let inputs = fbb.create_vector(&self.graph_inputs);
            let outputs = fbb.create_vector(&[2i32]);
            let operators = fbb.create_vector(&[op]);
            let start = fbb.start_table();
            fbb.push_slot_always(field::SUBGRAPH_TENSORS, tensors);
            fbb.push_slot_always(field::SUBGRAPH_INPUTS, inputs);
            fbb.push_slot_always(field::SUBGRAPH_OUTPUTS, outputs);
            fbb.push_slot_always(field::SUBGRAPH_OPERATORS, operators);
            fbb.end_table(start)
        };
        let codes = fbb.create_vector(&[code]);
        let subgraphs = fbb.create_vector(&[subgraph]);
        let buffers = fbb.create_vector(&buffers);
        let start = fbb.start_table();
        fbb.push_slot_always(field::MODEL_VERSION, 3u32);
        fbb.push_slot_always(field::MODEL_OPERATOR_CODES, codes);
        fbb.push_slot_always(field::MODEL_SUBGRAPHS, subgraphs);
        fbb.push_slot_always(field::MODEL_BUFFERS, buffers);
        let root = fbb.end_table(start);
        fbb.finish(root, Some("TFL3"));
        fbb.finished_data().to_vec()
    }
}

fn expect_malformed(spec: Spec, needle: &str) {
    match parse(&spec.build()) {
        Err(TfliteError::Malformed(msg)) => assert!(msg.contains(needle), "{msg}"),
        other => panic!("expected a malformed-model error about {needle:?}, got {other:?}"),
    }
}

fn check_truncations_and_flips() {
    let bytes = small_model();
    assert!(parse(&bytes).is_ok());
    // Every proper prefix is rejected.
    for len in 0..bytes.len() {
        assert!(
            parse(&bytes[..len]).is_err(),
            "prefix of {len} bytes parsed"
        );
    }
    // Seeded corruption: 1 to 4 random bytes replaced, 20 000 times.
    let mut rng = Rng::new(0x5e5e);
    let (mut rejected, mut accepted) = (0, 0);
    for _ in 0..20_000 {
        let mut corrupt = bytes.clone();
        for _ in 0..1 + rng.next_u64() % 4 {
            let at = (rng.next_u64() % corrupt.len() as u64) as usize;
            corrupt[at] = rng.next_u64() as u8;
        }
        match parse(&corrupt) {
            Ok(_) => accepted += 1,
            Err(_) => rejected += 1,
        }
    }
    // Most flips land in weight data and leave a valid model; many do not.
    assert!(
        rejected > 1000 && accepted > 1000,
        "{rejected} rejected, {accepted} accepted"
    );
}

fn check_crafted_models() {
    assert!(parse(&Spec::valid().build()).is_ok());

    let mut s = Spec::valid();
    s.tensors[1].buffer = 7;
    expect_malformed(s, "buffer 7 out of range");

    let mut s = Spec::valid();
    s.opcode_index = 1;
    expect_malformed(s, "operator code 1 out of range");

    let mut s = Spec::valid();
    s.op_inputs = vec![0, 3];
    expect_malformed(s, "input tensor 3 out of range");

    let mut s = Spec::valid();
    s.op_outputs = vec![-1];
    expect_malformed(s, "output tensor -1 out of range");

    let mut s = Spec::valid();
    s.graph_inputs = vec![99];
    expect_malformed(s, "input tensor 99 out of range");

    let mut s = Spec::valid();
    s.buffers[1].data = vec![0; 12];
    expect_malformed(s, "needs 8 bytes, its buffer 1 holds 12");

    let mut s = Spec::valid();
    s.tensors[0].shape = vec![1, -2, 2, 1];
    expect_malformed(s, "negative dimension");

    // Huge shapes: no buffer is fine (nothing is allocated for them); with data they must
    // match, and the products must not overflow.
    let mut s = Spec::valid();
    s.tensors[2].shape = vec![i32::MAX; 8];
    let model = parse(&s.build()).unwrap();
    assert!(model.macs() > 0);
    let mut s = Spec::valid();
    s.tensors[1].shape = vec![i32::MAX; 8];
    expect_malformed(s, "holds 8");

    let mut s = Spec::valid();
    s.tensors[1].per_channel = Some((vec![0.5, 0.25, 0.125], 0));
    expect_malformed(s, "3 per-channel scales along axis 0");
    let mut s = Spec::valid();
    s.tensors[1].per_channel = Some((vec![0.5, 0.25], 9));
    expect_malformed(s, "axis 9");
    let mut s = Spec::valid();
    s.tensors[1].per_channel = Some((vec![0.5, 0.25], 0));
    assert!(parse(&s.build()).is_ok());

    let mut s = Spec::valid();
    s.buffers[0].data = vec![1];
    expect_malformed(s, "buffer 0 must be the empty sentinel");

    let mut s = Spec::valid();
    s.buffers.push(BufferSpec {
        data: vec![],
        external: Some((1 << 40, 16)),
    });
    expect_malformed(s, "lie outside");

    // Not a TFLite file at all.
    assert!(matches!(parse(b"hello"), Err(TfliteError::NotTflite(_))));
    let mut wrong = Spec::valid().build();
    wrong[4..8].copy_from_slice(b"TFL2");
    assert!(matches!(parse(&wrong), Err(TfliteError::NotTflite(_))));

    // A vector claiming 2^31 - 1 elements: the verifier refuses before anything is read.
    let mut bytes = small_model();
    let shape = [4u32, 1, 3, 4, 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect::<Vec<_>>();
    let at = bytes
        .windows(shape.len())
        .position(|w| w == shape)
        .expect("the input shape vector");
    bytes[at..at + 4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    assert!(matches!(parse(&bytes), Err(TfliteError::Flatbuffer(_))));

    // A root offset past the end, and one pointing at itself.
    let mut bytes = small_model();
    bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(parse(&bytes), Err(TfliteError::Flatbuffer(_))));
    let mut bytes = small_model();
    bytes[..4].copy_from_slice(&0u32.to_le_bytes());
    assert!(parse(&bytes).is_err());
}

/// Inputs found by fuzzing (`fuzz/`), kept as regression tests: each must give a model or an
/// error without panicking.
fn check_corpus() -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let _ = parse(&std::fs::read(&path)?);
        count += 1;
    }
    assert!(count > 0, "no regression inputs in {}", dir.display());
    Ok(())
}

#[test]
fn hostile_inputs_give_errors_not_panics_or_huge_allocations() -> Result<()> {
    check_truncations_and_flips();
    check_crafted_models();
    check_corpus()
}
