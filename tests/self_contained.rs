//! The repository is self-contained: `docs/math.md` is its math reference, so no file outside
//! `docs/` may cite the external math notes it replaced, and no file may point at paths outside
//! the repository.
//!
//! The walk starts at the workspace root, skips `target/` and `.git/`, and reads every `.rs`,
//! `.md`, `.py`, `.toml` and `.sh` file and `.ci/run`. The patterns are assembled from pieces
//! so that this file does not match them itself.

use std::fs;
use std::path::{Path, PathBuf};

/// Extensions of the files that are read.
const EXTENSIONS: [&str; 5] = ["rs", "md", "py", "toml", "sh"];

/// Files read whatever their extension, relative to the root.
const EXTRA_FILES: [&str; 1] = [".ci/run"];

/// Directories that are never entered (at any depth).
const SKIPPED_DIRS: [&str; 2] = ["target", ".git"];

/// Files the walk must find, or it did not run over the repository.
const EXPECTED: [&str; 6] = [
    "Cargo.toml",
    "README.md",
    ".ci/run",
    "docs/math.md",
    "crates/dsm-core/src/lib.rs",
    "tests/self_contained.rs",
];

/// Every file under `dir` that the check reads.
fn collect(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        let path = entry.path();
        let kind = entry
            .file_type()
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        if kind.is_dir() {
            if !SKIPPED_DIRS.iter().any(|s| entry.file_name() == *s) {
                collect(&path, root, out);
            }
        } else if kind.is_file() {
            let relative = path
                .strip_prefix(root)
                .expect("the walk stays under the root");
            let by_extension = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e));
            let extra = EXTRA_FILES.iter().any(|f| relative == Path::new(f));
            if by_extension || extra {
                out.push(path);
            }
        }
    }
}

#[test]
fn no_file_refers_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The external math notes that docs/math.md replaced (cited outside docs/ only).
    let external_math = concat!("MATH", ".md");
    // Paths that leave the repository (checked everywhere).
    let outside = [concat!("..", "/shared"), concat!("/work", "/shared")];

    let mut files = Vec::new();
    collect(root, root, &mut files);
    files.sort();
    for expected in EXPECTED {
        assert!(
            files
                .iter()
                .any(|f| f.strip_prefix(root).is_ok_and(|r| r == Path::new(expected))),
            "the walk did not find {expected}"
        );
    }

    let mut problems = Vec::new();
    for path in &files {
        let relative = path
            .strip_prefix(root)
            .expect("the walk stays under the root");
        let in_docs = relative.starts_with("docs");
        let bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let text = String::from_utf8_lossy(&bytes);
        for (number, line) in text.lines().enumerate() {
            let mut found: Vec<&str> = outside
                .iter()
                .copied()
                .filter(|p| line.contains(p))
                .collect();
            if !in_docs && line.contains(external_math) {
                found.push(external_math);
            }
            for pattern in found {
                problems.push(format!("{}:{}: {pattern}", relative.display(), number + 1));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} reference(s) outside the repository (cite docs/math.md instead):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
