//! The readable summary of a model ([`inspect`], and `Display` for [`Model`]): operator codes,
//! tensors, operators with their options, and the MACs of one run.

use std::fmt::Write;

use super::model::{Model, OperatorCode, SubGraph, Tensor};
use crate::schema::Quantization;

/// A readable summary: operator codes, tensors (shape, type, buffer, quantization),
/// operators with their options, and the MACs of one run.
pub fn inspect(model: &Model) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write_summary(&mut s, model);
    s
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_summary(f, self)
    }
}

fn write_summary(out: &mut impl Write, model: &Model) -> std::fmt::Result {
    writeln!(
        out,
        "TFLite model, schema version {}: {:?}",
        model.version,
        model.description.as_deref().unwrap_or("")
    )?;
    writeln!(out, "operator codes:")?;
    for (i, code) in model.operator_codes.iter().enumerate() {
        match &code.custom_code {
            Some(name) => writeln!(out, "  {i:>3}  CUSTOM {name:?} v{}", code.version)?,
            None => writeln!(out, "  {i:>3}  {} v{}", code.op, code.version)?,
        }
    }
    for (s, graph) in model.subgraphs.iter().enumerate() {
        writeln!(
            out,
            "subgraph {s} {:?}: {} tensors, {} operators, inputs {:?}, outputs {:?}",
            graph.name.as_deref().unwrap_or(""),
            graph.tensors.len(),
            graph.operators.len(),
            graph.inputs,
            graph.outputs
        )?;
        write_tensors(out, model, graph)?;
        write_operators(out, model, graph)?;
    }
    let macs = model.macs();
    let (value, unit) = match macs {
        m if m >= 1_000_000_000 => (m as f64 / 1e9, "G"),
        m if m >= 1_000_000 => (m as f64 / 1e6, "M"),
        m => (m as f64 / 1e3, "K"),
    };
    writeln!(
        out,
        "MACs: {macs} ({value:.2} {unit}) per run of subgraph 0"
    )
}

/// One line a tensor, names padded to the longest of the subgraph.
fn write_tensors(out: &mut impl Write, model: &Model, graph: &SubGraph) -> std::fmt::Result {
    writeln!(out, "tensors:")?;
    let width = graph
        .tensors
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(0);
    for (i, t) in graph.tensors.iter().enumerate() {
        write_tensor(out, model, i, t, width)?;
    }
    Ok(())
}

fn write_tensor(
    out: &mut impl Write,
    model: &Model,
    i: usize,
    t: &Tensor,
    width: usize,
) -> std::fmt::Result {
    write!(
        out,
        "  {i:>4}  {:<width$}  {:<7}  {:?}",
        t.name,
        t.dtype.to_string(),
        t.shape
    )?;
    let data = model.buffers.get(t.buffer as usize).map_or(0, |b| b.len);
    if data > 0 {
        write!(out, "  buffer {} ({data} bytes)", t.buffer)?;
    }
    if t.is_variable {
        write!(out, "  variable")?;
    }
    if t.is_sparse {
        write!(out, "  sparse")?;
    }
    if let Some(q) = &t.quantization {
        write!(out, "  ")?;
        write_quantization(out, q)?;
    }
    writeln!(out)
}

fn write_quantization(out: &mut impl Write, q: &Quantization) -> std::fmt::Result {
    let list = |v: &[f32]| -> String {
        if v.len() <= 4 {
            format!("{v:?}")
        } else {
            let (lo, hi) = v
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                });
            format!("{} values in [{lo:e}, {hi:e}]", v.len())
        }
    };
    match q.scale.len() {
        0 => write!(out, "quant: none")?,
        1 => write!(
            out,
            "quant: scale {:e} zero_point {}",
            q.scale[0],
            q.zero_point.first().copied().unwrap_or(0)
        )?,
        n => {
            let zp = if q.zero_point.iter().all(|&z| z == 0) {
                "all 0".to_string()
            } else {
                format!("{:?}", q.zero_point)
            };
            write!(
                out,
                "quant: per-channel axis {} ({n}), scales {}, zero_points {zp}",
                q.quantized_dimension,
                list(&q.scale)
            )?
        }
    }
    if !q.min.is_empty() || !q.max.is_empty() {
        write!(out, ", min {} max {}", list(&q.min), list(&q.max))?;
    }
    Ok(())
}

/// One line an operator: its code (or what is wrong with it), tensors and options.
fn write_operators(out: &mut impl Write, model: &Model, graph: &SubGraph) -> std::fmt::Result {
    writeln!(out, "operators:")?;
    for (k, op) in graph.operators.iter().enumerate() {
        let (name, version) = match model.operator_codes.get(op.opcode_index as usize) {
            Some(OperatorCode {
                custom_code: Some(name),
                version,
                ..
            }) => (format!("CUSTOM {name}"), *version),
            Some(code) => (code.op.to_string(), code.version),
            None => (format!("<bad opcode {}>", op.opcode_index), 0),
        };
        write!(
            out,
            "  {k:>4}  {name:<16} v{version}  {:?} -> {:?}",
            op.inputs, op.outputs
        )?;
        let options = op.options.to_string();
        if !options.is_empty() {
            write!(out, "  {options}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}
