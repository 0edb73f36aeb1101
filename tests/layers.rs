//! The architecture's boundaries, checked from the sources (ARCHITECTURE.md): each crate
//! depends only on the crates below it, the crates without libtorch never name it, and within a
//! crate no two top-level modules import each other (directly or round a circle).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Crates lowest first, with the invlab crates each may depend on.
const LAYERS: [(&str, &str, &[&str]); 7] = [
    ("invlab-formats", "crates/invlab-formats", &[]),
    ("invlab-core", "crates/invlab-core", &["invlab-formats"]),
    (
        "invlab-engine",
        "crates/invlab-engine",
        &["invlab-formats", "invlab-core"],
    ),
    ("invlab-report", "crates/invlab-report", &["invlab-core"]),
    (
        "invlab-tui",
        "crates/invlab-tui",
        &["invlab-core", "invlab-engine", "invlab-report"],
    ),
    (
        "invlab",
        ".",
        &[
            "invlab-formats",
            "invlab-core",
            "invlab-engine",
            "invlab-report",
            "invlab-tui",
        ],
    ),
    // Benchmark and developer tools: above the front ends, never a dependency of them.
    (
        "invlab-tools",
        "tools",
        &["invlab-core", "invlab-engine", "invlab-tui"],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate's `[dependencies]` (not dev-dependencies) that are invlab crates.
fn invlab_dependencies(manifest: &str) -> BTreeSet<String> {
    let mut in_deps = false;
    let mut deps = BTreeSet::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && line.starts_with("invlab-") {
            let name: String = line
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '-')
                .collect();
            deps.insert(name);
        }
    }
    deps
}

#[test]
fn each_crate_depends_only_on_the_crates_below_it() {
    for (name, dir, allowed) in LAYERS {
        let manifest = std::fs::read_to_string(Path::new(ROOT).join(dir).join("Cargo.toml"))
            .expect("manifest");
        let deps = invlab_dependencies(&manifest);
        let allowed: BTreeSet<String> = allowed.iter().map(|s| s.to_string()).collect();
        let extra: Vec<_> = deps.difference(&allowed).collect();
        assert!(
            extra.is_empty(),
            "{name} depends on {extra:?}, above or beside it"
        );
    }
}

/// True when `text` names the crate `word` in code (a path or a `use`), comments aside.
fn names_crate(text: &str, word: &str) -> bool {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .any(|code| {
            code.match_indices(word).any(|(i, _)| {
                let before = code[..i].chars().last();
                let after = &code[i + word.len()..];
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after.starts_with("::")
            })
        })
}

#[test]
fn crates_without_libtorch_never_name_it() {
    for dir in [
        "crates/invlab-formats",
        "crates/invlab-core",
        "crates/invlab-report",
        "crates/invlab-tui",
        "src",
    ] {
        let mut files = Vec::new();
        rust_files(&Path::new(ROOT).join(dir), &mut files);
        assert!(!files.is_empty(), "{dir}: no sources found");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source");
            for forbidden in ["tch", "torch_sys"] {
                assert!(
                    !names_crate(&text, forbidden),
                    "{} names {forbidden}: libtorch belongs to invlab-engine",
                    file.display()
                );
            }
        }
    }
}

/// Each top-level module of a crate, and the crate's top-level modules its files import.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let first = rel.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        // Tests may reach across modules (fixtures); the layering is about the code they test.
        if module == "lib" || module == "main" || file.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source");
        let text = match text.find("#[cfg(test)]\nmod tests") {
            Some(i) => &text[..i],
            None => &text[..],
        };
        let targets = graph.entry(module.clone()).or_default();
        for code in text.lines().map(|l| l.split("//").next().unwrap_or("")) {
            for (i, _) in code.match_indices("crate::") {
                if i > 0 && code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let target: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !target.is_empty() && target != module {
                    targets.insert(target);
                }
            }
        }
    }
    graph
}

/// A circle of imports in `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_round_a_circle() {
    for (name, dir, _) in LAYERS {
        let graph = module_graph(&Path::new(ROOT).join(dir).join("src"));
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{name}: modules import round a circle: {}",
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_cycle_finder_finds_a_circle_and_the_import_scan_sees_paths() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&graph), None);
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert!(names_crate("use tch::Tensor;", "tch"));
    assert!(names_crate("let t = tch::Tensor::zeros();", "tch"));
    assert!(!names_crate("// tch::Tensor in a comment", "tch"));
    assert!(!names_crate("let batch::x = 1; fetch::y", "tch"));
}
