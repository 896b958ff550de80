//! The reference CSV files (the catalog, the store directory) share one
//! shape: a required header naming the columns in order, one record a
//! line, RFC 4180 quoting, blank lines skipped. This reads that shape and
//! says on which line it is broken; what a record means is each file's own.

/// A file that does not have the expected shape. Lines are 1-based and
/// count blank lines, as an editor does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ShapeError {
    /// The first non-blank line is not the header (empty: the file is).
    Header(String),
    Fields {
        line: usize,
        found: usize,
    },
    Quote {
        line: usize,
    },
}

/// The records of `text` after its header, which must be `header`, each
/// with its line number; a broken record ends the iteration with its error.
pub(crate) fn records<'t, const N: usize>(
    text: &'t str,
    header: [&str; N],
) -> Result<impl Iterator<Item = Result<(usize, [String; N]), ShapeError>> + 't, ShapeError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, first)) => {
            let fields = split_record(first.trim_end_matches('\r')).unwrap_or_default();
            if fields.iter().map(|f| f.trim()).ne(header) {
                return Err(ShapeError::Header(first.to_string()));
            }
        }
        None => return Err(ShapeError::Header(String::new())),
    }
    Ok(lines.map(|(index, line)| {
        let line_no = index + 1;
        let fields =
            split_record(line.trim_end_matches('\r')).ok_or(ShapeError::Quote { line: line_no })?;
        let record: [String; N] =
            fields
                .try_into()
                .map_err(|f: Vec<String>| ShapeError::Fields {
                    line: line_no,
                    found: f.len(),
                })?;
        Ok((line_no, record))
    }))
}

/// Splits one CSV record; `None` for an unterminated quote.
fn split_record(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (_, c) => field.push(c),
        }
    }
    if quoted {
        return None;
    }
    fields.push(field);
    Some(fields)
}
