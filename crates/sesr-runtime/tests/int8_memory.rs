//! Peak memory of the int8 path on a 1080p frame: the fused tiles keep a few rows per layer,
//! so beyond the input and the output a frame needs a few megabytes, where one 16-channel
//! feature map of the frame is 33 MB in int8 (130 MB in float32). Its own test binary, so
//! that nothing else runs in the process while the peak is measured (Linux only: the peak
//! resident set, `VmHWM`, is reset through `/proc/self/clear_refs`).

use anyhow::Result;
use sesr_net::Int8Network;
use sesr_runtime::int8::Int8Sesr;
use sesr_testkit::photos::valid_y;
use sesr_testkit::random_network;
use sesr_testkit::reference::calibrate;

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(key: &str) -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[test]
fn a_1080p_frame_needs_little_memory_beyond_its_input_and_output() -> Result<()> {
    let (h, w) = (1080, 1920);
    let photo = valid_y("rocket.jpg")?;
    let calib = photo.crop(0, 0, 64, 48);
    let graph = random_network(2, 5, 16, false, 8);
    let q = Int8Network::quantize(&graph, &calibrate(&graph, &calib.data, 48, 64))?;
    let net = Int8Sesr::from_network(q.clone())?;
    // The photo repeated over a 1080p frame.
    let x: Vec<i8> = (0..h * w)
        .map(|i| {
            let (r, c) = (i / w % photo.height, i % w % photo.width);
            q.input.quantize(photo.data[r * photo.width + c])
        })
        .collect();
    // Warm up (thread pool, allocator) on a small image.
    net.run_int8(&x[..64 * 64], 64, 64, 2)?;
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        println!("note: cannot reset the peak resident set here; memory not measured");
        return Ok(());
    }
    let (Some(before), Some(_)) = (status_bytes("VmRSS:"), status_bytes("VmHWM:")) else {
        println!("note: no /proc/self/status here; memory not measured");
        return Ok(());
    };
    let out = net.run_int8(&x, w, h, 2)?;
    let peak = status_bytes("VmHWM:").unwrap_or(0);
    let extra = peak.saturating_sub(before + out.len());
    println!(
        "1080p x2 int8: resident {:.1} MB before, peak {:.1} MB; {:.1} MB beyond the input \
         (already resident) and the {:.1} MB output",
        before as f64 / 1e6,
        peak as f64 / 1e6,
        extra as f64 / 1e6,
        out.len() as f64 / 1e6
    );
    assert_eq!(out.len(), 4 * h * w);
    assert!(extra < 16_000_000, "{extra} bytes beyond the output");
    Ok(())
}
