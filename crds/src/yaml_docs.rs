//! Splitting a YAML stream into documents and reading one document into a
//! typed resource, with errors located by document, line and field.

use std::fmt;

use serde::de::DeserializeOwned;

/// One bad document: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentError {
    /// 1-based number of the document in the stream (empty documents are not counted).
    pub document: usize,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// The document's `kind`, when readable.
    pub kind: Option<String>,
    /// The document's `metadata.name`, when readable.
    pub name: Option<String>,
    /// Path of the offending field (`spec.exchange.symbols`), when known.
    pub field: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        match (&self.kind, &self.name) {
            (Some(kind), Some(name)) => write!(f, " ({kind} {name})")?,
            (Some(kind), None) => write!(f, " ({kind})")?,
            _ => {}
        }
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// One document's text and the 1-based file line its text starts on.
pub(crate) struct Chunk<'a> {
    pub(crate) text: &'a str,
    pub(crate) first_line: usize,
}

/// Splits a YAML stream at `---` lines (and `...` ends). A `---` at column
/// 0 always starts a document: block scalars are indented.
pub(crate) fn split_documents(yaml: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let (mut start, mut first_line, mut offset) = (0usize, 1usize, 0usize);
    for (i, line) in yaml.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        let is_marker = |m: &str| {
            trimmed == m || (trimmed.starts_with(m) && trimmed[m.len()..].starts_with([' ', '\t']))
        };
        if is_marker("---") || is_marker("...") {
            chunks.push(Chunk {
                text: &yaml[start..offset],
                first_line,
            });
            start = offset + line.len();
            first_line = i + 2;
        }
        offset += line.len();
    }
    chunks.push(Chunk {
        text: &yaml[start..],
        first_line,
    });
    chunks.retain(|c| !c.text.trim().is_empty());
    chunks
}

pub(crate) fn typed<T: DeserializeOwned>(
    number: usize,
    chunk: &Chunk<'_>,
    kind: &Option<String>,
    name: &Option<String>,
) -> Result<T, DocumentError> {
    let deserializer = serde_yaml::Deserializer::from_str(chunk.text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = e.path().to_string();
        let line = e
            .inner()
            .location()
            .map(|l| l.line() + chunk.first_line - 1);
        let mut message = strip_location(&e.inner().to_string());
        // serde_yaml prefixes its own (parent) path; the field is reported separately.
        if let Some((head, rest)) = message.split_once(": ")
            && field.starts_with(head)
        {
            message = rest.to_string();
        }
        let field = (field != ".").then_some(field);
        doc_error(number, line, kind.clone(), name.clone(), field, message)
    })
}

/// Drops serde_yaml's " at line L column C" suffix (the line is reported
/// separately, relative to the whole file).
pub(crate) fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

pub(crate) fn doc_error(
    document: usize,
    line: Option<usize>,
    kind: Option<String>,
    name: Option<String>,
    field: Option<String>,
    message: String,
) -> DocumentError {
    DocumentError {
        document,
        line,
        kind,
        name,
        field,
        message,
    }
}
