//! The float32 path on the shipped photos: the scalar kernels against the network's
//! definition, every SIMD kernel against the scalar one, and invariance to threads and tiles.

mod common;

use common::{max_abs_diff, photo_y, random_graph, reference_upscale};
use sesr_data::plane::PlaneF32;
use sesr_runtime::{Kernel, Upscaler};

fn upscaler(graph: &sesr_net::Float32Network, kernel: Kernel) -> Upscaler {
    Upscaler::from_network(graph)
        .unwrap()
        .with_kernel(kernel)
        .unwrap()
}

/// The SIMD kernels this CPU has; prints which are skipped.
fn simd_kernels() -> Vec<Kernel> {
    [Kernel::Avx2, Kernel::Avx512]
        .into_iter()
        .filter(|k| {
            let ok = k.is_available();
            if !ok {
                eprintln!("note: this CPU lacks the {k} kernel; its comparison is skipped");
            }
            ok
        })
        .collect()
}

#[test]
fn scalar_kernels_follow_the_network_definition() {
    let chelsea = photo_y("chelsea.png");
    // (m, f, scale, prelu, crop w x h, tile): odd sizes, tile boundaries inside the image,
    // an image smaller than one tile, 1x1; f = 8 and 32 exercise the channel padding and
    // the second 16-channel block; x4 the double depth-to-space.
    let cases = [
        (2, 16, 2, true, (37, 29), (16, Some(8))),
        (1, 8, 4, false, (23, 17), (512, None)),
        (3, 32, 2, true, (19, 21), (5, Some(3))),
        (5, 16, 4, true, (9, 7), (4, Some(4))),
        (2, 16, 2, false, (1, 1), (512, None)),
    ];
    for (seed, (m, f, scale, prelu, (w, h), (tw, th))) in cases.into_iter().enumerate() {
        let graph = random_graph(m, f, scale, prelu, seed as u64);
        let lr = chelsea.crop(200, 100, w, h);
        let want = reference_upscale(&graph, &lr);
        let got = upscaler(&graph, Kernel::Scalar)
            .with_tile(tw, th)
            .unwrap()
            .upscale_y(&lr)
            .unwrap();
        let err = max_abs_diff(&got, &want);
        assert!(err <= 1e-5, "case {seed}: max abs error {err}");
        // Not a degenerate network: the output is not a copy of the clipped input.
        assert!(got.data.iter().any(|&v| v > 0.0 && v < 1.0), "case {seed}");
    }
}

#[test]
fn every_simd_kernel_matches_the_scalar_kernels() {
    let coins = photo_y("coins.png").crop(0, 0, 131, 97);
    for kernel in simd_kernels() {
        for (seed, (m, f, scale, prelu)) in [
            (5, 16, 2, true),
            (5, 16, 4, false),
            (2, 32, 2, true),
            (3, 8, 4, true),
        ]
        .into_iter()
        .enumerate()
        {
            let graph = random_graph(m, f, scale, prelu, 100 + seed as u64);
            let want = upscaler(&graph, Kernel::Scalar).upscale_y(&coins).unwrap();
            // Narrow tiles, so every kernel runs its pixel blocks and its remainder loop.
            for tile in [(512, None), (13, Some(11))] {
                let got = upscaler(&graph, kernel)
                    .with_tile(tile.0, tile.1)
                    .unwrap()
                    .upscale_y(&coins)
                    .unwrap();
                let err = max_abs_diff(&got, &want);
                assert!(err <= 1e-5, "{kernel}, case {seed}, tile {tile:?}: {err}");
            }
        }
    }
}

#[test]
fn thread_count_does_not_change_a_single_bit() {
    let rocket = photo_y("rocket.jpg").crop(0, 0, 300, 211);
    let graph = random_graph(5, 16, 2, true, 7);
    let run = |threads: usize| {
        Upscaler::from_network(&graph)
            .unwrap()
            .with_threads(threads)
            .unwrap()
            .with_tile(64, Some(32))
            .unwrap()
            .upscale_y(&rocket)
            .unwrap()
    };
    let one = run(1);
    assert_eq!(one.size(), (600, 422));
    for threads in [2, 3] {
        assert!(run(threads) == one, "{threads} threads differ from 1");
    }
}

#[test]
fn tile_size_does_not_change_results() {
    // A crop, so that 1x1 tiles (each recomputing its whole 19x19 reach) stay quick.
    let chelsea = photo_y("chelsea.png").crop(150, 100, 161, 97);
    let graph = random_graph(5, 16, 2, true, 8);
    let run = |tile: (usize, Option<usize>)| {
        Upscaler::from_network(&graph)
            .unwrap()
            .with_tile(tile.0, tile.1)
            .unwrap()
            .upscale_y(&chelsea)
            .unwrap()
    };
    let whole = run((usize::MAX, Some(usize::MAX)));
    for tile in [(512, None), (64, Some(64)), (7, Some(5)), (1, Some(1))] {
        let err = max_abs_diff(&run(tile), &whole);
        assert!(err <= 1e-6, "tile {tile:?}: {err}");
    }
}

#[test]
fn bad_inputs_and_options_are_clear_errors() {
    let graph = random_graph(1, 16, 2, true, 9);
    let up = Upscaler::from_network(&graph).unwrap();
    let err = |plane: &PlaneF32| up.upscale_y(plane).unwrap_err().to_string();

    assert!(err(&PlaneF32::new(0, 5)).contains("empty 0x5 plane"));
    assert!(err(&PlaneF32::new(4, 0)).contains("empty 4x0 plane"));
    let short = PlaneF32 {
        width: 3,
        height: 3,
        data: vec![0.5; 8],
    };
    assert!(err(&short).contains("holds 8 samples, but a 3x3 plane needs 9"));
    // Too large: refused from the sizes alone, before touching (or allocating) anything.
    for (w, h) in [(1 << 16, 1 << 14), (usize::MAX / 2, 3), (3, usize::MAX)] {
        let huge = PlaneF32 {
            width: w,
            height: h,
            data: vec![],
        };
        assert!(
            err(&huge).contains("pixels; split it into parts"),
            "{w}x{h}"
        );
    }

    let option = |r: sesr_runtime::Result<Upscaler>| r.unwrap_err().to_string();
    let fresh = || Upscaler::from_network(&graph).unwrap();
    assert!(option(fresh().with_threads(0)).contains("threads must be between 1 and 1024"));
    assert!(option(fresh().with_threads(1 << 40)).contains("got 1099511627776"));
    assert!(option(fresh().with_tile(0, None)).contains("at least 1 LR pixel"));
    assert!(option(fresh().with_tile(8, Some(0))).contains("at least 1 LR pixel"));
    for kernel in Kernel::ALL {
        match fresh().with_kernel(kernel) {
            Ok(up) => assert!(kernel.is_available() && up.kernel() == kernel),
            Err(e) => {
                assert!(!kernel.is_available());
                assert!(e.to_string().contains("which this CPU lacks"), "{e}");
            }
        }
    }
    assert!(Kernel::Scalar.is_available());

    // Networks that are not SESR-shaped.
    let mut bad = graph.clone();
    bad.convs[1].kernel = 5;
    bad.convs[1].weight = vec![0.0; 16 * 16 * 25];
    let e = Upscaler::from_network(&bad).unwrap_err().to_string();
    assert!(e.contains("conv 1 has a 5x5 kernel; SESR's is 3x3"), "{e}");
    let mut bad = graph.clone();
    bad.convs[2].bias.pop();
    let e = Upscaler::from_network(&bad).unwrap_err().to_string();
    assert!(e.contains("bias has 3 values, needs 4"), "{e}");
    let mut bad = graph;
    bad.scale = 3;
    let e = Upscaler::from_network(&bad).unwrap_err().to_string();
    assert!(e.contains("scale must be 2 or 4"), "{e}");
}

#[test]
fn thin_images_and_tiny_tiles_match_the_definition() {
    let rocket = photo_y("rocket.jpg");
    for (seed, scale) in [(40, 2), (41, 4)] {
        let graph = random_graph(3, 16, scale, true, seed);
        for (w, h) in [(1, 23), (23, 1), (2, 3), (17, 2)] {
            let lr = rocket.crop(300, 200, w, h);
            let want = reference_upscale(&graph, &lr);
            for kernel in std::iter::once(Kernel::Scalar).chain(simd_kernels()) {
                for (tw, th) in [(512, None), (1, Some(1)), (3, Some(2))] {
                    let got = upscaler(&graph, kernel)
                        .with_tile(tw, th)
                        .unwrap()
                        .upscale_y(&lr)
                        .unwrap();
                    let err = max_abs_diff(&got, &want);
                    assert!(err <= 1e-5, "{kernel} x{scale} {w}x{h} tile {tw}: {err}");
                }
            }
        }
    }
}
