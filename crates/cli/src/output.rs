//! How every command prints: an aligned table that fits the terminal for people, the
//! API's own data as JSON (`--json`) or one JSON object per line (`--jsonl`) for scripts,
//! notes on standard error, and a progress bar drawn only on a terminal.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::settings::GlobalArgs;

/// What the user asked to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned table.
    Table,
    /// Pretty-printed JSON: the API's data.
    Json,
    /// One JSON value per line.
    Jsonl,
}

/// The output of one command.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// The format asked for.
    pub format: Format,
}

impl Out {
    /// The format `global` asks for.
    pub fn new(global: &GlobalArgs) -> Out {
        let format = if global.json {
            Format::Json
        } else if global.jsonl {
            Format::Jsonl
        } else {
            Format::Table
        };
        Out { format }
    }

    /// Whether the output is for people.
    pub fn is_table(&self) -> bool {
        self.format == Format::Table
    }

    /// Prints a list: a JSON array, one line per item, or the table `table` builds.
    pub fn list<T: Serialize>(
        &self,
        items: &[T],
        table: impl FnOnce() -> Table,
    ) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        match self.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut stdout, items)?;
                writeln!(stdout)?;
            }
            Format::Jsonl => {
                for item in items {
                    serde_json::to_writer(&mut stdout, item)?;
                    writeln!(stdout)?;
                }
            }
            Format::Table => table().write(&mut stdout, terminal_width())?,
        }
        stdout.flush()?;
        Ok(())
    }

    /// Prints one item: a JSON object (one line with `--jsonl`), or the table `table`
    /// builds.
    pub fn one<T: Serialize>(&self, item: &T, table: impl FnOnce() -> Table) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        match self.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut stdout, item)?;
                writeln!(stdout)?;
            }
            Format::Jsonl => {
                serde_json::to_writer(&mut stdout, item)?;
                writeln!(stdout)?;
            }
            Format::Table => table().write(&mut stdout, terminal_width())?,
        }
        stdout.flush()?;
        Ok(())
    }

    /// Prints text meant for people (a diff, a rendered prompt) in table mode only.
    pub fn text(&self, text: &str) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            writeln!(stdout)?;
        }
        stdout.flush()?;
        Ok(())
    }

    /// A note for people, on standard error (never mixed into data).
    pub fn note(&self, text: &str) {
        eprintln!("{text}");
    }
}

/// The terminal's width when standard output is one (`COLUMNS` wins); `None` otherwise:
/// a table piped elsewhere is never cut.
pub fn terminal_width() -> Option<usize> {
    if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()) {
        return Some(columns).filter(|c: &usize| *c > 0);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    console::Term::stdout().size_checked().map(|(_, columns)| usize::from(columns))
}

/// An aligned table: a header row and rows of cells, or key-value pairs.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Option<Vec<String>>,
    rows: Vec<Vec<String>>,
}

/// The gap between columns.
const GAP: &str = "  ";
/// The narrowest a column is cut to.
const MIN_WIDTH: usize = 6;

impl Table {
    /// A table with these column names.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Table {
        Table { header: Some(header.into_iter().map(Into::into).collect()), rows: Vec::new() }
    }

    /// A two-column table of names and values, without a header.
    pub fn pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Table {
        Table {
            header: None,
            rows: pairs.into_iter().map(|(k, v)| vec![k.into(), v.into()]).collect(),
        }
    }

    /// Adds a row.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, cut to `width` characters a line when given.
    pub fn render(&self, width: Option<usize>) -> String {
        let columns = self.header.iter().chain(&self.rows).map(Vec::len).max().unwrap_or(0);
        let clean = |cell: &str| -> String {
            cell.chars()
                .map(|c| if c == '\n' || c == '\r' || c == '\t' { ' ' } else { c })
                .collect()
        };
        let lines: Vec<Vec<String>> = self
            .header
            .iter()
            .chain(&self.rows)
            .map(|row| (0..columns).map(|i| clean(row.get(i).map_or("", String::as_str))).collect())
            .collect();
        let mut widths = vec![0usize; columns];
        for line in &lines {
            for (i, cell) in line.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        if let Some(width) = width {
            let gaps = GAP.len() * columns.saturating_sub(1);
            // Cut the widest column, one character at a time, until the line fits.
            while widths.iter().sum::<usize>() + gaps > width {
                let (widest, &w) =
                    widths.iter().enumerate().max_by_key(|(_, w)| **w).expect("a column");
                if w <= MIN_WIDTH {
                    break;
                }
                widths[widest] = w - 1;
            }
        }
        let mut out = String::new();
        for line in &lines {
            let mut text = String::new();
            for (i, cell) in line.iter().enumerate() {
                let cut = cut(cell, widths[i]);
                text.push_str(&cut);
                if i + 1 < columns {
                    let pad = widths[i] - cut.chars().count();
                    text.extend(std::iter::repeat_n(' ', pad));
                    text.push_str(GAP);
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }

    /// Writes the table (or `(none)` when it has no rows and no header).
    pub fn write(&self, out: &mut impl Write, width: Option<usize>) -> std::io::Result<()> {
        if self.rows.is_empty() && self.header.is_some() {
            return out.write_all(b"(none)\n");
        }
        out.write_all(self.render(width).as_bytes())
    }
}

/// `text` cut to `width` characters, ending with `…` when cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A progress bar on standard error, drawn only when it is a terminal.
pub fn progress_bar(total: u64, what: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let style = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar.tick();
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_and_cut_to_the_width() {
        let mut table = Table::new(["ID", "NAME"]);
        table.row(["1", "short"]).row(["22", "a much longer name that will not fit"]);
        assert_eq!(
            table.render(None),
            "ID  NAME\n1   short\n22  a much longer name that will not fit\n"
        );
        let cut = table.render(Some(20));
        assert_eq!(cut, "ID  NAME\n1   short\n22  a much longer n…\n");
        assert!(cut.lines().all(|l| l.chars().count() <= 20));
    }

    #[test]
    fn line_breaks_in_cells_do_not_break_rows() {
        let table = Table::pairs([("template", "a\nb")]);
        assert_eq!(table.render(None), "template  a b\n");
    }
}
