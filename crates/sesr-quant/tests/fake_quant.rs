//! Fake quantization against hand-computed values of the reference's formulas.

use sesr_quant::{fake_quant, nudged_range, ActivationQuantizer, WeightQuantizer};
use tch::{nn, Device, Kind, Tensor};

fn t(values: &[f32]) -> Tensor {
    Tensor::from_slice(values)
}

#[test]
fn nudging_makes_zero_exact_and_snaps_to_the_grid() {
    // min -0.1, max 0.9: scale 1/255, zero point round(25.5) = 26 (round half away from zero
    // in torch? torch rounds half to even: 26), nudged min -26/255.
    let (lo, hi, scale) = nudged_range(&t(&[-0.1]), &t(&[0.9]), false);
    let scale = scale.double_value(&[0]);
    assert!((scale - 1.0 / 255.0).abs() < 1e-9);
    let zp = -lo.double_value(&[0]) / scale;
    assert!(
        (zp - zp.round()).abs() < 1e-4,
        "zero point {zp} not an integer"
    );
    assert!((hi.double_value(&[0]) - lo.double_value(&[0]) - 1.0).abs() < 1e-6);

    let x = t(&[-1.0, -0.1, 0.0, 0.0013, 0.5, 2.0]);
    let q = fake_quant(&x, &t(&[-0.1]), &t(&[0.9]), false);
    let q: Vec<f32> = Vec::try_from(&q).unwrap();
    assert_eq!(q[2], 0.0, "zero must stay exactly zero");
    // Clipped to the nudged range at both ends.
    assert!((q[0] as f64 - lo.double_value(&[0])).abs() < 1e-6);
    assert!((q[5] as f64 - hi.double_value(&[0])).abs() < 1e-6);
    // Every output is on the grid lo + k * scale.
    for v in &q {
        let k = (*v as f64 - lo.double_value(&[0])) / scale;
        assert!((k - k.round()).abs() < 1e-3, "{v} is off the grid");
    }
    // 0.0013 is 0.33 of a step: floor(x / s + 0.5) rounds it to 0.
    assert_eq!(q[3], 0.0);
}

#[test]
fn straight_through_gradients_reach_input_and_range() {
    let x = t(&[-0.5, 0.2, 0.4, 3.0]).set_requires_grad(true);
    let min = t(&[-0.25]).set_requires_grad(true);
    let max = t(&[1.0]).set_requires_grad(true);
    fake_quant(&x, &min, &max, false)
        .sum(Kind::Float)
        .backward();
    let gx: Vec<f32> = Vec::try_from(&x.grad()).unwrap();
    // Inside the range the floor passes the gradient straight through; outside it is clipped.
    assert_eq!(gx, vec![0.0, 1.0, 1.0, 0.0]);
    assert!(max.grad().abs().double_value(&[0]) > 0.0);
    assert!(min.grad().abs().double_value(&[0]) > 0.0);
}

#[test]
fn quantizers_initialise_from_the_first_tensor_they_see() {
    let vs = nn::VarStore::new(Device::Cpu);
    let act = ActivationQuantizer::new(vs.root() / "act");
    assert!(!act.is_initialized());
    let x = t(&[-0.3, 0.1, 0.7]);
    let _ = act.apply(&x);
    assert!(act.is_initialized());
    assert!(
        (act.min.double_value(&[]) + 0.3).abs() < 1e-6
            && (act.max.double_value(&[]) - 0.7).abs() < 1e-6
    );
    // Later tensors do not move the range.
    let _ = act.apply(&t(&[-5.0, 5.0]));
    assert!((act.max.double_value(&[]) - 0.7).abs() < 1e-6);

    let wq = WeightQuantizer::new(vs.root() / "w", 2);
    let w =
        Tensor::from_slice(&[0.5f32, -1.0, 0.25, 0.1, 0.2, -0.05, 0.0, 0.01]).view([2, 4, 1, 1]);
    let q = wq.apply(&w);
    let max: Vec<f32> = Vec::try_from(&wq.max).unwrap();
    assert_eq!(max, vec![1.0, 0.2]);
    // Symmetric narrow range: 127 steps each side, zero exact, extremes kept.
    let scales = wq.scales();
    assert!((scales[0] - 1.0 / 127.0).abs() < 1e-6 && (scales[1] - 0.2 / 127.0).abs() < 1e-6);
    let q: Vec<f32> = Vec::try_from(&q.flatten(0, -1)).unwrap();
    assert!((q[1] + 1.0).abs() < 1e-6 && (q[4] - 0.2).abs() < 1e-6 && q[6] == 0.0);
    for (i, v) in q.iter().enumerate() {
        let k = *v as f64 / scales[i / 4];
        assert!(
            (k - k.round()).abs() < 1e-3 && k.abs() <= 127.0 + 1e-3,
            "{v} off the int8 grid"
        );
    }
}
