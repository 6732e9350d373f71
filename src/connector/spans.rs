//! Where each string value stands in a JSON text: a scanner that reports every string
//! value with its path and byte span, so a value can be replaced where it stands and
//! every other byte of the file stays as it was.

use std::ops::Range;

/// Every string value in a JSON text with its path and byte span (quotes included);
/// `None` when the text is not JSON.
pub fn string_spans(text: &str) -> Option<Vec<(Vec<String>, Range<usize>)>> {
    let mut s = Scanner {
        b: text.as_bytes(),
        i: 0,
        out: Vec::new(),
    };
    // A byte-order mark is kept as it is.
    if text.starts_with('\u{feff}') {
        s.i = 3;
    }
    let mut path = Vec::new();
    s.value(&mut path, 0)?;
    s.ws();
    (s.i == s.b.len()).then_some(s.out)
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    out: Vec<(Vec<String>, Range<usize>)>,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn string(&mut self) -> Option<Range<usize>> {
        let start = self.i;
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        while let Some(&c) = self.b.get(self.i) {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'"' => return Some(start..self.i),
                _ => {}
            }
        }
        None
    }

    fn value(&mut self, path: &mut Vec<String>, depth: usize) -> Option<()> {
        if depth > 256 {
            return None;
        }
        self.ws();
        match *self.b.get(self.i)? {
            b'"' => {
                let r = self.string()?;
                self.out.push((path.clone(), r));
            }
            b'{' => {
                self.i += 1;
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    let key: String = serde_json::from_slice(&self.b[k]).ok()?;
                    self.ws();
                    (self.b.get(self.i) == Some(&b':')).then_some(())?;
                    self.i += 1;
                    path.push(key);
                    self.value(path, depth + 1)?;
                    path.pop();
                    self.ws();
                    match self.b.get(self.i)? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Some(());
                }
                let mut n = 0;
                loop {
                    path.push(n.to_string());
                    self.value(path, depth + 1)?;
                    path.pop();
                    n += 1;
                    self.ws();
                    match self.b.get(self.i)? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            _ => {
                let start = self.i;
                while self.i < self.b.len()
                    && !matches!(
                        self.b[self.i],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.i += 1;
                }
                (self.i > start).then_some(())?;
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_find_nested_strings_with_their_paths() {
        let t = r#"{"a": {"b": ["x", {"c": "y\"z"}]}, "n": 1, "t": true}"#;
        let s = string_spans(t).unwrap();
        let got: Vec<(String, &str)> = s
            .iter()
            .map(|(p, r)| (p.join("."), &t[r.clone()]))
            .collect();
        assert_eq!(
            got,
            vec![("a.b.0".into(), "\"x\""), ("a.b.1.c".into(), r#""y\"z""#)]
        );
        assert!(string_spans("{\"a\": }").is_none());
        assert!(string_spans("{\"a\": 1} trailing").is_none());
    }
}
