//! Any bytes into the TFLite reader: an error or a model, never a panic; a model must also
//! summarise and expose its buffers without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesr_tflite::read::Model;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = Model::parse(data) {
        let _ = sesr_tflite::inspect(&model);
        let _ = model.macs();
        for i in 0..model.buffers.len() {
            let _ = model.buffer_data(i);
        }
        for (s, graph) in model.subgraphs.iter().enumerate() {
            for t in 0..graph.tensors.len() {
                let _ = model.tensor_data(s, t);
            }
        }
    }
});
