//! Tiled inference: any tiling gives the whole-image result; bad tiles and planes are errors.

mod common;

use common::perturb;
use sesr_core::infer::{plane_to_tensor, tensor_to_plane, upscale_y};
use sesr_core::{CollapsedSesr, CoreError, Sesr, SesrConfig, TrainingMode};
use sesr_data::plane::PlaneF32;
use sesr_testkit::photos::asset;
use tch::Device;

/// A collapsed model whose weights, biases and slopes are all away from their initial values.
fn perturbed(config: SesrConfig, seed: i64) -> CollapsedSesr {
    let model = Sesr::new(config, TrainingMode::Collapsed, Device::Cpu).unwrap();
    perturb(&model, seed);
    model.collapse().unwrap()
}

/// The model run once on the whole plane, no tiling.
fn whole(model: &CollapsedSesr, y: &PlaneF32) -> PlaneF32 {
    let input = plane_to_tensor(y, Device::Cpu).unwrap();
    tensor_to_plane(&model.forward(&input).unwrap()).unwrap()
}

/// The largest difference of two planes of one size.
fn max_abs_diff(a: &PlaneF32, b: &PlaneF32) -> f32 {
    assert_eq!(a.size(), b.size());
    sesr_testkit::max_abs_diff(&a.data, &b.data)
}

/// Studio-swing Y of a shipped photo.
fn photo_y(relative: &str) -> PlaneF32 {
    sesr_data::load_y(asset(relative)).unwrap()
}

#[test]
fn tiled_equals_whole_image_on_a_photo_crop_at_x2_and_x4() {
    // An odd-sized crop (101 x 77) of a real photo, so no tile size below divides it.
    let y = photo_y("valid/chelsea.png").crop(150, 60, 101, 77);
    for (scale, seed) in [(2, 1), (4, 2)] {
        let model = perturbed(SesrConfig::m5(scale).unwrap(), seed);
        let reference = whole(&model, &y);
        assert_eq!(reference.size(), (101 * scale, 77 * scale));
        // The network really changes the image: it is not nearest-neighbour upscaling.
        let nearest =
            PlaneF32::from_fn(101 * scale, 77 * scale, |x, r| y.get(x / scale, r / scale));
        assert!(max_abs_diff(&reference, &nearest) > 1e-3);
        // Smaller than the halo (9), non-dividing, exactly the height, larger than the image.
        for tile in [5, 16, 33, 64, 77, 101, 4096] {
            let tiled = upscale_y(&model, &y, tile).unwrap();
            let err = max_abs_diff(&tiled, &reference);
            assert!(err <= 1e-5, "x{scale}, tile {tile}: max abs error {err}");
        }
    }
}

#[test]
fn tiled_equals_whole_image_on_a_full_photo() {
    // 451 x 300: tiles of 128 leave a 67-pixel column and a 44-pixel row at the edges.
    let y = photo_y("valid/chelsea.png");
    let model = perturbed(SesrConfig::new(7, 16, 32, 2).unwrap(), 3);
    assert_eq!(model.config().receptive_radius(), 11);
    let reference = whole(&model, &y);
    for tile in [128, 300] {
        let err = max_abs_diff(&upscale_y(&model, &y, tile).unwrap(), &reference);
        assert!(err <= 1e-5, "tile {tile}: max abs error {err}");
    }
    // A gray photo at x4, one-pixel-wide strips included (tile 1 on a thin crop).
    let y = photo_y("valid/coins.png").crop(40, 40, 13, 11);
    let model = perturbed(SesrConfig::new(2, 8, 16, 4).unwrap(), 4);
    let reference = whole(&model, &y);
    for tile in [1, 2, 6] {
        let err = max_abs_diff(&upscale_y(&model, &y, tile).unwrap(), &reference);
        assert!(err <= 1e-5, "coins x4, tile {tile}: max abs error {err}");
    }
}

#[test]
fn tile_zero_and_empty_planes_are_errors() {
    let model = perturbed(SesrConfig::new(2, 8, 16, 2).unwrap(), 5);
    let y = photo_y("valid/coins.png").crop(0, 0, 8, 8);
    let message = |r: sesr_core::Result<PlaneF32>| match r {
        Err(e @ CoreError::InvalidConfig(_)) => e.to_string(),
        other => panic!("expected InvalidConfig, got {other:?}"),
    };
    assert!(message(upscale_y(&model, &y, 0)).contains("tile size must be at least 1"));
    for (w, h) in [(0, 0), (0, 5), (5, 0)] {
        let empty = PlaneF32::new(w, h);
        let m = message(upscale_y(&model, &empty, 64));
        assert!(m.contains(&format!("empty {w}x{h} plane")), "{m}");
    }
    // A plane whose data does not match its size is refused, not read out of bounds.
    let broken = PlaneF32 {
        width: 4,
        height: 4,
        data: vec![0.5; 15],
    };
    assert!(message(upscale_y(&model, &broken, 2)).contains("15 samples"));
    // Tensors that are not one plane are refused by the conversion helper.
    let batch = tch::Tensor::zeros([2, 1, 4, 4], (tch::Kind::Float, Device::Cpu));
    assert!(matches!(
        tensor_to_plane(&batch),
        Err(CoreError::InvalidConfig(m)) if m.contains("[2, 1, 4, 4]")
    ));
}
