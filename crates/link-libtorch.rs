//! Shared build script of every crate whose binaries, tests or benchmarks link libtorch.
//!
//! torch-sys links libtorch dynamically but puts no rpath on the executables, so they would
//! need LD_LIBRARY_PATH at run time. torch-sys publishes its library folder as
//! `DEP_TCH_LIBTORCH_LIB` to crates that depend on it directly; we bake that folder into the
//! executables' rpath. `rustc-link-arg` reaches only this package's own executables, which is
//! why each such crate depends on torch-sys directly and names this file as its build script.

pub fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
}
