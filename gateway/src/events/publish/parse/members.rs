//! An event object's members, read from its JSON in one pass: each
//! CloudEvents attribute into a slot of its own, every other member (the
//! seed's envelope keys, extensions, unknown names) into a list in
//! document order. The rules of `super` then read the slots.
//!
//! Written by hand rather than through `serde_json::Value`: a `Value`
//! object is an `IndexMap` keyed by SipHash, and taking the attributes
//! out of it was a hash and a removal each. Under callgrind, parsing a
//! 16-event batch that way cost about 20,000 instructions per event, half
//! of a JetStream publish (docs/latency-comparison.md, 2026-12-02, night).
//! Only `data` and extension values are still `Value`s.
//!
//! A repeated member keeps its last value (and, in the list, its first
//! place), as a `serde_json::Map` does.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The CloudEvents attributes with a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    Specversion,
    Id,
    Source,
    Type,
    Subject,
    Time,
    Datacontenttype,
    Data,
    DataBase64,
}

impl Attribute {
    const ALL: [Attribute; 9] = [
        Self::Specversion,
        Self::Id,
        Self::Source,
        Self::Type,
        Self::Subject,
        Self::Time,
        Self::Datacontenttype,
        Self::Data,
        Self::DataBase64,
    ];

    /// Its member name in the JSON format.
    pub fn name(self) -> &'static str {
        match self {
            Self::Specversion => "specversion",
            Self::Id => "id",
            Self::Source => "source",
            Self::Type => "type",
            Self::Subject => "subject",
            Self::Time => "time",
            Self::Datacontenttype => "datacontenttype",
            Self::Data => "data",
            Self::DataBase64 => "data_base64",
        }
    }

    pub fn named(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|attribute| attribute.name() == name)
    }
}

/// One event object's members.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Members {
    specversion: Option<Value>,
    id: Option<Value>,
    source: Option<Value>,
    event_type: Option<Value>,
    subject: Option<Value>,
    time: Option<Value>,
    datacontenttype: Option<Value>,
    data: Option<Value>,
    data_base64: Option<Value>,
    /// Every other member, in document order.
    other: Vec<(String, Value)>,
}

impl Members {
    pub fn slot(&mut self, attribute: Attribute) -> &mut Option<Value> {
        match attribute {
            Attribute::Specversion => &mut self.specversion,
            Attribute::Id => &mut self.id,
            Attribute::Source => &mut self.source,
            Attribute::Type => &mut self.event_type,
            Attribute::Subject => &mut self.subject,
            Attribute::Time => &mut self.time,
            Attribute::Datacontenttype => &mut self.datacontenttype,
            Attribute::Data => &mut self.data,
            Attribute::DataBase64 => &mut self.data_base64,
        }
    }

    /// Sets member `name`; answers its previous value.
    pub fn insert(&mut self, name: &str, value: Value) -> Option<Value> {
        match Attribute::named(name) {
            Some(attribute) => self.slot(attribute).replace(value),
            None => self.insert_other(name.to_owned(), value),
        }
    }

    fn insert_other(&mut self, name: String, value: Value) -> Option<Value> {
        match self.other.iter_mut().find(|(seen, _)| *seen == name) {
            Some((_, kept)) => Some(std::mem::replace(kept, value)),
            None => {
                self.other.push((name, value));
                None
            }
        }
    }

    /// Whether a member without a slot (an envelope key) is present.
    pub fn has_other(&self, name: &str) -> bool {
        self.other.iter().any(|(seen, _)| seen == name)
    }

    /// Takes out a member without a slot.
    pub fn take_other(&mut self, name: &str) -> Option<Value> {
        let index = self.other.iter().position(|(seen, _)| seen == name)?;
        Some(self.other.remove(index).1)
    }

    /// The members without a slot, in document order.
    pub fn into_other(self) -> Vec<(String, Value)> {
        self.other
    }
}

/// A member's name: an attribute, or any other name (allocated only
/// then).
enum Name {
    Attribute(Attribute),
    Other(String),
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Name, E> {
                Ok(Attribute::named(name)
                    .map_or_else(|| Name::Other(name.to_owned()), Name::Attribute))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        let mut members = Members::default();
        while let Some(name) = map.next_key::<Name>()? {
            let value = map.next_value::<Value>()?;
            match name {
                Name::Attribute(attribute) => *members.slot(attribute) = Some(value),
                Name::Other(name) => _ = members.insert_other(name, value),
            }
        }
        Ok(members)
    }
}

/// A visitor's `visit_*` methods for every JSON scalar (booleans,
/// numbers, strings, `null`), each answering `$value`.
macro_rules! any_scalar_is {
    ($value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// One JSON value where an event is expected: an object's members, or
/// anything else (skipped, so the caller can name what is wrong).
#[derive(Debug)]
pub enum Element {
    Object(Box<Members>),
    NotObject,
}

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ElementVisitor)
    }
}

struct ElementVisitor;

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Element, A::Error> {
        MembersVisitor
            .visit_map(map)
            .map(|members| Element::Object(Box::new(members)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Element::NotObject)
    }

    any_scalar_is!(Element::NotObject);
}

/// A batch body: its elements (at most `limit` kept, all counted), or
/// not an array.
#[derive(Debug)]
pub enum Elements {
    Array { kept: Vec<Element>, count: usize },
    NotArray,
}

/// Reads a batch body in one pass, keeping at most `limit` elements (the
/// rest are only checked to be JSON and counted).
pub fn batch_elements(body: &[u8], limit: usize) -> Result<Elements, serde_json::Error> {
    use serde::de::DeserializeSeed;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let elements = BatchSeed { limit }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(elements)
}

struct BatchSeed {
    limit: usize,
}

impl<'de> de::DeserializeSeed<'de> for BatchSeed {
    type Value = Elements;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Elements, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed {
    type Value = Elements;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Elements, A::Error> {
        let mut kept = Vec::new();
        let mut count = 0;
        while count < self.limit {
            match seq.next_element::<Element>()? {
                Some(element) => kept.push(element),
                None => return Ok(Elements::Array { kept, count }),
            }
            count += 1;
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(Elements::Array { kept, count })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Elements, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Elements::NotArray)
    }

    any_scalar_is!(Elements::NotArray);
}

#[cfg(test)]
mod tests;
