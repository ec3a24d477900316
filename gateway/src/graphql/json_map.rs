//! Field lookups in `serde_json` maps, linear in a small map. The maps
//! of subgraph answers are `IndexMap`s hashed with SipHash, and shaping
//! or merging a list response looks up a few keys in every object of it:
//! in a profile of a ten-order request, those hashes were about 9% of the
//! instructions. Objects of a GraphQL response are usually small (a
//! handful of selected fields), where comparing the keys in order (a
//! length check, then the bytes) is cheaper than hashing one.

use serde_json::{Map, Value};

/// Up to this many entries, a map is searched in order.
const LINEAR_UP_TO: usize = 8;

/// `map.get(key)`.
pub(crate) fn get<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    if map.len() <= LINEAR_UP_TO {
        map.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
    } else {
        map.get(key)
    }
}

/// `map.get_mut(key)`.
pub(crate) fn get_mut<'v>(map: &'v mut Map<String, Value>, key: &str) -> Option<&'v mut Value> {
    if map.len() <= LINEAR_UP_TO {
        map.iter_mut()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    } else {
        map.get_mut(key)
    }
}

/// The `__typename` of an object, if it is a string.
pub(crate) fn typename(map: &Map<String, Value>) -> Option<&str> {
    get(map, "__typename").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn small_and_large_maps_find_the_same_entries() {
        for size in [0, 1, LINEAR_UP_TO, LINEAR_UP_TO + 1, 40] {
            let mut map: Map<String, Value> =
                (0..size).map(|i| (format!("k{i}"), json!(i))).collect();
            for i in 0..size {
                let key = format!("k{i}");
                assert_eq!(get(&map, &key), Some(&json!(i)), "{key} of {size}");
                *get_mut(&mut map, &key).unwrap() = json!(i * 2);
                assert_eq!(map.get(&key), Some(&json!(i * 2)));
            }
            assert_eq!(get(&map, "absent"), None);
            assert_eq!(get(&map, "k"), None);
            assert!(get_mut(&mut map, "absent").is_none());
        }
        let object = json!({"__typename": "Order", "id": 1});
        assert_eq!(typename(object.as_object().unwrap()), Some("Order"));
        let untyped = json!({"__typename": 7});
        assert_eq!(typename(untyped.as_object().unwrap()), None);
    }
}
