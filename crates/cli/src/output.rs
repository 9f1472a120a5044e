//! Output formats, as az prints them: `json` (indented, the default),
//! `table` (a header, a dashed rule, two-space gaps), `tsv` (values only,
//! tab-separated, one row per line — for scripts) and `yaml` (block style,
//! keys sorted, as az's `-o yaml` and kubectl's `-o yaml` print).
//!
//! Every command returns the JSON az would print plus the columns its table
//! shows; `table` and `tsv` are projections of the same JSON.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Table,
    Tsv,
    Yaml,
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
            Format::Yaml => yaml(&self.value),
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

// -- YAML (#4: pull secrets; az's `-o yaml`) --

/// `value` as block-style YAML with sorted keys, the way kubectl (go-yaml)
/// and az (PyYAML) print documents: a sequence under a key is not
/// indented, strings are plain unless they would read as something else,
/// then double-quoted with JSON escapes (valid YAML).
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(o) if !o.is_empty() => yaml_map(&mut out, o, 0),
        Value::Array(a) if !a.is_empty() => yaml_seq(&mut out, a, 0),
        scalar => {
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
    out
}

fn yaml_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for (i, k) in keys.into_iter().enumerate() {
        // The first key of a map inside a sequence item follows its `- `.
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&yaml_string(k));
        out.push(':');
        match &map[k] {
            Value::Object(o) if !o.is_empty() => {
                out.push('\n');
                yaml_map(out, o, indent + 2);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                yaml_seq(out, a, indent);
            }
            v => {
                out.push(' ');
                out.push_str(&yaml_scalar(v));
                out.push('\n');
            }
        }
    }
}

fn yaml_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push_str("- ");
        match item {
            Value::Object(o) if !o.is_empty() => yaml_map(out, o, indent + 2),
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                yaml_seq(out, a, indent + 2);
            }
            v => {
                out.push_str(&yaml_scalar(v));
                out.push('\n');
            }
        }
    }
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// Plain when it reads back as the same string, else double-quoted.
fn yaml_string(s: &str) -> String {
    let reserved = [
        "", "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n",
    ];
    let looks_numeric = s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
        || s.starts_with(['.', '+', '-']) && s[1..].starts_with(|c: char| c.is_ascii_digit());
    let plain = !reserved.contains(&s.to_ascii_lowercase().as_str())
        && !looks_numeric
        && !s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c))
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.chars().any(|c| c.is_control() || c == '\u{feff}');
    if plain {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

// -- end of YAML --

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
    fn yaml_is_block_style_with_sorted_keys() {
        let v = json!({
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": {"name": "s1", "creationTimestamp": null},
            "data": {".dockerconfigjson": "eyJhdXRocyI6e30="},
            "type": "kubernetes.io/dockerconfigjson",
        });
        assert_eq!(
            yaml(&v),
            "apiVersion: v1\ndata:\n  .dockerconfigjson: eyJhdXRocyI6e30=\nkind: Secret\nmetadata:\n  \
             creationTimestamp: null\n  name: s1\ntype: kubernetes.io/dockerconfigjson\n"
        );
        let list =
            json!([{"b": [1, "x"], "a": {}}, "plain", "needs: quotes", "true", "12", "", [], null]);
        assert_eq!(
            Output::new(list, vec![]).render(Format::Yaml),
            "- a: {}\n  b:\n  - 1\n  - x\n- plain\n- \"needs: quotes\"\n- \"true\"\n- \"12\"\n- \"\"\n- []\n- null\n"
        );
        assert_eq!(yaml(&json!("-dash")), "\"-dash\"\n");
        assert_eq!(yaml(&json!("a\nb")), "\"a\\nb\"\n");
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
