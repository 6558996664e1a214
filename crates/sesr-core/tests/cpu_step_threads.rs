//! The CPU step's gradients do not depend on the number of threads: every image's gradients
//! are summed in image order. A test binary of its own, because it changes libtorch's global
//! thread count.

mod common;

use common::{perturb, photo_y};
use sesr_core::{Sesr, SesrConfig, TrainingMode};
use tch::{Device, Tensor};

#[test]
fn gradients_are_bit_identical_for_one_two_and_three_threads() {
    let config = SesrConfig::new(3, 16, 64, 2).unwrap();
    let model = Sesr::new(config, TrainingMode::Collapsed, Device::Cpu).unwrap();
    perturb(&model, 21);
    let crops: Vec<Tensor> = [(0, 0), (64, 32), (128, 96), (200, 150), (40, 220)]
        .iter()
        .map(|&(x, y)| photo_y("train/coffee.png", x, y, 48))
        .collect();
    let hr = Tensor::cat(&crops, 0);
    let lr = hr.avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None);
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    assert_eq!(
        model.uses_cpu_step(&lr, &hr),
        is_x86_feature_detected!("avx512f")
    );
    let mut runs = vec![];
    for threads in [1, 2, 3] {
        tch::set_num_threads(threads);
        for (_, mut t) in model.named_tensors() {
            t.zero_grad();
        }
        let loss = model.loss_backward(&lr, &hr).unwrap();
        let grads: Vec<Vec<f32>> = model
            .named_tensors()
            .iter()
            .map(|(_, t)| Vec::<f32>::try_from(t.grad().flatten(0, -1)).unwrap())
            .collect();
        runs.push((loss, grads));
    }
    assert!(runs[0].1.iter().flatten().any(|g| *g != 0.0));
    for (threads, run) in [2, 3].iter().zip(&runs[1..]) {
        assert_eq!(
            run.0.to_bits(),
            runs[0].0.to_bits(),
            "loss with {threads} threads"
        );
        assert!(
            run.1 == runs[0].1,
            "gradients with {threads} threads differ from one thread's"
        );
    }
}
