//! core's files import each other without a cycle: ids, the actor contract and the
//! write history are leaves; each actor's events sit beside the actor and `event.rs`
//! gathers them, so no state machine depends on the narration's event type of another.

// This test reads core's source tree; core itself touches no files.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests may reach anywhere.
            let text = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .to_string();
            out.insert(name, text);
        }
    }
}

/// The file a `crate::a::b::c` path names: the longest prefix that is a file.
fn file_of(path: &[&str], files: &BTreeMap<String, String>) -> Option<String> {
    (1..=path.len()).rev().find_map(|n| {
        let stem = path[..n].join("/");
        [format!("{stem}.rs"), format!("{stem}/mod.rs")]
            .into_iter()
            .find(|f| files.contains_key(f))
    })
}

#[test]
fn core_has_no_import_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    sources(&root, &root, &mut files);
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in &files {
        let mut deps = BTreeSet::new();
        for (at, _) in text.match_indices("crate::") {
            let path: Vec<&str> = text[at + "crate::".len()..]
                .split(|c: char| !(c.is_ascii_lowercase() || c == '_' || c == ':'))
                .next()
                .unwrap_or_default()
                .split("::")
                .filter(|p| !p.is_empty())
                .collect();
            if let Some(dep) = file_of(&path, &files)
                && dep != *file
            {
                deps.insert(dep);
            }
        }
        imports.insert(file.clone(), deps);
    }
    // A cycle is a file that reaches itself.
    for start in imports.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        while let Some((file, path)) = stack.pop() {
            for dep in &imports[&file] {
                if dep == start {
                    panic!("core imports in a cycle: {} -> {start}", path.join(" -> "));
                }
                if seen.insert(dep.clone()) {
                    let mut longer = path.clone();
                    longer.push(dep.clone());
                    stack.push((dep.clone(), longer));
                }
            }
        }
    }
}
