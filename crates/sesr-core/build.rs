//! Links libtorch with an rpath for this crate's tests and benchmarks, and compiles the fused
//! channels-last PReLU (`csrc/prelu.cpp`) and the bridge to libtorch's thread pool
//! (`csrc/parallel.cpp`) against the libtorch headers torch-sys found.
//!
//! torch-sys links libtorch dynamically and publishes its folder as `DEP_TCH_LIBTORCH_LIB` to
//! crates that depend on it directly. `rustc-link-arg` reaches only this package's own
//! executables: a program that depends on sesr-core gets its rpath from the environment the
//! README describes.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
    println!("cargo:rerun-if-changed=csrc/prelu.cpp");
    println!("cargo:rerun-if-changed=csrc/parallel.cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let lib_dir = PathBuf::from(
        std::env::var("DEP_TCH_LIBTORCH_LIB")
            .expect("torch-sys publishes DEP_TCH_LIBTORCH_LIB (sesr-core depends on it directly)"),
    );
    let include = lib_dir
        .parent()
        .expect("libtorch's lib dir has a parent")
        .join("include");
    // PyPI's torch and libtorch since 2.x use the C++11 ABI; torch-sys defaults to it too.
    let cxx11_abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    // The CPU training step (`src/cpu_step`) exists on x86-64 Linux only.
    let cpu_step = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86_64")
        && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .file("csrc/prelu.cpp")
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={cxx11_abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        // libtorch's headers warn by the hundred under C++17; our own files are kept clean.
        .flag("-w")
        .opt_level(3);
    if cpu_step {
        // `at::parallel_for` is an OpenMP pragma in libtorch's headers.
        build.file("csrc/parallel.cpp").flag("-fopenmp");
    }
    build.compile("sesr_core_csrc");
    if cpu_step {
        link_openmp(&lib_dir);
    }
}

/// Links the OpenMP runtime libtorch ships and loads anyway (`libgomp.so.1` in PyPI's torch,
/// `libgomp-<hash>.so.1` in pytorch.org's libtorch), found at run time by the rpath. Linking
/// another copy would give `csrc/parallel.cpp` a thread pool of its own beside libtorch's.
fn link_openmp(lib_dir: &std::path::Path) {
    let bundled = std::fs::read_dir(lib_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("libgomp") && name.contains(".so"))
        .min();
    match bundled {
        Some(name) => {
            println!("cargo:rustc-link-search=native={}", lib_dir.display());
            println!("cargo:rustc-link-lib=dylib:+verbatim={name}");
        }
        None => println!("cargo:rustc-link-lib=gomp"),
    }
}
