//! nbformat 4.5 output (spec §11, D11), byte-identical to what `nbformat.write()` produces:
//! `json.dumps(indent=1, sort_keys=True, ensure_ascii=False)` plus a final newline.

use std::fmt::Write as _;

/// Serialises the notebook: one markdown cell and one code cell per section, with the
/// ids `s<N>-md` and `s<N>-code`. Keys are written in sorted order.
pub fn write(sections: &[(&str, &str)]) -> String {
    let mut out = String::from("{\n \"cells\": [\n");
    for (i, (markdown, code)) in sections.iter().enumerate() {
        let n = i + 1;
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str("  {\n   \"cell_type\": \"markdown\",\n");
        let _ = writeln!(out, "   \"id\": \"s{n}-md\",");
        out.push_str("   \"metadata\": {},\n");
        source(&mut out, markdown);
        out.push_str("  },\n  {\n   \"cell_type\": \"code\",\n   \"execution_count\": null,\n");
        let _ = writeln!(out, "   \"id\": \"s{n}-code\",");
        out.push_str("   \"metadata\": {},\n   \"outputs\": [],\n");
        source(&mut out, code);
        out.push_str("  }");
    }
    out.push_str(
        "\n ],\n \"metadata\": {\n  \"kernelspec\": {\n   \"display_name\": \"Python 3\",\n   \
         \"language\": \"python\",\n   \"name\": \"python3\"\n  },\n  \"language_info\": {\n   \
         \"name\": \"python\",\n   \"version\": \"3.10\"\n  }\n },\n \"nbformat\": 4,\n \
         \"nbformat_minor\": 5\n}\n",
    );
    out
}

/// `"source": [...]`: one element per line, each but the last ending in `\n`.
fn source(out: &mut String, text: &str) {
    if text.is_empty() {
        out.push_str("   \"source\": []\n");
        return;
    }
    out.push_str("   \"source\": [\n");
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        out.push_str("    ");
        json_string(out, line);
        out.push_str(if i + 1 < lines.len() { ",\n" } else { "\n" });
    }
    out.push_str("   ]\n");
}

/// A JSON string as Python's `json.dumps(..., ensure_ascii=False)` writes it.
fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
