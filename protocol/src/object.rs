//! Payloads are objects: serde alone would also take positional arrays.

use serde::Deserialize;

/// Deserialises `T` from a JSON object only. serde's derive would also accept a positional
/// array (`["hi", "u1"]` as `{content, to}`), which is not the guide's wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, map: M) -> Result<T, M::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(ObjectVisitor(std::marker::PhantomData))
            .map(Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SendMessage;
    use serde_json::json;

    #[test]
    fn only_objects_are_payloads() {
        let ok: Object<SendMessage> =
            serde_json::from_value(json!({"content": "x", "to": "u"})).unwrap();
        assert_eq!(ok.0.to, "u");
        assert!(serde_json::from_value::<Object<SendMessage>>(json!(["x", "u"])).is_err());
        assert!(serde_json::from_str::<Object<SendMessage>>(r#"["x","u"]"#).is_err());
        assert!(serde_json::from_value::<Object<SendMessage>>(json!(null)).is_err());
    }
}
