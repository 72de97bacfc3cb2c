//! Text in columns for people: rows of tab-separated cells laid out by tabwriter's elastic
//! tabstops, so a long step or service name widens its column instead of pushing its row out
//! of line.

use std::io::Write;

/// `rows`, lines of cells separated by tabs, with each column as wide as its widest cell (by
/// display width, colour escapes not counted) plus two spaces. Text after a line's last tab is
/// not a column and is left as it is; a line without a tab ends the columns above it.
pub fn aligned(rows: &str) -> String {
    let mut table = tabwriter::TabWriter::new(Vec::new()).padding(2).ansi(true);
    // Writing into memory cannot fail.
    let _ = table.write_all(rows.as_bytes());
    let bytes = table.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_is_as_wide_as_its_widest_cell_and_colour_does_not_count() {
        let rows = "  a\tsucceeded\t1.0s\n  \x1b[1mlonger-name\x1b[0m\tfailed\t2.0s\n";
        assert_eq!(aligned(rows), "  a            succeeded  1.0s\n  \x1b[1mlonger-name\x1b[0m  failed     2.0s\n");
    }
}
