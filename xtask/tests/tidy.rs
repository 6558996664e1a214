//! Structure checked instead of trusted (rust-analyzer's "tidy" tests): the CLI's subcommands
//! stay apart, each on-disk format is defined once, no source file grows past what a person
//! can hold in their head, no crate's modules import each other in a circle, and
//! docs/architecture.md and the README's layout list the crates cargo sees.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every `.rs` file under `dir`, recursively (build outputs and the fuzz workspace aside).
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() && name != "target" && name != "fuzz" {
            files.extend(rust_files(&path));
        } else if name.ends_with(".rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn no_cli_subcommand_imports_another() {
    let src = root().join("crates/sesr-cli/src");
    let shared = ["main", "model_args", "models", "distributed", "paths"];
    // A subcommand is a file in src/; its submodules (src/NAME/*.rs) belong to it.
    let subcommands: Vec<String> = rust_files(&src)
        .iter()
        .filter(|f| f.parent() == Some(src.as_path()))
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|name| !shared.contains(&name.as_str()))
        .collect();
    assert!(subcommands.len() >= 9, "{subcommands:?}");
    for name in &subcommands {
        let mut text = std::fs::read_to_string(src.join(format!("{name}.rs"))).unwrap();
        if src.join(name).is_dir() {
            for file in rust_files(&src.join(name)) {
                text += &std::fs::read_to_string(file).unwrap();
            }
        }
        for other in subcommands.iter().filter(|o| *o != name) {
            assert!(
                !text.contains(&format!("crate::{other}::"))
                    && !text.contains(&format!("crate::{other};")),
                "sesr-cli's `{name}` uses the `{other}` subcommand's module: move what they \
                 share into a library (or into model_args/models/distributed/paths)"
            );
        }
    }
}

#[test]
fn each_format_is_defined_once() {
    let definitions = [
        "const FORMAT_VERSION",
        "struct SesrConfig",
        "struct CheckpointMeta",
        "struct EpochMetrics",
        "struct EpochTimings",
        "enum QuantPoint",
        "enum TrainingMode",
        "struct QuantConfig",
        "fn write_atomic",
    ];
    let mut found: BTreeMap<&str, Vec<PathBuf>> = BTreeMap::new();
    for file in rust_files(&root().join("crates"))
        .into_iter()
        .chain(rust_files(&root().join("xtask/src")))
    {
        let text = std::fs::read_to_string(&file).unwrap();
        for definition in definitions {
            if text.contains(&format!("pub {definition}"))
                || text.contains(&format!("\n{definition}"))
            {
                found.entry(definition).or_default().push(file.clone());
            }
        }
    }
    for definition in definitions {
        let places = found.get(definition).cloned().unwrap_or_default();
        assert_eq!(places.len(), 1, "`{definition}` is defined in {places:?}");
        assert!(
            places[0].starts_with(root().join("crates/sesr-model")),
            "`{definition}` belongs in sesr-model, found in {}",
            places[0].display()
        );
    }
}

#[test]
fn no_source_file_is_too_long() {
    // The longest today: the hand-written SIMD kernels (~820 lines). Split a file that
    // grows past this by job, not by size.
    const MAX_LINES: usize = 900;
    for file in rust_files(&root().join("crates"))
        .into_iter()
        .chain(rust_files(&root().join("xtask")))
    {
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        assert!(
            lines <= MAX_LINES,
            "{} has {lines} lines (at most {MAX_LINES}): split it by job",
            file.display()
        );
    }
}

/// The workspace as cargo sees it (`cargo metadata`, without dependencies).
fn cargo_metadata() -> serde_json::Value {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_architecture_doc_lists_the_crate_graph() {
    let metadata = cargo_metadata();
    let packages = metadata["packages"].as_array().unwrap();
    let names: Vec<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    for package in packages {
        let name = package["name"].as_str().unwrap();
        let mut deps: Vec<&str> = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().unwrap())
            .filter(|d| names.contains(d))
            .collect();
        deps.sort();
        let listed = if deps.is_empty() {
            "-".to_string()
        } else {
            deps.join(", ")
        };
        let tch = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "tch" && d["kind"].is_null());
        let row = format!(
            "| `{name}` | {listed} | {} |",
            if tch { "yes" } else { "no" }
        );
        assert!(
            doc.contains(&row),
            "docs/architecture.md should have the row `{row}` (the crate graph changed)"
        );
        // The diagram names every crate too.
        assert!(
            doc.contains(name),
            "docs/architecture.md never names {name}"
        );
    }
}

#[test]
fn the_readme_layout_lists_every_crate() {
    let metadata = cargo_metadata();
    let workspace = Path::new(metadata["workspace_root"].as_str().unwrap());
    let crates: BTreeSet<String> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Path::new(p["manifest_path"].as_str().unwrap()))
        .filter_map(|manifest| manifest.parent()?.strip_prefix(workspace).ok())
        .filter(|dir| dir.starts_with("crates"))
        .map(|dir| dir.to_string_lossy().into_owned())
        .collect();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let layout = readme
        .split_once("\n## Layout\n")
        .expect("README.md has a `## Layout` section")
        .1;
    let layout = layout.split("\n## ").next().unwrap();
    let rows: BTreeSet<String> = layout
        .lines()
        .filter_map(|line| line.strip_prefix("| `crates/"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| format!("crates/{name}"))
        .collect();
    let missing: Vec<&String> = crates.difference(&rows).collect();
    let extra: Vec<&String> = rows.difference(&crates).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "README.md's Layout table should list the workspace's crates: add rows for {missing:?} \
         (one line each: what the crate is), remove the rows for {extra:?}"
    );
}

/// The module path of a source file under `src` (`lib.rs`, `main.rs` and `mod.rs` are their
/// folder's module): `model/training.rs` is `model::training`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("lib" | "main" | "mod")
    ) {
        parts.pop();
    }
    parts
}

/// The modules of the crate that a file's code (comments aside) names through `crate::` or
/// `super::` paths, other than its own ancestors and descendants.
fn module_imports(
    src: &Path,
    file: &Path,
    modules: &BTreeSet<Vec<String>>,
) -> BTreeSet<Vec<String>> {
    let own = module_of(src, file);
    let code: String = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    for (start, word) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        let path: Vec<String> = code[start + word.len()..]
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or("")
            .split("::")
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
        let mut full = match word {
            "crate::" => vec![],
            _ => own[..own.len().saturating_sub(1)].to_vec(),
        };
        full.extend(path);
        // The longest prefix that is a module of the crate.
        let target = (1..=full.len())
            .rev()
            .map(|n| full[..n].to_vec())
            .find(|m| modules.contains(m));
        if let Some(target) = target {
            let related = target.starts_with(&own) || own.starts_with(&target);
            if !related {
                found.insert(target);
            }
        }
    }
    found
}

/// A cycle in `graph` reachable from `start`, as the modules along it.
fn cycle_from(
    start: &Vec<String>,
    graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
) -> Option<Vec<String>> {
    fn walk(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        path: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            return Some(path[at..].iter().map(|m| m.join("::")).collect());
        }
        if !done.insert(node.clone()) {
            return None;
        }
        path.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = walk(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    walk(start, graph, &mut vec![], &mut BTreeSet::new())
}

/// No two modules of a crate import each other, directly or around a longer circle: each
/// crate's modules stack in layers a reader can take one at a time.
#[test]
fn no_crate_has_an_import_circle() {
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("src"))
        .filter(|src| src.is_dir())
        .collect();
    crates.push(root().join("xtask/src"));
    for src in crates {
        let files = rust_files(&src);
        let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
        let graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = files
            .iter()
            .map(|f| (module_of(&src, f), module_imports(&src, f, &modules)))
            .collect();
        for module in graph.keys() {
            if let Some(cycle) = cycle_from(module, &graph) {
                panic!(
                    "{}: the modules {} import each other in a circle; move what they share \
                     into a module both use",
                    src.display(),
                    cycle.join(" -> ")
                );
            }
        }
    }
}
