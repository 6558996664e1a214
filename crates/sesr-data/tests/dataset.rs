//! Data-set discovery, pairing and validation on small fixtures cut from the shipped photos.

mod common;

use std::path::{Path, PathBuf};

use anyhow::Result;
use sesr_data::dataset::{load_pairs, LoadOptions, Source, Split};
use sesr_data::io::{load_image_u8, save_png};
use sesr_data::protocol::make_lr_u8;
use sesr_data::DataError;

fn opts(min: usize) -> LoadOptions {
    LoadOptions {
        skip_bad: false,
        min_hr_size: min,
        threads: None,
    }
}

fn skipping(min: usize) -> LoadOptions {
    LoadOptions {
        skip_bad: true,
        ..opts(min)
    }
}

/// Writes the LR image of `hr` (MATLAB bicubic on 8-bit RGB, as DIV2K's LR files are made).
fn write_lr(hr: &Path, lr: &Path, scale: usize) -> Result<()> {
    let img = load_image_u8(hr)?.modcrop(scale);
    save_png(lr, &make_lr_u8(&img, scale).to_f32())?;
    Ok(())
}

/// The DIV2K layout under `root` for `split`, HR crops numbered from `first`, LR for `scales`.
fn div2k_fixture(root: &Path, split: Split, first: u32, scales: &[usize]) -> Result<Vec<String>> {
    let hr_dir = root.join(split.hr_dir_name());
    std::fs::create_dir_all(&hr_dir)?;
    let crops = [
        ("astronaut.png", 150, 40, 210, 163),
        ("camera.png", 120, 60, 171, 150),
        ("coffee.png", 200, 100, 202, 141),
    ];
    let mut names = Vec::new();
    for (i, (src, x, y, w, h)) in crops.into_iter().enumerate() {
        let name = format!("{:04}", first + i as u32);
        let hr = hr_dir.join(format!("{name}.png"));
        common::write_crop(&common::train_image(src), &hr, x, y, w, h)?;
        for &s in scales {
            let lr_dir = root.join(split.lr_dir_name(s));
            std::fs::create_dir_all(&lr_dir)?;
            write_lr(&hr, &lr_dir.join(format!("{name}x{s}.png")), s)?;
        }
        names.push(name);
    }
    Ok(names)
}

fn err_text(r: sesr_data::Result<sesr_data::LoadReport>) -> String {
    match r {
        Ok(rep) => panic!("expected an error, got {} pairs", rep.pairs.len()),
        Err(e) => {
            eprintln!("error: {e}");
            e.to_string()
        }
    }
}

#[test]
fn hr_folder_makes_lr_like_the_literature() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let hr = dir.path().join("hr");
    common::hr_fixture(&hr)?;
    let src = Source::detect(&hr, Split::Train)?;
    assert_eq!(src, Source::HrFolder(hr.clone()));
    let rep = load_pairs(&src, 2, &opts(128))?;
    assert!(rep.warnings.is_empty());
    let names: Vec<_> = rep.pairs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["astronaut", "camera", "coffee", "rocket"]);
    for p in &rep.pairs {
        assert_eq!(p.hr.width, 2 * p.lr.width);
        assert_eq!(p.hr.height, 2 * p.lr.height);
    }
    // 210x163 is cropped to 210x162 (a multiple of 2), LR 105x81.
    assert_eq!(rep.pairs[0].hr.size(), (210, 162));
    assert_eq!(rep.pairs[0].lr.size(), (105, 81));
    // LR = Y of the 8-bit bicubic LR RGB image; HR = Y of the cropped HR.
    for (p, file) in rep.pairs.iter().zip(["astronaut.png", "camera.png"]) {
        let img = load_image_u8(hr.join(file))?.modcrop(2);
        assert_eq!(p.hr, img.to_y8());
        assert_eq!(p.lr, make_lr_u8(&img, 2).to_y8());
    }
    // x4 crops to multiples of 4.
    let rep4 = load_pairs(&src, 4, &opts(100))?;
    assert_eq!(rep4.pairs[0].hr.size(), (208, 160));
    assert_eq!(rep4.pairs[0].lr.size(), (52, 40));
    // A one-thread pool decodes the same data.
    let one = load_pairs(
        &src,
        2,
        &LoadOptions {
            threads: Some(1),
            ..opts(128)
        },
    )?;
    assert_eq!(one.pairs, rep.pairs);
    Ok(())
}

#[test]
fn div2k_layout_is_detected_and_paired_by_number() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("DIV2K");
    let names = div2k_fixture(&root, Split::Train, 1, &[2, 4])?;
    assert_eq!(names, ["0001", "0002", "0003"]);
    let src = Source::detect(&root, Split::Train)?;
    assert_eq!(
        src,
        Source::Div2k {
            root: root.clone(),
            split: Split::Train
        }
    );
    // Passing the HR folder itself also finds the layout.
    assert_eq!(
        Source::detect(root.join("DIV2K_train_HR"), Split::Train)?,
        src
    );
    let rep = load_pairs(&src, 2, &opts(128))?;
    let got: Vec<_> = rep.pairs.iter().map(|p| p.name.clone()).collect();
    assert_eq!(got, names);
    // The official-layout LR files were made the literature's way, so the pairs equal what the
    // HR-folder source computes from the same HR images.
    let from_hr = load_pairs(
        &Source::HrFolder(root.join("DIV2K_train_HR")),
        2,
        &opts(128),
    )?;
    assert_eq!(rep.pairs, from_hr.pairs);
    let rep4 = load_pairs(&src, 4, &opts(100))?;
    assert_eq!(rep4.pairs[2].lr.size(), (202 / 4, 141 / 4));
    // The valid split lives beside it.
    let vnames = div2k_fixture(&root, Split::Valid, 801, &[2])?;
    let vsrc = Source::detect(&root, Split::Valid)?;
    let vrep = load_pairs(&vsrc, 2, &opts(128))?;
    assert_eq!(vrep.pairs[0].name, vnames[0]);
    assert_eq!(vrep.pairs[0].name, "0801");
    Ok(())
}

#[test]
fn div2k_missing_lr_file_names_it_and_can_be_skipped() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    div2k_fixture(root, Split::Train, 1, &[2])?;
    std::fs::remove_file(root.join("DIV2K_train_LR_bicubic/X2/0002x2.png"))?;
    let src = Source::detect(root, Split::Train)?;
    let msg = err_text(load_pairs(&src, 2, &opts(128)));
    assert!(
        msg.contains("0002.png") && msg.contains("0002x2.png"),
        "{msg}"
    );
    let rep = load_pairs(&src, 2, &skipping(128))?;
    assert_eq!(rep.pairs.len(), 2);
    assert_eq!(rep.warnings.len(), 1);
    assert!(rep.warnings[0].contains("0002.png"), "{:?}", rep.warnings);
    Ok(())
}

#[test]
fn div2k_lr_without_hr_names_the_lr_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    div2k_fixture(root, Split::Train, 1, &[2])?;
    std::fs::remove_file(root.join("DIV2K_train_HR/0003.png"))?;
    let src = Source::detect(root, Split::Train)?;
    let msg = err_text(load_pairs(&src, 2, &opts(128)));
    assert!(msg.contains("0003x2.png"), "{msg}");
    Ok(())
}

#[test]
fn div2k_without_the_scale_folder_says_what_to_do() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    div2k_fixture(root, Split::Train, 1, &[2])?;
    let src = Source::detect(root, Split::Train)?;
    let msg = err_text(load_pairs(&src, 4, &opts(100)));
    assert!(
        msg.contains("X4") && msg.contains("DIV2K_train_HR"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn div2k_lr_of_the_wrong_size_is_a_mismatch() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    div2k_fixture(root, Split::Train, 1, &[2])?;
    // Replace 0001x2 by an LR image of another size.
    let lr = root.join("DIV2K_train_LR_bicubic/X2/0001x2.png");
    common::write_crop(&common::train_image("astronaut.png"), &lr, 0, 0, 100, 81)?;
    let msg = err_text(load_pairs(
        &Source::detect(root, Split::Train)?,
        2,
        &opts(128),
    ));
    assert!(
        msg.contains("0001.png") && msg.contains("0001x2.png"),
        "{msg}"
    );
    assert!(msg.contains("100x81") && msg.contains("105x81"), "{msg}");
    Ok(())
}

fn paired_fixture(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let hr = dir.join("hr");
    let lr = dir.join("lr");
    std::fs::create_dir_all(&hr)?;
    std::fs::create_dir_all(&lr)?;
    common::write_crop(
        &common::train_image("brick.png"),
        &hr.join("a.png"),
        0,
        0,
        160,
        140,
    )?;
    common::write_crop(
        &common::train_image("coffee.png"),
        &hr.join("b.png"),
        0,
        0,
        131,
        150,
    )?;
    write_lr(&hr.join("a.png"), &lr.join("ax2.png"), 2)?;
    write_lr(&hr.join("b.png"), &lr.join("b.png"), 2)?;
    Ok((hr, lr))
}

#[test]
fn paired_folders_match_by_stem_with_or_without_suffix() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (hr, lr) = paired_fixture(dir.path())?;
    let rep = load_pairs(&Source::Paired { hr, lr }, 2, &opts(128))?;
    assert_eq!(rep.pairs.len(), 2);
    assert_eq!(rep.pairs[1].name, "b");
    assert_eq!(rep.pairs[1].hr.size(), (130, 150));
    assert_eq!(rep.pairs[1].lr.size(), (65, 75));
    Ok(())
}

#[test]
fn paired_size_mismatch_names_both_files() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (hr, lr) = paired_fixture(dir.path())?;
    common::write_crop(
        &common::train_image("coffee.png"),
        &hr.join("c.png"),
        0,
        0,
        180,
        180,
    )?;
    // An LR image made for x4 where x2 is expected.
    write_lr(&hr.join("c.png"), &lr.join("cx2.png"), 4)?;
    let src = Source::Paired { hr, lr };
    let msg = err_text(load_pairs(&src, 2, &opts(128)));
    assert!(msg.contains("c.png") && msg.contains("cx2.png"), "{msg}");
    let rep = load_pairs(&src, 2, &skipping(128))?;
    assert_eq!(rep.pairs.len(), 2);
    assert!(rep.warnings[0].contains("cx2.png"));
    Ok(())
}

/// Writes one kind of bad file into `dir` and returns its name.
fn write_bad(dir: &Path, kind: &str) -> Result<String> {
    let good = std::fs::read(common::valid_image("coins.png"))?;
    let name = match kind {
        "text" => {
            std::fs::write(dir.join("notes.png"), "not an image\n")?;
            "notes.png"
        }
        "truncated" => {
            std::fs::write(dir.join("cut.png"), &good[..good.len() / 3])?;
            "cut.png"
        }
        "corrupt" => {
            let mut bytes = good.clone();
            for b in bytes.iter_mut().skip(64).take(5000) {
                *b ^= 0x5a;
            }
            std::fs::write(dir.join("garbled.png"), &bytes)?;
            "garbled.png"
        }
        "small" => {
            let p = dir.join("tiny.jpg");
            common::write_crop(&common::train_image("grass.png"), &p, 0, 0, 100, 100)?;
            "tiny.jpg"
        }
        other => anyhow::bail!("unknown bad kind {other}"),
    };
    Ok(name.to_string())
}

#[test]
fn every_bad_file_is_an_error_naming_it() -> Result<()> {
    for kind in ["text", "truncated", "corrupt", "small"] {
        let dir = tempfile::tempdir()?;
        let hr = dir.path().join("hr");
        common::hr_fixture(&hr)?;
        let name = write_bad(&hr, kind)?;
        let msg = err_text(load_pairs(&Source::HrFolder(hr.clone()), 2, &opts(128)));
        assert!(msg.contains(&name), "{kind}: {msg}");
        if kind == "small" {
            assert!(msg.contains("100x100") && msg.contains("128"), "{msg}");
        }
    }
    Ok(())
}

#[test]
fn skip_bad_skips_each_bad_file_with_a_warning() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let hr = dir.path().join("hr");
    common::hr_fixture(&hr)?;
    let mut bad = Vec::new();
    for kind in ["text", "truncated", "corrupt", "small"] {
        bad.push(write_bad(&hr, kind)?);
    }
    let rep = load_pairs(&Source::HrFolder(hr), 2, &skipping(128))?;
    assert_eq!(rep.pairs.len(), 4);
    assert_eq!(rep.warnings.len(), 4);
    for name in &bad {
        assert!(
            rep.warnings.iter().any(|w| w.contains(name.as_str())),
            "{name} not in {:?}",
            rep.warnings
        );
    }
    Ok(())
}

#[test]
fn minimum_size_is_configurable() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let hr = dir.path().join("hr");
    std::fs::create_dir_all(&hr)?;
    write_bad(&hr, "small")?;
    let rep = load_pairs(&Source::HrFolder(hr.clone()), 2, &opts(64))?;
    assert_eq!(rep.pairs[0].lr.size(), (50, 50));
    let msg = err_text(load_pairs(
        &Source::HrFolder(hr),
        4,
        &LoadOptions::for_scale(4),
    ));
    assert!(msg.contains("tiny.jpg") && msg.contains("200"), "{msg}");
    Ok(())
}

#[test]
fn empty_and_missing_folders_are_named() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let empty = dir.path().join("empty_set");
    std::fs::create_dir_all(&empty)?;
    let msg = err_text(load_pairs(&Source::HrFolder(empty.clone()), 2, &opts(128)));
    assert!(
        msg.contains("empty_set") && msg.contains("no images"),
        "{msg}"
    );
    // Non-image files do not count.
    std::fs::write(empty.join("README.txt"), "hello")?;
    let msg = err_text(load_pairs(&Source::HrFolder(empty), 2, &opts(128)));
    assert!(msg.contains("empty_set"), "{msg}");
    let missing = dir.path().join("no_such_folder");
    let err = Source::detect(&missing, Split::Train).unwrap_err();
    assert!(err.to_string().contains("no_such_folder"), "{err}");
    let msg = err_text(load_pairs(&Source::HrFolder(missing), 2, &opts(128)));
    assert!(msg.contains("no_such_folder"), "{msg}");
    Ok(())
}

#[test]
fn only_x2_and_x4_are_accepted() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let hr = dir.path().join("my_images");
    common::hr_fixture(&hr)?;
    for scale in [0, 1, 3, 8] {
        let r = load_pairs(&Source::HrFolder(hr.clone()), scale, &opts(16));
        assert!(matches!(r, Err(DataError::UnsupportedScale { .. })));
        let msg = err_text(r);
        assert!(
            msg.contains("my_images") && msg.contains(&format!("x{scale}")),
            "{msg}"
        );
    }
    Ok(())
}

#[test]
fn nothing_left_after_skipping_is_an_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let hr = dir.path().join("all_bad");
    std::fs::create_dir_all(&hr)?;
    write_bad(&hr, "text")?;
    write_bad(&hr, "truncated")?;
    let msg = err_text(load_pairs(&Source::HrFolder(hr), 2, &skipping(128)));
    assert!(msg.contains("all_bad") && msg.contains('2'), "{msg}");
    Ok(())
}

#[test]
fn div2k_root_without_the_split_names_the_missing_folder() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    div2k_fixture(root, Split::Valid, 801, &[2])?;
    let src = Source::detect(root, Split::Train)?;
    assert!(matches!(src, Source::Div2k { .. }));
    let msg = err_text(load_pairs(&src, 2, &opts(128)));
    assert!(msg.contains("DIV2K_train"), "{msg}");
    Ok(())
}

#[test]
fn hidden_files_are_ignored() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let hr = dir.path().join("hr");
    common::hr_fixture(&hr)?;
    // macOS resource forks look like images by name but are not.
    std::fs::write(hr.join("._astronaut.png"), b"\0\x05\x16\x07 resource fork")?;
    let rep = load_pairs(&Source::HrFolder(hr), 2, &opts(128))?;
    assert_eq!(rep.pairs.len(), 4);
    Ok(())
}

#[test]
fn configs_serialize_for_run_directories() -> Result<()> {
    let src = Source::Div2k {
        root: PathBuf::from("/data/DIV2K"),
        split: Split::Train,
    };
    let json = serde_json::to_string(&src)?;
    assert!(json.contains("div2k") && json.contains("train"), "{json}");
    assert_eq!(serde_json::from_str::<Source>(&json)?, src);
    let o = LoadOptions::for_scale(4);
    assert_eq!(
        serde_json::from_str::<LoadOptions>(&serde_json::to_string(&o)?)?,
        o
    );
    let c = sesr_data::SamplerConfig::for_scale(2, 17);
    assert_eq!(
        serde_json::from_str::<sesr_data::SamplerConfig>(&serde_json::to_string(&c)?)?,
        c
    );
    Ok(())
}
