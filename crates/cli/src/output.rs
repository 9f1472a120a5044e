//! Output formats, as az prints them: `json` (indented, the default),
//! `table` (a header, a dashed rule, two-space gaps) and `tsv` (values only,
//! tab-separated, one row per line — for scripts).
//!
//! Every command returns the JSON az would print plus the columns its table
//! shows; `table` and `tsv` are projections of the same JSON.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Table,
    Tsv,
}

/// One table column: its header and how to read it from a row object.
pub struct Column {
    pub header: &'static str,
    pub source: Source,
}

pub enum Source {
    /// A `/`-separated JSON pointer without the leading slash.
    Pointer(&'static str),
    /// Derived from the row, as az derives "Resource Group" from `id`.
    Computed(fn(&Value) -> String),
}

pub const fn col(header: &'static str, pointer: &'static str) -> Column {
    Column {
        header,
        source: Source::Pointer(pointer),
    }
}

pub const fn computed(header: &'static str, f: fn(&Value) -> String) -> Column {
    Column {
        header,
        source: Source::Computed(f),
    }
}

/// What a command prints.
pub struct Output {
    pub value: Value,
    pub columns: Vec<Column>,
}

impl Output {
    pub fn new(value: Value, columns: Vec<Column>) -> Self {
        Self { value, columns }
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => {
                let mut s = serde_json::to_string_pretty(&self.value)
                    .unwrap_or_else(|_| self.value.to_string());
                s.push('\n');
                s
            }
            Format::Table => table(&self.columns, &self.rows()),
            Format::Tsv => {
                let mut s = String::new();
                for row in self.rows() {
                    let cells: Vec<String> =
                        self.columns.iter().map(|c| cell(row, &c.source)).collect();
                    s.push_str(&cells.join("\t"));
                    s.push('\n');
                }
                s
            }
        }
    }

    /// A list renders one row per element; an object renders one row.
    fn rows(&self) -> Vec<&Value> {
        match &self.value {
            Value::Array(items) => items.iter().collect(),
            Value::Null => vec![],
            v => vec![v],
        }
    }
}

fn cell(row: &Value, source: &Source) -> String {
    let pointer = match source {
        Source::Pointer(p) => p,
        Source::Computed(f) => return f(row),
    };
    let ptr = format!("/{pointer}");
    match row.pointer(&ptr) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => if *b { "True" } else { "False" }.to_owned(),
        Some(v) => v.to_string(),
    }
}

fn table(columns: &[Column], rows: &[&Value]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|c| cell(r, &c.source)).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.header.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |vals: Vec<String>| -> String {
        let padded: Vec<String> = vals
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}", w = *w))
            .collect();
        let mut s = padded.join("  ").trim_end().to_owned();
        s.push('\n');
        s
    };
    let mut out = line(columns.iter().map(|c| c.header.to_owned()).collect());
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for r in cells {
        out.push_str(&line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_and_tsv_project_the_json() {
        let out = Output::new(
            json!([{"name": "reg1", "properties": {"adminUserEnabled": true}},
                   {"name": "longername", "properties": {"adminUserEnabled": false}}]),
            vec![
                col("NAME", "name"),
                col("ADMIN ENABLED", "properties/adminUserEnabled"),
            ],
        );
        assert_eq!(
            out.render(Format::Table),
            "NAME        ADMIN ENABLED\n----------  -------------\nreg1        True\nlongername  False\n"
        );
        assert_eq!(out.render(Format::Tsv), "reg1\tTrue\nlongername\tFalse\n");
        assert!(
            out.render(Format::Json)
                .contains("\"adminUserEnabled\": true")
        );
    }

    #[test]
    fn array_index_pointers() {
        let out = Output::new(
            json!({"username": "r", "passwords": [{"name": "password", "value": "a"}, {"name": "password2", "value": "b"}]}),
            vec![
                col("USERNAME", "username"),
                col("PASSWORD", "passwords/0/value"),
                col("PASSWORD2", "passwords/1/value"),
            ],
        );
        assert_eq!(out.render(Format::Tsv), "r\ta\tb\n");
    }
}
