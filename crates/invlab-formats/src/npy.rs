//! NumPy `.npy` arrays and `.npz` archives (Kuzushiji-49).
//!
//! `.npy`: magic `\x93NUMPY`, version byte pair (1.0, 2.0 or 3.0), header length (u16 LE for
//! version 1, u32 LE for 2 and 3), then a Python dict literal such as
//! `{'descr': '|u1', 'fortran_order': False, 'shape': (232365, 28, 28), }` padded with spaces
//! and a newline, then the raw data in C order. `.npz`: a zip archive of `.npy` entries
//! (`arr_0.npy` for `np.savez(path, array)`), deflated or stored.

use std::io::Read;
use std::path::Path;

use super::{bytes_str, MAX_DECOMPRESSED};
use crate::DataError;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Element types accepted: `u8` everywhere, and any little-endian integer for label arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    U8,
    I8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
}

impl Dtype {
    fn parse(descr: &str) -> Option<Dtype> {
        Some(match descr {
            "|u1" | "<u1" | "u1" | "=u1" | ">u1" => Dtype::U8,
            "|i1" | "<i1" | "i1" | "=i1" | ">i1" => Dtype::I8,
            "<i2" => Dtype::I16,
            "<u2" => Dtype::U16,
            "<i4" => Dtype::I32,
            "<u4" => Dtype::U32,
            "<i8" => Dtype::I64,
            "<u8" => Dtype::U64,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 => 1,
            Dtype::I16 | Dtype::U16 => 2,
            Dtype::I32 | Dtype::U32 => 4,
            Dtype::I64 | Dtype::U64 => 8,
        }
    }
}

/// A parsed array: shape, dtype and the raw little-endian data (C order).
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    pub data: Vec<u8>,
}

impl NpyArray {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as i64 (exact for every accepted dtype except u64 values above i64::MAX,
    /// which map to -1 so that a range check rejects them).
    pub fn to_i64(&self) -> Vec<i64> {
        let s = self.dtype.size();
        self.data
            .chunks_exact(s)
            .map(|c| match self.dtype {
                Dtype::U8 => c[0] as i64,
                Dtype::I8 => c[0] as i8 as i64,
                Dtype::I16 => i16::from_le_bytes([c[0], c[1]]) as i64,
                Dtype::U16 => u16::from_le_bytes([c[0], c[1]]) as i64,
                Dtype::I32 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
                Dtype::U32 => u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
                Dtype::I64 | Dtype::U64 => {
                    let v = i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                    if self.dtype == Dtype::U64 && v < 0 {
                        -1
                    } else {
                        v
                    }
                }
            })
            .collect()
    }
}

/// A shape as Python writes it: `(48,)`, `(10, 28, 28)`.
pub fn shape_str(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A tiny tokenizer for the header dict literal.
struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

impl<'a> Lexer<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && (self.s[self.i] as char).is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let q = self.peek().ok_or("unexpected end of header")?;
        if q != b'\'' && q != b'"' {
            return Err(format!(
                "expected a quoted string at header offset {}",
                self.i
            ));
        }
        self.i += 1;
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != q {
            self.i += 1;
        }
        if self.i >= self.s.len() {
            return Err("unterminated string in header".into());
        }
        let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.i += 1;
        Ok(text)
    }

    fn word(&mut self) -> String {
        self.ws();
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i] as char).is_ascii_alphanumeric() {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'\'') | Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'(') => {
                self.i += 1;
                let mut dims = Vec::new();
                loop {
                    if self.eat(b')') {
                        break;
                    }
                    let w = self.word();
                    let w = w.strip_suffix('L').unwrap_or(&w);
                    let d: usize = w
                        .parse()
                        .map_err(|_| format!("bad dimension {w:?} in shape"))?;
                    dims.push(d);
                    if !self.eat(b',') {
                        if self.eat(b')') {
                            break;
                        }
                        return Err("expected ',' or ')' in shape".into());
                    }
                    if dims.len() > 32 {
                        return Err("shape has more than 32 dimensions".into());
                    }
                }
                Ok(Value::Tuple(dims))
            }
            _ => match self.word().as_str() {
                "True" => Ok(Value::Bool(true)),
                "False" => Ok(Value::Bool(false)),
                w => Err(format!(
                    "unexpected value {w:?} at header offset {}",
                    self.i
                )),
            },
        }
    }
}

fn parse_dict(text: &[u8]) -> Result<(String, bool, Vec<usize>), String> {
    let mut lx = Lexer { s: text, i: 0 };
    if !lx.eat(b'{') {
        return Err("header does not start with '{'".into());
    }
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        if lx.eat(b'}') {
            break;
        }
        let key = lx.string()?;
        if !lx.eat(b':') {
            return Err(format!("expected ':' after key {key:?}"));
        }
        let v = lx.value()?;
        match (key.as_str(), v) {
            ("descr", Value::Str(s)) => descr = Some(s),
            ("fortran_order", Value::Bool(b)) => fortran = Some(b),
            ("shape", Value::Tuple(t)) => shape = Some(t),
            (k @ ("descr" | "fortran_order" | "shape"), v) => {
                return Err(format!("key {k:?} has an unexpected value {v:?}"))
            }
            (k, _) => return Err(format!("unexpected key {k:?} in header")),
        }
        if !lx.eat(b',') {
            if lx.eat(b'}') {
                break;
            }
            return Err("expected ',' or '}' in header dict".into());
        }
    }
    Ok((
        descr.ok_or("header has no 'descr' key")?,
        fortran.ok_or("header has no 'fortran_order' key")?,
        shape.ok_or("header has no 'shape' key")?,
    ))
}

/// Parses a `.npy` file. `path` (and `entry`, the member name inside an `.npz`, or "") name it
/// in errors. Accepts C-order integer arrays; `u8` for images, any little-endian integer type
/// otherwise (the caller checks the dtype it needs).
pub fn parse_npy(bytes: &[u8], path: &Path, entry: &str) -> Result<NpyArray, DataError> {
    let loc = |at: String| {
        if entry.is_empty() {
            at
        } else {
            format!("{entry}, {at}")
        }
    };
    let err = |at: usize, msg: String| DataError::new(path, msg).at(loc(format!("byte {at}")));
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        let found = &bytes[..bytes.len().min(6)];
        return Err(err(
            0,
            format!(
                "expected the NPY magic \\x93NUMPY, found {found:02x?} ({} in all)",
                bytes_str(bytes.len())
            ),
        ));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            let Some(b) = bytes.get(8..12) else {
                return Err(err(8, "file ends inside the NPY header length".into()));
            };
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        _ => {
            return Err(err(
                6,
                format!("unsupported NPY format version {major}.{minor}; expected 1.0, 2.0 or 3.0"),
            ))
        }
    };
    let Some(end) = start.checked_add(header_len).filter(|&e| e <= bytes.len()) else {
        return Err(err(
            start,
            format!(
                "header length {header_len} runs past the end of the data ({})",
                bytes_str(bytes.len())
            ),
        ));
    };
    let (descr, fortran, shape) =
        parse_dict(&bytes[start..end]).map_err(|m| err(start, format!("bad NPY header: {m}")))?;
    let Some(dtype) = Dtype::parse(&descr) else {
        return Err(err(
            start,
            format!("unsupported dtype {descr:?}: expected unsigned bytes ('|u1') or a little-endian integer type"),
        ));
    };
    if fortran {
        return Err(err(
            start,
            "array is stored in Fortran order (fortran_order: True); expected C order".into(),
        ));
    }
    let body = bytes.len() - end;
    let want = shape
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d));
    match want {
        Some(n) if n == body => Ok(NpyArray {
            shape,
            dtype,
            data: bytes[end..].to_vec(),
        }),
        _ => {
            let want = shape.iter().fold(dtype.size() as u128, |acc, &d| {
                acc.saturating_mul(d as u128)
            });
            let what = if want > body as u128 {
                "truncated"
            } else {
                "longer than its header says"
            };
            Err(err(
                bytes.len(),
                format!(
                    "header says shape {} of {descr} = {want} bytes after the {end}-byte header, data has {body} ({what})",
                    shape_str(&shape)
                ),
            ))
        }
    }
}

/// Reads `arr_0.npy` (or the archive's only `.npy` entry) from an `.npz` archive and parses it.
/// Where an NPY header ends (magic, version, length word and the header itself), from its
/// first 12 bytes; `None` when they are not an NPY start.
fn header_end(head: &[u8]) -> Option<usize> {
    if head.len() < 10 || &head[..6] != MAGIC {
        return None;
    }
    match head[6] {
        1 => Some(10 + u16::from_le_bytes([head[8], head[9]]) as usize),
        2 | 3 => {
            let b = head.get(8..12)?;
            Some(12 + u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
        _ => None,
    }
}

/// The whole size an NPY's header implies (header plus shape x item size), when the header
/// is complete and understood.
fn implied_size(head: &[u8]) -> Option<u64> {
    let end = header_end(head)?;
    let start = if head[6] == 1 { 10 } else { 12 };
    let (descr, _, shape) = parse_dict(head.get(start..end)?).ok()?;
    let item = Dtype::parse(&descr)?.size() as u64;
    let count = shape
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64))?;
    count.checked_mul(item)?.checked_add(end as u64)
}

pub fn parse_npz(bytes: &[u8], path: &Path) -> Result<NpyArray, DataError> {
    parse_npz_limited(bytes, path, MAX_DECOMPRESSED)
}

/// As `parse_npz`, refusing an entry that decompresses to more than `limit` bytes.
pub fn parse_npz_limited(bytes: &[u8], path: &Path, limit: u64) -> Result<NpyArray, DataError> {
    read_npz(std::io::Cursor::new(bytes), path, limit)
}

/// Opens the `.npz` file at `path` and reads its array entry without loading the archive:
/// the zip reader seeks to the central directory at the end, then to the entry, so only the
/// entry's compressed bytes are read (a 1 GB file that is not a zip costs a few kB of reads).
pub fn load_npz(path: &Path) -> Result<NpyArray, DataError> {
    // Unbuffered on purpose: the zip reader looks for the directory's end by seeking back one
    // byte at a time over the last 64 kB, and a BufReader refills 8 kB on every seek (500 MB
    // of reads for a file that is not a zip). The entry's deflate stream is buffered by flate2.
    let file = super::open_regular(path)?;
    read_npz(file, path, MAX_DECOMPRESSED)
}

/// The archive reader behind `parse_npz` and `load_npz`.
fn read_npz<R: Read + std::io::Seek>(
    reader: R,
    path: &Path,
    limit: u64,
) -> Result<NpyArray, DataError> {
    super::guard(path, "zip", || {
        let mut zip = zip::ZipArchive::new(reader)
            .map_err(|e| DataError::new(path, format!("not a readable .npz (zip) archive: {e}")))?;
        let names: Vec<String> = zip.file_names().map(str::to_string).collect();
        let name = if names.iter().any(|n| n == "arr_0.npy") {
            "arr_0.npy".to_string()
        } else {
            let npys: Vec<&String> = names.iter().filter(|n| n.ends_with(".npy")).collect();
            match npys.as_slice() {
                [only] => only.to_string(),
                _ => {
                    return Err(DataError::new(
                        path,
                        format!(
                            "expected an entry arr_0.npy in the archive; it holds {:?}",
                            names
                        ),
                    ))
                }
            }
        };
        let mut file = zip.by_name(&name).map_err(|e| {
            DataError::new(path, format!("cannot open entry {name}: {e}")).at(&name)
        })?;
        let size = file.size();
        if size > limit {
            return Err(DataError::new(
                path,
                format!("entry {name} says it decompresses to {size} bytes, over the {limit}-byte limit"),
            )
            .at(&name));
        }
        // The size fields are not trusted for allocation: deflate expands at most ~1032:1.
        let hint = size
            .min(file.compressed_size().saturating_mul(1032))
            .min(1 << 30);
        let mut data = Vec::with_capacity(hint as usize);
        // The NPY header first: its shape and dtype say how many bytes the entry should hold,
        // so a zip bomb (a valid header, then gigabytes of zeros) stops there. A header that
        // does not parse is read no further: `parse_npy` reports what is wrong with it.
        let mut cap = limit;
        let mut head = Vec::new();
        let head_read = (&mut file).take(12).read_to_end(&mut head).and_then(|_| {
            if let Some(end) = header_end(&head) {
                (&mut file)
                    .take(end.saturating_sub(head.len()) as u64)
                    .read_to_end(&mut head)?;
            }
            Ok(())
        });
        if head_read.is_ok() {
            cap = implied_size(&head).unwrap_or(head.len() as u64).min(limit);
        }
        data.extend_from_slice(&head);
        (&mut file)
            .take((cap + 1).saturating_sub(data.len() as u64))
            .read_to_end(&mut data)
            .map_err(|e| {
                DataError::new(
                    path,
                    format!(
                        "entry {name} is truncated or corrupt ({e}); {} bytes read",
                        data.len()
                    ),
                )
                .at(&name)
            })?;
        if data.len() as u64 > cap && cap == limit {
            return Err(DataError::new(
                path,
                format!("entry {name} decompresses to more than {limit} bytes"),
            )
            .at(&name));
        }
        if data.len() as u64 > cap {
            return Err(DataError::new(
                path,
                format!(
                    "entry {name} decompresses past the {} its NPY header implies; refusing it",
                    bytes_str(cap as usize)
                ),
            )
            .at(&name));
        }
        parse_npy(&data, path, &name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_dict_forms() {
        let d = parse_dict(b"{\"descr\": \"|u1\", \"fortran_order\": False, \"shape\": (3L, 4L)}")
            .unwrap();
        assert_eq!(d, ("|u1".to_string(), false, vec![3, 4]));
        let d = parse_dict(b"{'shape': (), 'fortran_order': True, 'descr': '<i8', }  \n").unwrap();
        assert_eq!(d, ("<i8".to_string(), true, vec![]));
        assert!(parse_dict(b"{'descr': '|u1'}")
            .unwrap_err()
            .contains("fortran_order"));
        assert!(parse_dict(b"{'descr': '|u1', 'x': 1}").is_err());
        assert!(parse_dict(b"{'shape': (1, -2)}")
            .unwrap_err()
            .contains("bad dimension"));
        assert!(parse_dict(b"{'descr").is_err());
    }

    #[test]
    fn shape_text() {
        assert_eq!(shape_str(&[48]), "(48,)");
        assert_eq!(shape_str(&[2, 28, 28]), "(2, 28, 28)");
        assert_eq!(shape_str(&[]), "()");
    }

    #[test]
    fn overflowing_shape_is_an_error() {
        let h = "{'descr': '|u1', 'fortran_order': False, 'shape': (18446744073709551615, 2), }\n";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        let e = parse_npy(&b, Path::new("x.npy"), "").unwrap_err();
        assert!(e.message.contains("truncated"), "{e}");
    }
}
