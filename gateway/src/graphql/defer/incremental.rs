//! A deferred part's result as `incremental` entries: one per object the
//! fragment applies to, found by walking the part's path through the
//! primary result (lists fan out by index) and the part's own result side
//! by side. Objects the primary result has as null, and objects of another
//! type than the fragment's condition (empty in the part's result), get no
//! entry.

use serde_json::{Map, Value, json};

use super::split::{DeferredPart, PathStep};
use crate::graphql::error::GraphqlError;

/// The entries for `part`, whose operation returned `data` and `errors`.
pub fn entries(
    primary: &Value,
    data: &Value,
    part: &DeferredPart,
    errors: Vec<GraphqlError>,
) -> Vec<Value> {
    let mut found = Vec::new();
    walk(primary, data, &part.path, &mut Vec::new(), &mut found);
    let mut entries: Vec<Value> = found
        .into_iter()
        .map(|(path, object)| {
            let mut entry = json!({ "data": Value::Object(object), "path": path });
            if let Some(label) = &part.label {
                entry["label"] = Value::from(label.as_str());
            }
            entry
        })
        .collect();
    if !errors.is_empty() {
        match entries.first_mut() {
            Some(first) => first["errors"] = json!(errors),
            None => {
                let path: Vec<Value> = part
                    .path
                    .iter()
                    .filter_map(|step| match step {
                        PathStep::Field(key) => Some(Value::from(key.as_str())),
                        PathStep::Type(_) => None,
                    })
                    .collect();
                let mut entry = json!({ "errors": errors, "path": path });
                if let Some(label) = &part.label {
                    entry["label"] = Value::from(label.as_str());
                }
                entries.push(entry);
            }
        }
    }
    entries
}

fn walk(
    primary: &Value,
    data: &Value,
    steps: &[PathStep],
    path: &mut Vec<Value>,
    found: &mut Vec<(Vec<Value>, Map<String, Value>)>,
) {
    if let (Value::Array(primary), Value::Array(data)) = (primary, data) {
        for (index, (p, d)) in primary.iter().zip(data).enumerate() {
            path.push(Value::from(index));
            walk(p, d, steps, path, found);
            path.pop();
        }
        return;
    }
    match steps.split_first() {
        // The type is checked at the end: another type's object is empty.
        Some((PathStep::Type(_), rest)) => walk(primary, data, rest, path, found),
        Some((PathStep::Field(key), rest)) => {
            if let (Some(p), Some(d)) = (primary.get(key), data.get(key)) {
                path.push(Value::from(key.as_str()));
                walk(p, d, rest, path, found);
                path.pop();
            }
        }
        None => {
            if let (Value::Object(_), Value::Object(object)) = (primary, data)
                && !object.is_empty()
            {
                found.push((path.clone(), object.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::entries;
    use crate::graphql::defer::split::{DeferredPart, PathStep};

    fn part(path: Vec<PathStep>) -> DeferredPart {
        DeferredPart {
            query: String::new(),
            label: Some("l".into()),
            path,
            type_condition: None,
        }
    }

    #[test]
    fn lists_fan_out_by_index_and_null_or_other_type_objects_are_skipped() {
        let primary = json!({ "orders": [{ "id": 1 }, null, { "id": 3 }, { "id": 4 }] });
        let data = json!({ "orders": [{ "total": 10 }, { "total": 20 }, {}, { "total": 40 }] });
        let part = part(vec![PathStep::Field("orders".into())]);
        assert_eq!(
            entries(&primary, &data, &part, Vec::new()),
            vec![
                json!({ "data": { "total": 10 }, "path": ["orders", 0], "label": "l" }),
                json!({ "data": { "total": 40 }, "path": ["orders", 3], "label": "l" }),
            ]
        );
    }
}
