//! Writing an event's JSON form straight into bytes, without building a [`serde_json::Value`].
//!
//! [`write_event_json`] writes exactly the bytes of
//! `serde_json::to_vec(&event_json(seq, event)?)`: `seq`, `at`, `type`, then the event's fields in
//! byte-wise key order (as a `BTreeMap<String, _>` orders them), nested objects too. It gets
//! there with a small [`serde::Serializer`] that writes every value into the output as serde
//! goes, and sorts each object's fields when the object ends: the fields' values are written one
//! after another, then copied behind their keys in key order, and the unsorted copy is dropped.
//! Leaves (strings, integers, booleans) are written by `serde_json` itself, so escaping and
//! number formatting are serde_json's.
//!
//! The serializer takes the shapes the DTOs are made of (structs, externally tagged enums, unit
//! variants, options, sequences, strings, integers, booleans) plus maps with string keys,
//! tuples and newtypes. Anything else (floats, 128-bit integers, bytes, maps with other keys) and
//! any error (an instant after year 9999) make [`write_event_json`] fall back to the
//! [`serde_json::Value`] path, so the bytes and the errors are always those of
//! [`event_json`].

use std::borrow::Cow;
use std::fmt;

use serde::ser::{
    self, Serialize, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant,
    SerializeTuple, SerializeTupleStruct, SerializeTupleVariant,
};
use switchboard_core::Event;

use super::{JsonError, event_json};
use crate::event::EventKindDto;
use crate::time::format_rfc3339;

/// Writes the JSON form of event number `seq` at the end of `out`: the same bytes as
/// `serde_json::to_vec(&event_json(seq, event)?)`, without building a JSON value.
///
/// # Errors
/// [`JsonError::Unwritable`] when one of the event's instants lies after year 9999, as
/// [`event_json`]. `out` is then left as it was.
pub fn write_event_json(seq: u64, event: &Event, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let start = out.len();
    if write_direct(seq, event, out).is_ok() {
        return Ok(());
    }
    // A shape this writer does not take, or an error: the `Value` path says what to write.
    out.truncate(start);
    let written = event_json(seq, event)
        .and_then(|json| serde_json::to_writer(&mut *out, &json).map_err(JsonError::Unwritable));
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// Writes the event without the `Value` path; any error means "use the `Value` path".
fn write_direct(seq: u64, event: &Event, out: &mut Vec<u8>) -> Result<(), Fallback> {
    let at = format_rfc3339(event.at.as_millis()).map_err(|e| Fallback::Custom(e.to_string()))?;
    let event_type = event.kind.name();
    out.extend_from_slice(b"{\"seq\":");
    leaf(out, &seq)?;
    out.extend_from_slice(b",\"at\":");
    string(out, &at)?;
    out.extend_from_slice(b",\"type\":");
    string(out, event_type)?;
    let tagged = out.len();
    EventKindDto::from(&event.kind).serialize_tagged(Writer { out: &mut *out })?;
    lift_fields(out, tagged, event_type)
}

/// Turns `{"<type>":{fields}}`, written from `at` on, into the tail of the event's object:
/// `,fields}` (or `}` when there are none), as [`event_json`] lifts the
/// single key into `type`.
fn lift_fields(out: &mut Vec<u8>, at: usize, event_type: &str) -> Result<(), Fallback> {
    let tagged = out.get(at..).unwrap_or_default();
    // `{"` + type + `":` then the fields' object; event types are snake case, never escaped.
    let prefix = event_type.len() + 5;
    let fits = tagged.len() >= prefix + 3
        && tagged.starts_with(b"{\"")
        && tagged.get(2..2 + event_type.len()) == Some(event_type.as_bytes())
        && tagged.get(prefix - 3..prefix) == Some(b"\":{".as_slice())
        && tagged.ends_with(b"}}");
    if !fits {
        return Err(Fallback::Unsupported(
            "an event kind that is not a tagged struct",
        ));
    }
    if tagged.len() == prefix + 2 {
        // `{"<type>":{}}`: no fields.
        out.truncate(at);
        out.push(b'}');
        return Ok(());
    }
    // `{"<type>":{fields}}` → `,fields}`: the fields' `{` becomes `,`, the outer `}` goes.
    out.pop();
    out[at + prefix - 1] = b',';
    out.drain(at..at + prefix - 1);
    Ok(())
}

/// Writes one leaf value (string, integer, boolean, `null`) as serde_json writes it.
fn leaf<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Fallback> {
    serde_json::to_writer(out, value).map_err(|e| Fallback::Custom(e.to_string()))
}

/// Writes a string as serde_json writes it: quoted, with `"`, `\\` and control characters
/// escaped. Text with none of those (every key, most values) is copied as it is; the rest is
/// left to serde_json.
fn string(out: &mut Vec<u8>, text: &str) -> Result<(), Fallback> {
    // serde_json escapes exactly these bytes (its `ESCAPE` table): no others, not DEL, not
    // non-ASCII.
    let escaped = text.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if escaped {
        return leaf(out, text);
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
    Ok(())
}

/// Why the direct path gave up: the caller then takes the `Value` path.
#[derive(Debug)]
enum Fallback {
    /// What a `Serialize` implementation (or serde_json on a leaf) said.
    Custom(String),
    /// A shape this writer does not take.
    Unsupported(&'static str),
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Custom(message) => f.write_str(message),
            Self::Unsupported(shape) => write!(f, "not written directly: {shape}"),
        }
    }
}

impl std::error::Error for Fallback {}

impl ser::Error for Fallback {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::Custom(msg.to_string())
    }
}

/// The serializer: writes one value at the end of `out`, objects with their keys sorted.
struct Writer<'o> {
    out: &'o mut Vec<u8>,
}

/// Writes `{"<variant>":` before a variant's content (closed by the caller with `}`).
fn open_variant(out: &mut Vec<u8>, variant: &'static str) -> Result<(), Fallback> {
    out.push(b'{');
    string(out, variant)?;
    out.push(b':');
    Ok(())
}

/// Booleans and integers: serde_json writes them the same way a `Value` holds them.
macro_rules! leaves {
    ($($method:ident: $ty:ty),* $(,)?) => {$(
        fn $method(self, v: $ty) -> Result<(), Fallback> {
            leaf(self.out, &v)
        }
    )*};
}

impl<'o> ser::Serializer for Writer<'o> {
    type Ok = ();
    type Error = Fallback;
    type SerializeSeq = Array<'o>;
    type SerializeTuple = Array<'o>;
    type SerializeTupleStruct = Array<'o>;
    type SerializeTupleVariant = Array<'o>;
    type SerializeMap = Object<'o>;
    type SerializeStruct = Object<'o>;
    type SerializeStructVariant = Object<'o>;

    leaves!(
        serialize_bool: bool,
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
    );

    // A `Value` holds these differently from how serde_json writes them directly (an `f32`
    // widened to `f64`, 128-bit integers out of range): left to the `Value` path.
    fn serialize_i128(self, _: i128) -> Result<(), Fallback> {
        Err(Fallback::Unsupported("i128"))
    }

    fn serialize_u128(self, _: u128) -> Result<(), Fallback> {
        Err(Fallback::Unsupported("u128"))
    }

    fn serialize_f32(self, _: f32) -> Result<(), Fallback> {
        Err(Fallback::Unsupported("f32"))
    }

    fn serialize_f64(self, _: f64) -> Result<(), Fallback> {
        Err(Fallback::Unsupported("f64"))
    }

    fn serialize_char(self, v: char) -> Result<(), Fallback> {
        leaf(self.out, &v)
    }

    fn serialize_str(self, v: &str) -> Result<(), Fallback> {
        string(self.out, v)
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Fallback> {
        Err(Fallback::Unsupported("bytes"))
    }

    fn serialize_none(self) -> Result<(), Fallback> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Fallback> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Fallback> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Fallback> {
        self.serialize_none()
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Fallback> {
        string(self.out, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Fallback> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Fallback> {
        open_variant(self.out, variant)?;
        value.serialize(Writer {
            out: &mut *self.out,
        })?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Array<'o>, Fallback> {
        Ok(Array::open(self.out, false))
    }

    fn serialize_tuple(self, _: usize) -> Result<Array<'o>, Fallback> {
        Ok(Array::open(self.out, false))
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Array<'o>, Fallback> {
        Ok(Array::open(self.out, false))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Array<'o>, Fallback> {
        open_variant(self.out, variant)?;
        Ok(Array::open(self.out, true))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Object<'o>, Fallback> {
        Ok(Object::open(self.out, len.unwrap_or(0), false))
    }

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Object<'o>, Fallback> {
        Ok(Object::open(self.out, len, false))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Object<'o>, Fallback> {
        open_variant(self.out, variant)?;
        Ok(Object::open(self.out, len, true))
    }
}

/// An array being written: `[a,b,...]`, elements in order.
struct Array<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
    /// Inside a tuple variant's `{"<variant>":`, closed with one more `}`.
    variant: bool,
}

impl<'o> Array<'o> {
    fn open(out: &'o mut Vec<u8>, variant: bool) -> Self {
        out.push(b'[');
        Self {
            out,
            first: true,
            variant,
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Fallback> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Writer {
            out: &mut *self.out,
        })
    }

    fn close(self) -> Result<(), Fallback> {
        self.out.push(b']');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

/// Sequences, tuples and tuple structs and variants are all JSON arrays: each serde trait for
/// them writes an element and closes the array.
macro_rules! array_like {
    ($($trait:ident :: $element:ident),* $(,)?) => {$(
        impl $trait for Array<'_> {
            type Ok = ();
            type Error = Fallback;

            fn $element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Fallback> {
                self.element(value)
            }

            fn end(self) -> Result<(), Fallback> {
                self.close()
            }
        }
    )*};
}

array_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

/// One field of an object being written: its key and where its value lies in `out`.
struct Field {
    key: Cow<'static, str>,
    start: usize,
    end: usize,
}

/// An object being written. The values are written at the end of `out`, in the order serde
/// gives them, from `base` on; [`Object::close`] then writes `{"key":value,...}` in key order
/// after them and drops the unsorted values.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    base: usize,
    fields: Vec<Field>,
    /// A map's key, waiting for its value.
    key: Option<String>,
    /// Inside a struct variant's `{"<variant>":`, closed with one more `}`.
    variant: bool,
}

impl<'o> Object<'o> {
    fn open(out: &'o mut Vec<u8>, len: usize, variant: bool) -> Self {
        let base = out.len();
        Self {
            out,
            base,
            fields: Vec::with_capacity(len),
            key: None,
            variant,
        }
    }

    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: Cow<'static, str>,
        value: &T,
    ) -> Result<(), Fallback> {
        let start = self.out.len();
        value.serialize(Writer {
            out: &mut *self.out,
        })?;
        self.fields.push(Field {
            key,
            start,
            end: self.out.len(),
        });
        Ok(())
    }

    fn close(mut self) -> Result<(), Fallback> {
        // Stable, so of two equal keys (a map's) the later stays later; a `Value` keeps only
        // the later one, as below.
        self.fields
            .sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
        let sorted = self.out.len();
        self.out.push(b'{');
        let mut first = true;
        for (i, field) in self.fields.iter().enumerate() {
            let replaced = self
                .fields
                .get(i + 1)
                .is_some_and(|next| next.key == field.key);
            if replaced {
                continue;
            }
            if !first {
                self.out.push(b',');
            }
            first = false;
            string(self.out, &field.key)?;
            self.out.push(b':');
            self.out.extend_from_within(field.start..field.end);
        }
        self.out.push(b'}');
        if self.variant {
            self.out.push(b'}');
        }
        self.out.drain(self.base..sorted);
        Ok(())
    }
}

impl SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = Fallback;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Fallback> {
        self.field(Cow::Borrowed(key), value)
    }

    fn end(self) -> Result<(), Fallback> {
        self.close()
    }
}

impl SerializeStructVariant for Object<'_> {
    type Ok = ();
    type Error = Fallback;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Fallback> {
        self.field(Cow::Borrowed(key), value)
    }

    fn end(self) -> Result<(), Fallback> {
        self.close()
    }
}

impl SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Fallback;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Fallback> {
        self.key = Some(key.serialize(KeyWriter)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Fallback> {
        let key = self
            .key
            .take()
            .ok_or(Fallback::Unsupported("a map value without a key"))?;
        self.field(Cow::Owned(key), value)
    }

    fn end(self) -> Result<(), Fallback> {
        self.close()
    }
}

/// A map key: only strings (and what serde writes as one) are taken here.
struct KeyWriter;

/// The key shapes [`KeyWriter`] leaves to the `Value` path.
fn unsupported_key<T>() -> Result<T, Fallback> {
    Err(Fallback::Unsupported("a map key that is not a string"))
}

impl ser::Serializer for KeyWriter {
    type Ok = String;
    type Error = Fallback;
    type SerializeSeq = ser::Impossible<String, Fallback>;
    type SerializeTuple = ser::Impossible<String, Fallback>;
    type SerializeTupleStruct = ser::Impossible<String, Fallback>;
    type SerializeTupleVariant = ser::Impossible<String, Fallback>;
    type SerializeMap = ser::Impossible<String, Fallback>;
    type SerializeStruct = ser::Impossible<String, Fallback>;
    type SerializeStructVariant = ser::Impossible<String, Fallback>;

    fn serialize_str(self, v: &str) -> Result<String, Fallback> {
        Ok(v.to_owned())
    }

    fn serialize_char(self, v: char) -> Result<String, Fallback> {
        Ok(v.to_string())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, Fallback> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, Fallback> {
        value.serialize(self)
    }

    fn serialize_bool(self, _: bool) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_i8(self, _: i8) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_i16(self, _: i16) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_i32(self, _: i32) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_i64(self, _: i64) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_u8(self, _: u8) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_u16(self, _: u16) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_u32(self, _: u32) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_u64(self, _: u64) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_f32(self, _: f32) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_f64(self, _: f64) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_none(self) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_unit(self) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Fallback> {
        unsupported_key()
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Fallback> {
        unsupported_key()
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Fallback> {
        unsupported_key()
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Fallback> {
        unsupported_key()
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Fallback> {
        unsupported_key()
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Fallback> {
        unsupported_key()
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Fallback> {
        unsupported_key()
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Fallback> {
        unsupported_key()
    }
}

#[cfg(test)]
mod tests {
    //! The direct path itself, without the fallback that would hide its gaps: every event of the
    //! version 2 golden file (which holds every kind) and shapes the DTOs do not use yet.

    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::{Fallback, Writer, write_direct};
    use crate::decode_event;
    use crate::json::event_json;

    const GOLDEN_V3: &[u8] = include_bytes!("../../tests/fixtures/events-v3.bin");

    fn direct<T: Serialize>(value: &T) -> Result<Vec<u8>, Fallback> {
        let mut out = Vec::new();
        value.serialize(Writer { out: &mut out })?;
        Ok(out)
    }

    fn through_value<T: Serialize>(value: &T) -> Vec<u8> {
        let value = serde_json::to_value(value).expect("a JSON value");
        serde_json::to_vec(&value).expect("serializable")
    }

    #[test]
    fn every_golden_event_is_written_without_falling_back() {
        let mut rest = GOLDEN_V3;
        let mut kinds = std::collections::BTreeSet::new();
        let mut seq = 0;
        while let Some((len, tail)) = rest.split_first_chunk::<4>() {
            let len = u32::from_le_bytes(*len) as usize;
            let (payload, tail) = tail.split_at(len);
            rest = tail;
            seq += 1;
            let event = decode_event(payload).expect("a golden event");
            let mut out = Vec::new();
            write_direct(seq, &event, &mut out).expect("written directly");
            let expected = serde_json::to_vec(&event_json(seq, &event).expect("writable"))
                .expect("serializable");
            assert_eq!(out, expected, "event {seq}");
            kinds.insert(event.kind.name());
        }
        assert_eq!(
            kinds.len(),
            switchboard_core::EventKind::COUNT,
            "the golden file holds every kind"
        );
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(i8, bool),
        Struct {
            z: (),
            a: Option<char>,
            m: Option<u16>,
        },
    }

    #[derive(Serialize)]
    struct Wrapper(i32);

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Everything {
        zeta: Vec<Shape>,
        alpha: BTreeMap<String, Wrapper>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        #[serde(rename = "Upper")]
        upper: Unit,
        #[serde(flatten)]
        flat: BTreeMap<&'static str, i64>,
        tuple: (u32, &'static str),
        empty: BTreeMap<String, u8>,
    }

    #[test]
    fn shapes_the_dtos_do_not_use_yet_match_the_value_path() {
        let everything = Everything {
            zeta: vec![
                Shape::Unit,
                Shape::Newtype(3),
                Shape::Tuple(-1, true),
                Shape::Struct {
                    z: (),
                    a: Some('é'),
                    m: None,
                },
            ],
            alpha: BTreeMap::from([
                ("b\"".to_owned(), Wrapper(-7)),
                ("a".to_owned(), Wrapper(7)),
            ]),
            skipped: None,
            upper: Unit,
            flat: BTreeMap::from([("aa", i64::MIN), ("zz", i64::MAX)]),
            tuple: (1, "\u{1}"),
            empty: BTreeMap::new(),
        };
        let written = direct(&everything).expect("written directly");
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&through_value(&everything))
        );
    }

    #[test]
    fn floats_and_wide_integers_are_left_to_the_value_path() {
        assert!(matches!(direct(&1.5_f64), Err(Fallback::Unsupported(_))));
        assert!(matches!(direct(&1.5_f32), Err(Fallback::Unsupported(_))));
        assert!(matches!(direct(&1_u128), Err(Fallback::Unsupported(_))));
        assert!(matches!(
            direct(&BTreeMap::from([(1_u8, 2_u8)])),
            Err(Fallback::Unsupported(_))
        ));
    }
}
