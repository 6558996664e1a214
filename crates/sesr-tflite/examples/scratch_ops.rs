use sesr_tflite::schema::*;
use sesr_tflite::write::*;
fn conv_model(h: i32, w: i32, cin: i32, cout: i32, k: i32) -> Vec<u8> {
    conv_model_t(h, w, cin, cout, k, true)
}
fn conv_model_t(h: i32, w: i32, cin: i32, cout: i32, k: i32, int8: bool) -> Vec<u8> {
    let mut mb = ModelBuilder::new("x");
    let mut g = SubgraphBuilder::new("g");
    let q = |s: f32, z: i64| Some(Quantization::per_tensor(s, z));
    if !int8 {
        let x = g
            .activation("x", &[1, h, w, cin], TensorType::FLOAT32, None)
            .unwrap();
        let n = (cout * k * k * cin) as usize;
        let wt = g
            .constant_f32(
                &mut mb,
                "w",
                &[cout, k, k, cin],
                &(0..n).map(|i| (i % 7) as f32 * 0.01).collect::<Vec<_>>(),
            )
            .unwrap();
        let b = g
            .constant_f32(&mut mb, "b", &[cout], &vec![0.0; cout as usize])
            .unwrap();
        let y = g
            .activation("y", &[1, h, w, cout], TensorType::FLOAT32, None)
            .unwrap();
        g.operator(
            &mut mb,
            BuiltinOp::CONV_2D,
            1,
            OperatorOptions::conv2d(Padding::Same, Activation::NONE),
            &[x, wt, b],
            &[y],
        )
        .unwrap();
        g.set_io(&[x], &[y]).unwrap();
        return mb.finish(&g).unwrap();
    }
    let x = g
        .activation("x", &[1, h, w, cin], TensorType::INT8, q(0.01, 0))
        .unwrap();
    let n = (cout * k * k * cin) as usize;
    let pc = |s: f32| {
        Some(Quantization {
            scale: vec![s; cout as usize],
            zero_point: vec![0; cout as usize],
            quantized_dimension: 0,
            ..Default::default()
        })
    };
    let wt = g
        .constant(
            &mut mb,
            "w",
            &[cout, k, k, cin],
            TensorType::INT8,
            (0..n).map(|i| ((i * 37) % 255) as u8).collect(),
            pc(0.01),
        )
        .unwrap();
    let b = g
        .constant(
            &mut mb,
            "b",
            &[cout],
            TensorType::INT32,
            vec![0; 4 * cout as usize],
            pc(0.0001),
        )
        .unwrap();
    let y = g
        .activation("y", &[1, h, w, cout], TensorType::INT8, q(0.05, 3))
        .unwrap();
    g.operator(
        &mut mb,
        BuiltinOp::CONV_2D,
        3,
        OperatorOptions::conv2d(Padding::Same, Activation::NONE),
        &[x, wt, b],
        &[y],
    )
    .unwrap();
    g.set_io(&[x], &[y]).unwrap();
    mb.finish(&g).unwrap()
}
fn main() {
    let d = std::path::Path::new("/tmp/scratch");
    std::fs::write(d.join("q3.tflite"), conv_model(1080, 1920, 16, 16, 3)).unwrap();
    std::fs::write(d.join("q5in.tflite"), conv_model(1080, 1920, 1, 16, 5)).unwrap();
    std::fs::write(d.join("q5out.tflite"), conv_model(1080, 1920, 16, 4, 5)).unwrap();
    std::fs::write(d.join("q3s2d.tflite"), conv_model(540, 960, 64, 16, 3)).unwrap();
    std::fs::write(d.join("q3in.tflite"), conv_model(540, 960, 4, 64, 3)).unwrap();
    std::fs::write(
        d.join("c3s2d.tflite"),
        conv_model_t(540, 960, 64, 16, 3, false),
    )
    .unwrap();
    std::fs::write(
        d.join("c3in.tflite"),
        conv_model_t(540, 960, 4, 64, 3, false),
    )
    .unwrap();
}
