//! Bakes libtorch's folder into the rpath of this crate's tests and binaries, so they run
//! without LD_LIBRARY_PATH. torch-sys links libtorch dynamically and publishes its library
//! folder as `DEP_TCH_LIBTORCH_LIB` to crates that depend on it directly (hence the direct
//! torch-sys dependency); `rustc-link-arg` reaches only this package's own executables.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
}
