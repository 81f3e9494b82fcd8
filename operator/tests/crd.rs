//! The generated StreamJob CRD: a valid structural schema for `apiextensions.k8s.io/v1`, the
//! names, subresources and printer columns, and its CEL rules evaluated for real (kube-cel).
//!
//! The structural-schema rules are those of
//! <https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema>.

use freshet_operator::crd::{JobSource, StreamJob, StreamJobSpec};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::{json, Map, Value};

/// Keys that are not allowed anywhere in a CRD schema.
const FORBIDDEN_KEYS: &[&str] = &["$ref", "definitions", "$schema", "id", "$id", "$defs"];
/// Keys that must not appear inside allOf/anyOf/oneOf/not.
const NOT_IN_JUNCTORS: &[&str] = &["type", "default", "additionalProperties", "nullable", "description"];
const JUNCTORS: &[&str] = &["allOf", "anyOf", "oneOf"];

/// Every way `schema` (an openAPIV3Schema) is not structural, with its path; empty when it is.
fn structural_violations(schema: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check_node(schema, "", &mut errors);
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        errors.push("<root>: type must be object".into());
    }
    if let Some(metadata) = schema.pointer("/properties/metadata") {
        check_metadata(metadata, &mut errors);
    }
    errors
}

fn flag(node: &Map<String, Value>, key: &str) -> bool {
    node.get(key).and_then(Value::as_bool) == Some(true)
}

/// A node outside the junctors: it specifies a type, and its children are nodes too.
fn check_node(node: &Value, path: &str, errors: &mut Vec<String>) {
    let at = if path.is_empty() { "<root>" } else { path };
    let Some(map) = node.as_object() else {
        errors.push(format!("{at}: a schema must be an object"));
        return;
    };
    for key in FORBIDDEN_KEYS {
        if map.contains_key(*key) {
            errors.push(format!("{at}: {key} is not allowed"));
        }
    }
    let int_or_string = flag(map, "x-kubernetes-int-or-string");
    let preserve = flag(map, "x-kubernetes-preserve-unknown-fields");
    let has_type = map.get("type").and_then(Value::as_str).is_some_and(|t| !t.is_empty());
    if !has_type && !int_or_string && !preserve {
        errors.push(format!("{at}: no type"));
    }
    if map.contains_key("properties")
        && map
            .get("additionalProperties")
            .is_some_and(|a| a != &Value::Bool(false))
    {
        errors.push(format!(
            "{at}: properties and additionalProperties are mutually exclusive"
        ));
    }
    for junctor in JUNCTORS {
        if let Some(subs) = map.get(*junctor) {
            match subs.as_array() {
                Some(subs) => {
                    for (i, sub) in subs.iter().enumerate() {
                        check_junctor(sub, map, &format!("{path}.{junctor}[{i}]"), int_or_string, errors);
                    }
                }
                None => errors.push(format!("{at}: {junctor} must be a list")),
            }
        }
    }
    if let Some(sub) = map.get("not") {
        check_junctor(sub, map, &format!("{path}.not"), false, errors);
    }
    if let Some(properties) = map.get("properties") {
        match properties.as_object() {
            Some(properties) => {
                for (name, child) in properties {
                    check_node(child, &format!("{path}.{name}"), errors);
                }
            }
            None => errors.push(format!("{at}: properties must be a map")),
        }
    }
    match map.get("items") {
        Some(Value::Array(_)) => errors.push(format!("{at}: items must be one schema, not a list")),
        Some(items) => check_node(items, &format!("{path}[]"), errors),
        None if map.get("type").and_then(Value::as_str) == Some("array") => {
            errors.push(format!("{at}: an array needs items"))
        }
        None => {}
    }
    if let Some(additional) = map.get("additionalProperties").filter(|a| a.is_object()) {
        check_node(additional, &format!("{path}{{}}"), errors);
    }
}

/// `sub`, a schema inside a junctor of `outer`: value validations only, and only on fields and
/// items `outer` specifies itself.
fn check_junctor(sub: &Value, outer: &Map<String, Value>, path: &str, int_or_string: bool, errors: &mut Vec<String>) {
    let Some(map) = sub.as_object() else {
        errors.push(format!("{path}: a schema must be an object"));
        return;
    };
    // The one exception: `x-kubernetes-int-or-string` may say anyOf [{type: integer}, {type: string}].
    let int_or_string_branch = int_or_string
        && map.len() == 1
        && matches!(
            map.get("type").and_then(Value::as_str),
            Some("integer") | Some("string")
        );
    if !int_or_string_branch {
        for key in NOT_IN_JUNCTORS {
            if map.contains_key(*key) {
                errors.push(format!("{path}: {key} is not allowed inside allOf/anyOf/oneOf/not"));
            }
        }
    }
    for key in FORBIDDEN_KEYS {
        if map.contains_key(*key) {
            errors.push(format!("{path}: {key} is not allowed"));
        }
    }
    if let Some(properties) = map.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            match outer
                .get("properties")
                .and_then(|p| p.get(name))
                .and_then(Value::as_object)
            {
                Some(outer_child) => check_junctor(child, outer_child, &format!("{path}.{name}"), false, errors),
                None => errors.push(format!("{path}.{name}: not specified outside the junctor")),
            }
        }
    }
    if let Some(items) = map.get("items") {
        match outer.get("items").and_then(Value::as_object) {
            Some(outer_items) => check_junctor(items, outer_items, &format!("{path}[]"), false, errors),
            None => errors.push(format!("{path}[]: items not specified outside the junctor")),
        }
    }
    for junctor in JUNCTORS {
        if let Some(subs) = map.get(*junctor).and_then(Value::as_array) {
            for (i, nested) in subs.iter().enumerate() {
                check_junctor(nested, outer, &format!("{path}.{junctor}[{i}]"), int_or_string, errors);
            }
        }
    }
    if let Some(nested) = map.get("not") {
        check_junctor(nested, outer, &format!("{path}.not"), false, errors);
    }
}

/// `metadata` may only restrict `name` and `generateName`.
fn check_metadata(metadata: &Value, errors: &mut Vec<String>) {
    let Some(map) = metadata.as_object() else { return };
    for key in map.keys() {
        if !["type", "description", "properties"].contains(&key.as_str()) {
            errors.push(format!(
                ".metadata: {key} is not allowed (only name/generateName restrictions)"
            ));
        }
    }
    if let Some(properties) = map.get("properties").and_then(Value::as_object) {
        for name in properties.keys() {
            if name != "name" && name != "generateName" {
                errors.push(format!(
                    ".metadata.{name}: only name and generateName may be restricted"
                ));
            }
        }
    }
}

fn crd() -> CustomResourceDefinition {
    StreamJob::crd()
}

fn open_api_schema() -> Value {
    let crd = crd();
    assert_eq!(crd.spec.versions.len(), 1);
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .unwrap()
        .open_api_v3_schema
        .as_ref()
        .unwrap();
    serde_json::to_value(schema).unwrap()
}

#[test]
fn the_crd_is_a_structural_schema() {
    let errors = structural_violations(&open_api_schema());
    assert!(errors.is_empty(), "not structural:\n{}", errors.join("\n"));
}

#[test]
fn the_checker_rejects_non_structural_schemas() {
    let cases = [
        (
            json!({"type": "object", "properties": {"a": {"description": "no type"}}}),
            ".a: no type",
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "string"}},
                   "anyOf": [{"properties": {"a": {"type": "string"}}}]}),
            ".anyOf[0].a: type is not allowed",
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "string"}},
                   "oneOf": [{"properties": {"b": {"minLength": 1}}}]}),
            ".oneOf[0].b: not specified outside",
        ),
        (
            json!({"type": "object", "allOf": [{"default": {}}]}),
            ".allOf[0]: default is not allowed",
        ),
        (
            json!({"type": "object", "not": {"nullable": true}}),
            ".not: nullable is not allowed",
        ),
        (
            json!({"type": "object", "properties": {"a": {"$ref": "#/definitions/x"}}}),
            ".a: $ref is not allowed",
        ),
        (
            json!({"type": "object", "definitions": {}}),
            "<root>: definitions is not allowed",
        ),
        (
            json!({"type": "object", "properties": {"metadata": {"type": "object",
                   "properties": {"labels": {"type": "object"}}}}}),
            ".metadata.labels: only name and generateName",
        ),
        (
            json!({"type": "array", "items": [{"type": "string"}]}),
            "items must be one schema",
        ),
        (json!({"properties": {}}), "<root>: no type"),
    ];
    for (schema, expected) in cases {
        let errors = structural_violations(&schema);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{schema}: expected an error containing {expected:?}, got {errors:?}"
        );
    }
    // And what is allowed: int-or-string with its anyOf, preserve-unknown-fields without a type,
    // value validations in junctors on fields specified outside, name restrictions on metadata.
    let fine = json!({"type": "object", "properties": {
        "q": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "free": {"x-kubernetes-preserve-unknown-fields": true},
        "s": {"type": "string"},
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 40}}}
    }, "oneOf": [{"required": ["s"]}, {"properties": {"s": {"minLength": 2}}}]});
    assert_eq!(structural_violations(&fine), Vec::<String>::new());
}

#[test]
fn names_scope_subresources_and_printer_columns() {
    let crd = crd();
    assert_eq!(crd.metadata.name.as_deref(), Some("streamjobs.freshet.dev"));
    assert_eq!(crd.spec.group, "freshet.dev");
    assert_eq!(crd.spec.scope, "Namespaced");
    let names = &crd.spec.names;
    assert_eq!(names.kind, "StreamJob");
    assert_eq!(names.plural, "streamjobs");
    assert_eq!(names.singular.as_deref(), Some("streamjob"));
    assert_eq!(names.short_names.as_deref(), Some(&["sj".to_string()][..]));

    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(version.served && version.storage);
    let subresources = version.subresources.as_ref().expect("subresources");
    assert!(subresources.status.is_some(), "status subresource");
    let scale = subresources.scale.as_ref().expect("scale subresource");
    assert_eq!(scale.spec_replicas_path, ".spec.parallelism");
    assert_eq!(scale.status_replicas_path, ".status.parallelism");
    assert_eq!(scale.label_selector_path.as_deref(), Some(".status.selector"));

    let columns: Vec<(&str, &str, &str)> = version
        .additional_printer_columns
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|c| (c.name.as_str(), c.type_.as_str(), c.json_path.as_str()))
        .collect();
    assert_eq!(
        columns,
        vec![
            ("Phase", "string", ".status.phase"),
            ("Job State", "string", ".status.job.state"),
            ("Parallelism", "integer", ".spec.parallelism"),
            ("Last Savepoint", "string", ".status.latestSavepoint.location"),
            ("Age", "date", ".metadata.creationTimestamp"),
        ]
    );
}

// --- CEL rules, evaluated by kube-cel -------------------------------------------------------

/// A spec as the API server sees it: defaults applied (by a round trip through the type).
fn spec(value: Value) -> Value {
    let typed: StreamJobSpec = serde_json::from_value(value).unwrap();
    serde_json::to_value(typed).unwrap()
}

/// A valid spec: SQL, savepoint upgrades with a savepoint directory.
fn valid() -> Value {
    json!({
        "image": "freshet:0.1.0",
        "job": {"sql": "INSERT INTO out SELECT * FROM bid;"},
        "parallelism": 2,
        "savepoints": {"directory": "s3://bucket/savepoints"}
    })
}

fn with(mut base: Value, patch: Value) -> Value {
    fn merge(base: &mut Value, patch: Value) {
        match (base, patch) {
            (Value::Object(b), Value::Object(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        b.remove(&k);
                    } else {
                        merge(b.entry(k).or_insert(Value::Null), v);
                    }
                }
            }
            (b, p) => *b = p,
        }
    }
    merge(&mut base, patch);
    base
}

/// The messages of the rules `value` breaks.
fn spec_failures(value: Value) -> Vec<String> {
    match StreamJobSpec::validate_cel(&spec(value), None) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_vec().into_iter().map(|e| e.message).collect(),
    }
}

#[test]
fn valid_specs_pass_the_cel_rules() {
    let cases = [
        valid(),
        with(valid(), json!({"upgradeMode": "stateless", "savepoints": null})),
        with(
            valid(),
            json!({"upgradeMode": "last-state", "checkpointing": {"storage": "s3://b/chk"}, "savepoints": null}),
        ),
        with(valid(), json!({"parallelism": 128, "maxParallelism": 128})),
        with(
            valid(),
            json!({"savepoints": {"directory": "s3://b/sp", "periodicInterval": "6h", "onDeletion": true}}),
        ),
        with(
            valid(),
            json!({"job": {"sql": null, "entrypoint": ["/run.sh"], "args": ["--x"]}}),
        ),
        with(valid(), json!({"rollback": {"enabled": true}})),
        with(
            valid(),
            json!({"upgradeMode": "stateless", "savepoints": null, "rollback": {"enabled": false}}),
        ),
    ];
    for case in cases {
        assert_eq!(spec_failures(case.clone()), Vec::<String>::new(), "{case}");
    }
}

/// The message of the rule that savepoint upgrades need somewhere to put savepoints.
const SAVEPOINT_RULE: &str = "upgradeMode savepoint needs spec.savepoints.directory (or spec.checkpointing, whose storage keeps savepoints by default); set upgradeMode: stateless for a job without state";

#[test]
fn savepoint_mode_accepts_checkpoint_storage_as_the_savepoint_directory() {
    let spec = with(
        valid(),
        json!({"savepoints": null, "checkpointing": {"storage": "s3://b/chk"}}),
    );
    assert_eq!(spec_failures(spec), Vec::<String>::new());
}

#[test]
fn each_cel_rule_rejects_its_bad_case() {
    let cases = [
        (
            with(valid(), json!({"savepoints": null})),
            SAVEPOINT_RULE,
        ),
        (
            with(valid(), json!({"savepoints": {"directory": null, "historyMaxCount": 3}})),
            SAVEPOINT_RULE,
        ),
        (
            with(valid(), json!({"upgradeMode": "last-state"})),
            "upgradeMode last-state needs spec.checkpointing",
        ),
        (
            with(valid(), json!({"parallelism": 200, "maxParallelism": 128})),
            "spec.parallelism must not exceed spec.maxParallelism",
        ),
        (
            with(valid(), json!({"upgradeMode": "stateless", "savepoints": {"directory": null, "periodicInterval": "6h"}})),
            "periodic savepoints need spec.savepoints.directory",
        ),
        (
            with(valid(), json!({"upgradeMode": "stateless", "savepoints": {"directory": null, "onDeletion": true}})),
            "a savepoint on deletion needs spec.savepoints.directory",
        ),
        (
            with(valid(), json!({"upgradeMode": "stateless", "savepoints": null, "rollback": {"enabled": true}})),
            "rollback restores the last stable spec from a savepoint or checkpoint; it needs upgradeMode savepoint or last-state",
        ),
        (
            with(valid(), json!({"job": {"sql": "SELECT 1;", "entrypoint": ["/run.sh"]}})),
            "set exactly one of job.sql and job.entrypoint",
        ),
        (with(valid(), json!({"job": {"sql": null}})), "set exactly one of job.sql and job.entrypoint"),
        (
            with(valid(), json!({"job": {"sql": "SELECT 1;", "args": ["--x"]}})),
            "job.args needs job.entrypoint",
        ),
    ];
    for (case, expected) in cases {
        assert_eq!(spec_failures(case.clone()), vec![expected.to_string()], "{case}");
    }
}

#[test]
fn job_source_rules_hold_on_their_own() {
    let check = |v: Value| JobSource::validate_cel(&v, None).map_err(|e| e.into_vec().len());
    assert_eq!(check(json!({"sql": "SELECT 1;"})), Ok(()));
    assert_eq!(check(json!({"entrypoint": ["/run.sh"], "args": ["a"]})), Ok(()));
    assert_eq!(check(json!({"sql": "SELECT 1;", "entrypoint": ["/run.sh"]})), Err(1));
    assert_eq!(check(json!({})), Err(1));
    assert_eq!(check(json!({"sql": "SELECT 1;", "args": ["a"]})), Err(1));
}

#[test]
fn the_whole_resource_is_checked_through_the_crd() {
    // The same rules reached from the CRD's schema (what the API server evaluates).
    let good: StreamJob = serde_json::from_value(json!({
        "apiVersion": "freshet.dev/v1alpha1", "kind": "StreamJob",
        "metadata": {"name": "j", "namespace": "default"},
        "spec": valid()
    }))
    .unwrap();
    assert!(kube::core::cel::validate_cel(&good).is_ok());
    let mut bad = good.clone();
    bad.spec.parallelism = 500;
    bad.spec.max_parallelism = Some(128);
    let errors = kube::core::cel::validate_cel(&bad).unwrap_err().into_vec();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].message,
        "spec.parallelism must not exceed spec.maxParallelism"
    );
}
