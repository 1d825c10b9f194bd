//! A serde serializer that writes compact JSON with every object's keys in byte order: the text
//! serde_json writes for a [`serde_json::Value`] (whose maps are `BTreeMap`s, serde_json's
//! `preserve_order` feature being off), without building one.
//!
//! Values are written at the end of the output as serde hands them over. Leaves (strings,
//! numbers, booleans, `null`) are written by serde_json itself, so escaping and number formatting
//! are serde_json's. A struct's field values are written one after another; when the struct
//! ends they are copied behind their keys in key order and the unsorted copy is dropped.
//!
//! It takes what the event DTOs are made of: structs, enums (unit, newtype and struct variants,
//! externally tagged), options, sequences, newtypes, strings, numbers and booleans. Maps and
//! tuples are refused with an error: no DTO has them, and `tests/json.rs` writes every event
//! kind through this and through a `Value` and compares the bytes.

use std::ops::Range;

use serde::Serialize;
use serde::ser::{self, Error as _, Impossible, SerializeSeq, SerializeStruct};
use serde_json::Error;

/// Writes what `serialize` serializes at the end of `out`, objects' keys in byte order.
pub(super) fn write(
    out: &mut Vec<u8>,
    serialize: impl FnOnce(Sorted<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut fields = Vec::with_capacity(32);
    serialize(Sorted {
        out,
        fields: &mut fields,
    })
}

/// The serializer of one value, written at the end of `out`.
pub(super) struct Sorted<'o> {
    out: &'o mut Vec<u8>,
    /// The fields of the structs being written, innermost last: each key and where its value's
    /// bytes lie in `out`.
    fields: &'o mut Vec<(&'static str, Range<usize>)>,
}

impl Sorted<'_> {
    fn reborrow(&mut self) -> Sorted<'_> {
        Sorted {
            out: self.out,
            fields: self.fields,
        }
    }

    /// A leaf, as serde_json writes it.
    fn leaf<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(&mut serde_json::Serializer::new(self.out))
    }

    /// `{"<variant>":`, the start of an externally tagged variant with content.
    fn open_variant(&mut self, variant: &'static str) -> Result<(), Error> {
        self.out.push(b'{');
        serde_json::to_writer(&mut *self.out, variant)?;
        self.out.push(b':');
        Ok(())
    }
}

/// A leaf method per type, each handing the value to serde_json.
macro_rules! leaves {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, value: $ty) -> Result<(), Error> {
            self.leaf(&value)
        })*
    };
}

impl<'o> ser::Serializer for Sorted<'o> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'o>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Object<'o>;
    type SerializeStructVariant = Object<'o>;

    leaves!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8]),
    );

    fn serialize_str(self, value: &str) -> Result<(), Error> {
        string(self.out, value)
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.leaf(&())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.leaf(&())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.leaf(&())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.leaf(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.open_variant(variant)?;
        value.serialize(self.reborrow())?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'o>, Error> {
        self.out.push(b'[');
        Ok(Seq {
            inner: self,
            first: true,
        })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Object<'o>, Error> {
        Ok(Object::new(self, false))
    }

    fn serialize_struct_variant(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Object<'o>, Error> {
        self.open_variant(variant)?;
        Ok(Object::new(self, true))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(unsupported())
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(unsupported())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(unsupported())
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(unsupported())
    }
}

/// Writes a string as serde_json writes it: quoted, with `"`, `\\` and control characters
/// escaped. Text with none of those (every key, most values) is copied as it is; the rest is left
/// to serde_json.
pub(super) fn string(out: &mut Vec<u8>, text: &str) -> Result<(), Error> {
    // serde_json escapes exactly these bytes (its `ESCAPE` table): not DEL, not non-ASCII.
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return serde_json::to_writer(out, text);
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
    Ok(())
}

fn unsupported() -> Error {
    Error::custom("the event JSON writer takes no maps or tuples")
}

/// A sequence being written: `[`, then its elements in order.
pub(super) struct Seq<'o> {
    inner: Sorted<'o>,
    first: bool,
}

impl SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !std::mem::take(&mut self.first) {
            self.inner.out.push(b',');
        }
        value.serialize(self.inner.reborrow())
    }

    fn end(self) -> Result<(), Error> {
        self.inner.out.push(b']');
        Ok(())
    }
}

/// A struct being written: its values from `start` on, their keys in `fields` from `base` on.
pub(super) struct Object<'o> {
    inner: Sorted<'o>,
    start: usize,
    base: usize,
    /// A struct variant's content: one more `}` closes the variant's `{"<variant>":`.
    variant: bool,
}

impl<'o> Object<'o> {
    fn new(inner: Sorted<'o>, variant: bool) -> Self {
        let start = inner.out.len();
        let base = inner.fields.len();
        Self {
            inner,
            start,
            base,
            variant,
        }
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        let begin = self.inner.out.len();
        value.serialize(self.inner.reborrow())?;
        let end = self.inner.out.len();
        self.inner.fields.push((key, begin..end));
        Ok(())
    }

    /// Writes `{"key":value,...}` in key order behind the values, then moves it over them.
    fn end(self) -> Result<(), Error> {
        let Sorted { out, fields } = self.inner;
        let own = &mut fields[self.base..];
        own.sort_unstable_by_key(|&(key, _)| key);
        let values_end = out.len();
        out.push(b'{');
        for (n, (key, value)) in own.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            string(out, key)?;
            out.push(b':');
            out.extend_from_within(value.clone());
        }
        out.push(b'}');
        if self.variant {
            out.push(b'}');
        }
        let written = out.len() - values_end;
        out.copy_within(values_end.., self.start);
        out.truncate(self.start + written);
        fields.truncate(self.base);
        Ok(())
    }
}

/// `SerializeStruct` and `SerializeStructVariant`: the fields of an object.
macro_rules! object_fields {
    ($($trait:path),*) => {
        $(impl $trait for Object<'_> {
            type Ok = ();
            type Error = Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Error> {
                self.field(key, value)
            }

            fn end(self) -> Result<(), Error> {
                Object::end(self)
            }
        })*
    };
}

object_fields!(SerializeStruct, ser::SerializeStructVariant);
