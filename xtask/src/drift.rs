//! Comparing a generated file with what is on disk, and explaining the
//! first difference so a reviewer sees what changed without a diff tool.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// A file xtask generates: where it lives, how to make it, and the command
/// that rewrites it (named when the check fails).
pub struct Generated {
    pub path: fn() -> PathBuf,
    pub render: fn() -> Result<String>,
    pub command: &'static str,
}

impl Generated {
    pub fn generate(&self) -> Result<()> {
        write(&(self.path)(), &(self.render)()?)
    }

    /// Check `file`, or the checked-in file when `None`.
    pub fn check(&self, file: Option<PathBuf>) -> Result<()> {
        check(
            &file.unwrap_or_else(self.path),
            &(self.render)()?,
            self.command,
        )
    }
}

/// Write `content` to `path` unless it is already there.
pub fn write(path: &Path, content: &str) -> Result<()> {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current == content {
        println!("{} is up to date", path.display());
        return Ok(());
    }
    std::fs::write(path, content).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Fail when `path` differs from `expected`; `regenerate` names the command
/// that fixes it.
pub fn check(path: &Path, expected: &str, regenerate: &str) -> Result<()> {
    let actual = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}; run `{regenerate}`", path.display()))?;
    match first_difference(expected, &actual) {
        None => {
            println!("{} is up to date", path.display());
            Ok(())
        }
        Some(report) => bail!(
            "{} is out of date with its source; run `{regenerate}` and review the diff\n{report}",
            path.display()
        ),
    }
}

/// A few lines around the first line that differs, or `None` if equal.
pub fn first_difference(expected: &str, actual: &str) -> Option<String> {
    if expected == actual {
        return None;
    }
    let expected_lines: Vec<&str> = expected.lines().collect();
    let actual_lines: Vec<&str> = actual.lines().collect();
    let at = expected_lines
        .iter()
        .zip(&actual_lines)
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| expected_lines.len().min(actual_lines.len()));
    let show = |lines: &[&str]| -> String {
        let end = (at + 3).min(lines.len());
        let shown: Vec<String> = (at..end)
            .map(|i| format!("  {:>5} | {}", i + 1, lines[i]))
            .collect();
        if shown.is_empty() {
            "  (end of file)".to_string()
        } else {
            shown.join("\n")
        }
    };
    Some(format!(
        "first difference at line {}:\n generated:\n{}\n on disk:\n{}",
        at + 1,
        show(&expected_lines),
        show(&actual_lines)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_first_differing_line() {
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
        let report = first_difference("a\nb\nc\n", "a\nx\nc\n").unwrap_or_default();
        assert!(report.contains("line 2"), "{report}");
        let shorter = first_difference("a\nb\n", "a\n").unwrap_or_default();
        assert!(
            shorter.contains("line 2") && shorter.contains("(end of file)"),
            "{shorter}"
        );
    }
}
