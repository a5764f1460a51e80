//! The book in both languages: the English edition (book/src) and the Simplified Chinese
//! one (book/zh-CN/src) have the same chapters, each listed in its own SUMMARY.md.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn book(edition: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../book")
        .join(edition)
}

fn chapters(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .collect()
}

#[test]
fn every_chapter_exists_in_both_languages() {
    let en = chapters(&book("src"));
    let zh = chapters(&book("zh-CN/src"));
    let only_en: Vec<&String> = en.difference(&zh).collect();
    let only_zh: Vec<&String> = zh.difference(&en).collect();
    assert!(
        only_en.is_empty() && only_zh.is_empty(),
        "chapters in one language only: English only {only_en:?}, Chinese only {only_zh:?} \
         (book/src and book/zh-CN/src keep the same files)"
    );
    for edition in ["src", "zh-CN/src"] {
        let summary = std::fs::read_to_string(book(edition).join("SUMMARY.md")).unwrap();
        for chapter in en.iter().filter(|c| *c != "SUMMARY.md") {
            assert!(
                summary.contains(&format!("({chapter})")),
                "book/{edition}/SUMMARY.md does not list {chapter}"
            );
        }
    }
}

#[test]
fn the_chinese_edition_is_chinese_without_lookalike_characters() {
    let dir = book("zh-CN/src");
    for chapter in chapters(&dir) {
        let text = std::fs::read_to_string(dir.join(&chapter)).unwrap();
        let han = text
            .chars()
            .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
            .count();
        assert!(han > 20, "book/zh-CN/src/{chapter} is hardly Chinese");
        // glossary-zh.md rule 9: Kangxi radicals and compatibility ideographs look like
        // common characters but are not them.
        let lookalike = text.chars().find(|c| {
            ('\u{2e80}'..='\u{2fdf}').contains(c) || ('\u{f900}'..='\u{faff}').contains(c)
        });
        assert_eq!(lookalike, None, "book/zh-CN/src/{chapter}");
    }
}
