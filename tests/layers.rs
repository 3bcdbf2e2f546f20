//! The crate's layering, checked from its source: each top-level module imports only modules in
//! lower layers (so there is no cycle between them, and the CLI and the dashboard never import
//! each other), and within a module its files import each other without cycles. The layers are
//! the ones the layer table of docs/architecture.md describes; a new module must be placed here.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first. A module may import any module in a lower layer, none in its own or above.
const LAYERS: &[&[&str]] = &[
    &["types", "rng", "blocking", "scan", "kernels", "redact"],
    &["error", "images"],
    &["library", "events", "config", "save"],
    &["lock", "media", "catalog", "play", "playlist"],
    &["ml", "store"],
    &["train", "ingest", "export", "demo"],
    &["search"],
    &["pipeline", "synth"],
    &["shared"],
    &["backend"],
    &["cli", "tui"],
    &["launch"],
];

/// Names the crate root re-exports, and the module each comes from.
const ROOT_EXPORTS: &[(&str, &str)] = &[
    ("Error", "error"),
    ("Result", "error"),
    ("Config", "config"),
    ("Cancel", "events"),
    ("Event", "events"),
    ("EventSink", "events"),
    ("Library", "library"),
];

/// A source file's module path: `src/search/query.rs` is `["search", "query"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments, string literals and its test module.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut in_string = false;
        let mut prev = ' ';
        for c in line.chars() {
            if c == '"' && prev != '\\' {
                in_string = !in_string;
            } else if !in_string {
                out.push(c);
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
        }
        out.push('\n');
    }
    out
}

/// Every module path a file names: `crate::a::b`, `super::x` and the names inside
/// `use crate::{…}` groups, resolved to absolute paths (first two segments at most).
fn imports(module: &[String], code: &str) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut push = |mut path: Vec<String>| {
        path.retain(|p| !p.is_empty());
        if let Some(first) = path.first() {
            if let Some((_, m)) = ROOT_EXPORTS.iter().find(|(n, _)| n == first) {
                path = vec![m.to_string()];
            } else if first.chars().next().is_some_and(|c| c.is_uppercase()) || first == "init_process" {
                return;
            }
        }
        path.truncate(2);
        if !path.is_empty() {
            found.insert(path);
        }
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find("};").or_else(|| group.find('}')).unwrap_or(group.len());
            for item in group[..end].split(',') {
                let segs: Vec<String> = item.trim().split("::").map(ident).collect();
                push(segs);
            }
        } else {
            let segs: Vec<String> = rest.split("::").take(2).map(ident).collect();
            push(segs);
        }
    }
    // The parent of a file's module: `super::` inside `src/a/b.rs` names `a`.
    let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
    for (i, _) in code.match_indices("super::") {
        let rest = &code[i + "super::".len()..];
        if rest.starts_with('{') {
            continue;
        }
        let mut path = parent.clone();
        path.push(ident(rest));
        push(path);
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// (file's module, imported module path) for every file under `src/` but the crate root.
fn edges() -> Vec<(Vec<String>, Vec<String>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges = Vec::new();
    for file in files {
        let module = module_of(&src, &file);
        if module.is_empty() || module == ["lib"] || module == ["main"] {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for target in imports(&module, &code(&text)) {
            edges.push((module.clone(), target));
        }
    }
    edges
}

fn layer_of(module: &str) -> usize {
    LAYERS.iter().position(|l| l.contains(&module)).unwrap_or_else(|| {
        panic!("module `{module}` is in no layer: place it in LAYERS (tests/layers.rs) and docs/architecture.md")
    })
}

#[test]
fn every_module_imports_only_lower_layers() {
    let mut wrong = BTreeSet::new();
    for (from, to) in edges() {
        let (a, b) = (&from[0], &to[0]);
        if a != b && layer_of(b) >= layer_of(a) {
            wrong.insert(format!("{} imports {}", from.join("::"), to.join("::")));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports into the same or a higher layer:\n{}",
        wrong.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_files_of_each_module_import_each_other_without_cycles() {
    // Sibling edges: within `search`, `query` → `library`. Imports of the parent itself
    // (`mod.rs`, which declares its children) are not edges between siblings.
    let mut graph: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    for (from, to) in edges() {
        let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
        if common == 0 || common >= from.len() || common >= to.len() {
            continue;
        }
        graph.entry(from[..common].to_vec()).or_default().insert((from[common].clone(), to[common].clone()));
    }
    let mut cycles = Vec::new();
    for (parent, edges) in &graph {
        let nodes: BTreeSet<&String> = edges.iter().flat_map(|(a, b)| [a, b]).collect();
        for start in &nodes {
            // Depth-first from `start`; reaching it again is a cycle.
            let mut stack: Vec<(&String, Vec<&String>)> = vec![(start, vec![start])];
            let mut seen = BTreeSet::new();
            while let Some((node, path)) = stack.pop() {
                for (_, next) in edges.iter().filter(|(a, _)| a == node) {
                    if next == *start {
                        let names: Vec<&str> = path.iter().map(|s| s.as_str()).collect();
                        cycles.push(format!("{}: {} → {}", parent.join("::"), names.join(" → "), start));
                    } else if seen.insert(next) {
                        let mut p = path.clone();
                        p.push(next);
                        stack.push((next, p));
                    }
                }
            }
        }
    }
    cycles.sort();
    cycles.dedup();
    assert!(cycles.is_empty(), "import cycles between the files of a module:\n{}", cycles.join("\n"));
}

#[test]
fn the_checker_sees_imports() {
    // The checks above pass vacuously if parsing finds nothing: make sure it finds known edges.
    let all = edges();
    let has = |from: &[&str], to: &[&str]| all.iter().any(|(f, t)| f == from && t == to);
    assert!(has(&["launch"], &["tui"]) && has(&["launch"], &["cli"]), "launch drives both frontends");
    assert!(has(&["search", "query"], &["search", "library"]));
    assert!(has(&["catalog", "videos"], &["types", "Probe"]) || has(&["catalog", "videos"], &["types"]));
    let m = vec!["a".to_string(), "b".to_string()];
    let found = imports(&m, &code("use crate::{x::Y, z};\nuse super::c::D;\n// crate::commented\n\"crate::quoted\""));
    let found: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(found, ["a::c", "x::Y", "z"]);
}
