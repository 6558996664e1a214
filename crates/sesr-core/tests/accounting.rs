//! Parameter and MAC counts against the paper's Table 2 and Section 4 figures.

use sesr_core::{Accounting, Preset, Sesr, SesrConfig, TrainingMode};

/// The paper prints two decimals, sometimes rounded (M7: 4.1767G as 4.18) and sometimes
/// truncated (M5: 3.1150G as 3.11, 41.775G as 41.77): accept either, nothing else.
fn assert_paper_figure(exact: f64, paper: f64, what: &str) {
    let rounded = (exact * 100.0).round() / 100.0;
    let truncated = (exact * 100.0).floor() / 100.0;
    assert!(
        rounded == paper || truncated == paper,
        "{what}: {exact:.4} is neither rounded nor truncated {paper}"
    );
}

fn kilo(n: u64) -> f64 {
    n as f64 / 1e3
}

fn giga(n: u64) -> f64 {
    n as f64 / 1e9
}

#[test]
fn collapsed_parameters_and_360p_macs_match_the_paper() {
    // Paper, Table 2 (x2, 360p -> 720p): params in K, MACs in G.
    let table = [
        (Preset::M3, 8.91, 2.05),
        (Preset::M5, 13.52, 3.11),
        (Preset::M7, 18.13, 4.18),
        (Preset::M11, 27.34, 6.30),
        (Preset::Xl, 105.38, 24.28),
    ];
    for (preset, params_k, macs_g) in table {
        let a = Accounting::new(&preset.config(2).unwrap());
        assert_paper_figure(
            kilo(a.collapsed_weights),
            params_k,
            &format!("{preset:?} params"),
        );
        assert_paper_figure(
            giga(a.inference_macs(360, 640)),
            macs_g,
            &format!("{preset:?} MACs"),
        );
    }
}

#[test]
fn m5_training_forward_macs_expanded_vs_collapsed() {
    // Paper, Section 4: batch of 32 64x64 patches, 41.77G expanded vs 1.84G collapsed
    // (the collapsed figure includes collapsing every block once).
    let a = Accounting::new(&Preset::M5.config(2).unwrap());
    assert_paper_figure(
        giga(a.training_forward_macs(32, 64, 64, false)),
        41.77,
        "expanded",
    );
    assert_paper_figure(
        giga(a.training_forward_macs(32, 64, 64, true)),
        1.84,
        "collapsed",
    );
}

#[test]
fn parameter_counts_agree_with_the_models_actual_tensors() {
    for config in [
        Preset::M5.config(2).unwrap(),
        SesrConfig::new(3, 8, 24, 4).unwrap(),
    ] {
        let a = Accounting::new(&config);
        let model = Sesr::new(config, TrainingMode::Collapsed, tch::Device::Cpu).unwrap();
        let expanded: i64 = model
            .named_tensors()
            .iter()
            .map(|(_, t)| t.numel() as i64)
            .sum();
        assert_eq!(expanded as u64, a.expanded_params);
        let collapsed = model.collapse().unwrap();
        let weights: i64 = collapsed
            .convs()
            .iter()
            .map(|c| c.weight.numel() as i64)
            .sum();
        let all: i64 = collapsed
            .named_tensors()
            .iter()
            .map(|(_, t)| t.numel() as i64)
            .sum();
        assert_eq!(weights as u64, a.collapsed_weights);
        assert_eq!(all as u64, a.collapsed_weights + a.collapsed_extras);
    }
}
