//! Collapse exactness: both methods against the expanded block and against each other.

use sesr_collapse::{
    collapse_closed_form, collapse_impulse, forward_expanded, CollapseError, ConvRef,
    LinearBlockRef,
};
use tch::{Device, Kind, Tensor};

const TOL: f64 = 1e-5;

struct OwnedBlock {
    pre: Option<(Tensor, Tensor)>,
    conv: (Tensor, Tensor),
    project: (Tensor, Tensor),
    residual: bool,
}

impl OwnedBlock {
    /// Random block with weights scaled like a trained one (outputs of order 1).
    fn random(c_in: i64, q: Option<i64>, p: i64, c_out: i64, k: i64, residual: bool) -> Self {
        let opts = (Kind::Float, Device::Cpu);
        let conv_in = q.unwrap_or(c_in);
        let rand = |shape: &[i64], fan_in: i64| Tensor::randn(shape, opts) / (fan_in as f64).sqrt();
        OwnedBlock {
            pre: q.map(|q| (rand(&[q, c_in, 1, 1], c_in), rand(&[q], 1))),
            conv: (rand(&[p, conv_in, k, k], conv_in * k * k), rand(&[p], 1)),
            project: (rand(&[c_out, p, 1, 1], p), rand(&[c_out], 1)),
            residual,
        }
    }

    fn as_ref(&self) -> LinearBlockRef<'_> {
        fn r((weight, bias): &(Tensor, Tensor)) -> ConvRef<'_> {
            ConvRef { weight, bias }
        }
        LinearBlockRef {
            pre: self.pre.as_ref().map(r),
            conv: r(&self.conv),
            project: r(&self.project),
            residual: self.residual,
        }
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

fn collapsed_forward(block: &LinearBlockRef, x: &Tensor, impulse: bool) -> Tensor {
    let c = if impulse {
        collapse_impulse(block)
    } else {
        collapse_closed_form(block)
    }
    .unwrap();
    let pad = c.weight.size()[2] / 2;
    x.conv2d(&c.weight, Some(&c.bias), [1, 1], [pad, pad], [1, 1], 1)
}

#[test]
fn both_methods_equal_the_expanded_block_for_random_blocks() {
    tch::manual_seed(7);
    // (C_in, leading 1x1 width, p, C_out, k, residual): SESR's three block kinds and variants.
    let cases = [
        (1, None, 64, 16, 5, false),
        (16, None, 64, 16, 3, true),
        (16, None, 64, 4, 5, false),
        (16, None, 256, 16, 3, false),
        (3, Some(8), 32, 3, 3, true),
        (4, Some(12), 24, 6, 5, false),
        (2, None, 8, 2, 1, true),
    ];
    for (c_in, q, p, c_out, k, residual) in cases {
        let owned = OwnedBlock::random(c_in, q, p, c_out, k, residual);
        let block = owned.as_ref();
        let x = Tensor::rand([2, c_in, 19, 23], (Kind::Float, Device::Cpu));
        let expanded = forward_expanded(&block, &x).unwrap();
        for impulse in [false, true] {
            let got = collapsed_forward(&block, &x, impulse);
            let err = max_abs_diff(&got, &expanded);
            assert!(
                err <= TOL,
                "case {c_in}->{c_out} k{k} impulse={impulse}: max abs error {err}"
            );
        }
        let a = collapse_closed_form(&block).unwrap();
        let b = collapse_impulse(&block).unwrap();
        assert!(max_abs_diff(&a.weight, &b.weight) <= TOL);
        assert!(max_abs_diff(&a.bias, &b.bias) <= TOL);
    }
}

#[test]
fn collapsed_bias_is_exact_not_smeared() {
    // A block with zero weights except biases: the collapsed kernel must be zero (the original
    // implementation would smear the biases into it) and the bias must be W2 bk + b2.
    let opts = (Kind::Float, Device::Cpu);
    let conv = (Tensor::zeros([8, 4, 3, 3], opts), Tensor::ones([8], opts));
    let project = (
        Tensor::ones([2, 8, 1, 1], opts) * 0.5,
        Tensor::ones([2], opts) * 0.25,
    );
    let owned = OwnedBlock {
        pre: None,
        conv,
        project,
        residual: false,
    };
    for collapsed in [
        collapse_closed_form(&owned.as_ref()),
        collapse_impulse(&owned.as_ref()),
    ] {
        let collapsed = collapsed.unwrap();
        assert_eq!(
            collapsed.weight.abs().sum(Kind::Float).double_value(&[]),
            0.0
        );
        let bias: Vec<f32> = Vec::try_from(&collapsed.bias).unwrap();
        assert_eq!(bias, vec![4.25, 4.25]); // 8 * 0.5 * 1 + 0.25
    }
}

#[test]
fn gradients_flow_to_expanded_weights() {
    let owned = OwnedBlock::random(4, None, 16, 4, 3, true);
    let conv_w = owned.conv.0.set_requires_grad(true);
    let owned = OwnedBlock {
        conv: (conv_w, owned.conv.1.shallow_clone()),
        ..owned
    };
    let collapsed = collapse_closed_form(&owned.as_ref()).unwrap();
    collapsed.weight.sum(Kind::Float).backward();
    let grad = owned.conv.0.grad();
    assert!(grad.defined() && grad.abs().sum(Kind::Float).double_value(&[]) > 0.0);
}

#[test]
fn mismatched_shapes_are_rejected_with_a_message() {
    let opts = (Kind::Float, Device::Cpu);
    let even = OwnedBlock {
        pre: None,
        conv: (Tensor::zeros([8, 4, 4, 4], opts), Tensor::zeros([8], opts)),
        project: (Tensor::zeros([4, 8, 1, 1], opts), Tensor::zeros([4], opts)),
        residual: false,
    };
    let err = collapse_closed_form(&even.as_ref()).unwrap_err();
    assert!(
        matches!(err, CollapseError::Shape(ref m) if m.contains("odd")),
        "{err}"
    );

    let residual_mismatch = OwnedBlock::random(4, None, 8, 2, 3, true);
    let err = collapse_impulse(&residual_mismatch.as_ref()).unwrap_err();
    assert!(err.to_string().contains("C_in == C_out"), "{err}");

    let broken_chain = OwnedBlock {
        pre: None,
        conv: (Tensor::zeros([8, 4, 3, 3], opts), Tensor::zeros([8], opts)),
        project: (Tensor::zeros([4, 6, 1, 1], opts), Tensor::zeros([4], opts)),
        residual: false,
    };
    let err = collapse_closed_form(&broken_chain.as_ref()).unwrap_err();
    assert!(err.to_string().contains("1x1 projection"), "{err}");
}
