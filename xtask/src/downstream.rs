//! `cargo xtask downstream`: the README's library example, built and run as a user would.
//!
//! It copies the README's `Cargo.toml` and `src/main.rs` (the code blocks after the
//! `<!-- downstream: ... -->` markers) into a new crate outside this workspace, with the
//! README's environment (`LIBTORCH` and the rpath flag) and nothing else, then runs it on the
//! shipped photos and checks what it wrote. So the README cannot drift from what works.

use crate::setup;
use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};

/// The code block that follows `<!-- downstream: NAME -->` in the README.
fn readme_block(readme: &str, name: &str) -> Result<String> {
    let marker = format!("<!-- downstream: {name} -->");
    let after = readme
        .split_once(&marker)
        .with_context(|| format!("README.md has no `{marker}` marker"))?
        .1;
    let fence = after
        .find("```")
        .with_context(|| format!("no code block after `{marker}`"))?;
    let body = &after[fence..];
    let start = body.find('\n').context("an unterminated code block")? + 1;
    let end = body[start..]
        .find("\n```")
        .context("an unterminated code block")?;
    Ok(body[start..start + end + 1].to_string())
}

/// The README's manifest, pointing at this checkout; it must depend on sesr-core alone.
fn manifest(readme: &str, root: &Path) -> Result<String> {
    let manifest = readme_block(readme, "Cargo.toml")?;
    let dependencies: Vec<&str> = manifest
        .split("[dependencies]")
        .nth(1)
        .context("the README's Cargo.toml has no [dependencies]")?
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with('['))
        .filter(|line| !line.is_empty())
        .collect();
    ensure!(
        dependencies.len() == 1 && dependencies[0].starts_with("sesr-core "),
        "the README's Cargo.toml must depend on sesr-core alone, found {dependencies:?}"
    );
    Ok(manifest.replace("/path/to/sesr", &root.display().to_string()))
}

pub fn run() -> Result<()> {
    let libtorch = setup::run()?;
    let root = setup::repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).context("reading README.md")?;
    let crate_dir = std::env::temp_dir().join(format!("sesr-downstream-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&crate_dir);
    std::fs::create_dir_all(crate_dir.join("src"))?;
    std::fs::write(crate_dir.join("Cargo.toml"), manifest(&readme, &root)?)?;
    std::fs::write(
        crate_dir.join("src/main.rs"),
        readme_block(&readme, "src/main.rs")?,
    )?;
    let result = build_and_run(&crate_dir, &root, &libtorch);
    let _ = std::fs::remove_dir_all(&crate_dir);
    result
}

fn build_and_run(crate_dir: &Path, root: &Path, libtorch: &Path) -> Result<()> {
    println!(
        "xtask: building the README's library example in {}",
        crate_dir.display()
    );
    let photo = root.join("assets/images/valid/chelsea.png");
    let out = setup::cargo()
        .current_dir(crate_dir)
        // Exactly the README's environment: none of the workspace's cargo settings apply here.
        .env("LIBTORCH", libtorch)
        .env(
            "RUSTFLAGS",
            format!("-C link-arg=-Wl,-rpath,{}", libtorch.join("lib").display()),
        )
        .env_remove("LD_LIBRARY_PATH")
        // Kept between runs, so only the first build is slow.
        .env("CARGO_TARGET_DIR", root.join("target/downstream"))
        .args(["run", "--release", "--quiet", "--"])
        .arg(root.join("assets/images/train"))
        .arg(&photo)
        .output()
        .context("cannot start cargo")?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        bail!(
            "the README's library example failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let written = crate_dir.join("photo_y_x2.png");
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        stdout.contains("451x300 -> 902x600") && written.is_file(),
        "the README's library example did not upscale {} to {}",
        photo.display(),
        written.display()
    );
    let checkpoint: PathBuf = crate_dir.join("m5_x2.safetensors");
    ensure!(
        checkpoint.is_file() && checkpoint.with_extension("json").is_file(),
        "the README's library example wrote no checkpoint"
    );
    println!("xtask: the README's library example builds and runs with sesr-core alone");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_example_is_found_and_depends_on_sesr_core_alone() {
        let root = setup::repo_root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let written = manifest(&readme, &root).unwrap();
        assert!(written.contains(&format!("{}/crates/sesr-core", root.display())));
        let main = readme_block(&readme, "src/main.rs").unwrap();
        assert!(main.contains("fn main()") && !main.contains("```"));
        // A second dependency line is refused.
        let two = readme.replace(
            "[dependencies]\nsesr-core",
            "[dependencies]\ntch = \"0.26\"\nsesr-core",
        );
        let err = manifest(&two, &root).unwrap_err().to_string();
        assert!(err.contains("sesr-core alone"), "{err}");
    }
}
