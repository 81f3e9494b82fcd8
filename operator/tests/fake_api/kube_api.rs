//! A thin fake of the Kubernetes API server: a `tower` service (`tower_test::mock::pair`,
//! answered by a task) behind a real `kube::Client`, backed by [`Store`]. It answers exactly
//! what the controller calls:
//!
//! - `GET` of one object (a `404` `Status` when absent);
//! - server-side apply (`PATCH`, `application/apply-patch+yaml`, a `fieldManager` required):
//!   the body becomes the object (the fake has one field manager, so the applied fields are
//!   the whole object); on `streamjobs/{name}/status` it becomes the StreamJob's `status`;
//! - JSON merge patch of a StreamJob's `metadata.finalizers` (a `resourceVersion` in the patch
//!   is a precondition: `409` when stale, as on a real server), and of events;
//! - `DELETE` of Deployments, StatefulSets and Leases (`404` when absent);
//! - the metadata-only `LIST` of pods by label selector (`Api::list_metadata`, which asks for
//!   `PartialObjectMetadataList`);
//! - `POST` of `events.k8s.io/v1` events.
//!
//! A StreamJob whose `deletionTimestamp` is set goes away once its last finalizer does.
//! Every request is recorded. Anything else is answered `500` and recorded as unexpected;
//! the harness fails the test on it after each pass.

use super::store::{merge_patch, Resource, Store};
use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// What `Api::list_metadata` accepts.
const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const APPLY: &str = "application/apply-patch+yaml";
const MERGE: &str = "application/merge-patch+json";
/// Resources the operator may delete.
const DELETABLE: [&str; 3] = ["deployments", "statefulsets", "leases"];

/// One request as the fake received it, and its answer's status code.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `GET`, `PATCH`, ...
    pub method: String,
    /// The URL path.
    pub path: String,
    /// The decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body as JSON (`Null` when empty).
    pub body: Value,
    /// The answer's status code.
    pub status: u16,
}

impl Recorded {
    /// The value of a query parameter.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// `METHOD plural[/name[/subresource]]`, e.g. `PATCH deployments/orders-coordinator`.
    pub fn short(&self) -> String {
        let rest = match self.path.split_once("/namespaces/") {
            Some((_, rest)) => rest.split_once('/').map_or(rest, |(_, r)| r),
            None => self.path.as_str(),
        };
        format!("{} {rest}", self.method)
    }

    /// Whether this is a server-side apply.
    pub fn is_apply(&self) -> bool {
        self.method == "PATCH" && self.content_type == APPLY
    }
}

/// The fake's state, shared by the serving task and the test.
#[derive(Default)]
pub struct ApiState {
    /// The objects.
    pub store: Store,
    /// Every request, in order.
    pub log: Vec<Recorded>,
    /// What the fake refused to guess at.
    pub unexpected: Vec<String>,
    /// Also serve what a running `freshet-operator` process needs beyond reconcile passes
    /// (lists for its watches, Lease create and replace for its election); see [`super::http`].
    pub serve_process: bool,
}

/// The fake API server.
#[derive(Clone, Default)]
pub struct FakeKube {
    /// Its state.
    pub state: Arc<Mutex<ApiState>>,
}

impl FakeKube {
    /// A client whose every request this fake answers (needs a Tokio runtime).
    pub fn client(&self) -> kube::Client {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let state = self.state.clone();
        tokio::spawn(async move {
            while let Some((request, reply)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.expect("a readable request body");
                let answer = state.lock().unwrap().answer(&parts, &bytes);
                reply.send_response(answer);
            }
        });
        kube::Client::new(service, "default")
    }
}

/// A parsed `/api/v1/namespaces/NS/PLURAL[/NAME[/SUB]]` or `/apis/G/V/...` path.
pub struct Target {
    /// The resource.
    pub resource: &'static Resource,
    /// The namespace.
    pub namespace: String,
    /// The object's name, if one.
    pub name: Option<String>,
    /// The subresource, if any.
    pub subresource: Option<String>,
}

/// Parses an API path.
pub fn parse_path(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (api_version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => (version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return None,
    };
    let ["namespaces", namespace, plural, tail @ ..] = rest else {
        return None;
    };
    let (name, subresource) = match tail {
        [] => (None, None),
        [name] => (Some(name.to_string()), None),
        [name, sub] => (Some(name.to_string()), Some(sub.to_string())),
        _ => return None,
    };
    Some(Target {
        resource: Resource::find(&api_version, plural)?,
        namespace: namespace.to_string(),
        name,
        subresource,
    })
}

impl ApiState {
    /// Answers one request (and records it).
    pub fn answer(&mut self, parts: &http::request::Parts, body: &[u8]) -> Response<Body> {
        let header = |name: http::header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let mut recorded = Recorded {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parse_query(parts.uri.query().unwrap_or_default()),
            content_type: header(http::header::CONTENT_TYPE),
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
            status: 0,
        };
        let accept = header(http::header::ACCEPT);
        let (status, answer) = match parse_path(&recorded.path) {
            Some(target) => self.route(&recorded, &accept, &target),
            None => self.unexpected(&recorded, "an unknown path"),
        };
        recorded.status = status.as_u16();
        self.log.push(recorded);
        Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(&answer).expect("JSON")))
            .expect("a response")
    }

    fn route(&mut self, request: &Recorded, accept: &str, target: &Target) -> (StatusCode, Value) {
        let plural = target.resource.plural;
        let name = target.name.as_deref();
        match (request.method.as_str(), name, target.subresource.as_deref()) {
            ("GET", Some(name), None) if plural != "events" => self.get(target, name),
            ("GET", None, None) if plural == "pods" && accept == METADATA_LIST => {
                self.list_pod_metadata(request, target)
            }
            ("PATCH", Some(name), sub) if request.content_type == APPLY => self.apply(request, target, name, sub),
            ("PATCH", Some(name), None) if request.content_type == MERGE && plural == "streamjobs" => {
                self.patch_finalizers(request, target, name)
            }
            ("PATCH", Some(name), None) if request.content_type == MERGE && plural == "events" => {
                self.merge(request, target, name)
            }
            ("DELETE", Some(name), None) if DELETABLE.contains(&plural) => self.delete(target, name),
            ("POST", None, None) if plural == "events" => self.create_event(request, target),
            ("GET", None, None) if self.serve_process && plural != "pods" => self.list(request, target),
            ("POST", None, None) if self.serve_process && plural == "leases" => self.create_lease(request, target),
            ("PUT", Some(name), None) if self.serve_process && plural == "leases" => {
                self.replace_lease(request, target, name)
            }
            _ => self.unexpected(request, "a call the controller is not expected to make"),
        }
    }

    fn list(&mut self, request: &Recorded, target: &Target) -> (StatusCode, Value) {
        let selector = match request.query("labelSelector") {
            Some(text) => match Selector::parse(text) {
                Some(s) => Some(s),
                None => return self.unexpected(request, "a label selector the fake does not understand"),
            },
            None => None,
        };
        let items: Vec<Value> = self
            .store
            .list(target.resource, &target.namespace)
            .into_iter()
            .filter(|o| selector.as_ref().is_none_or(|s| s.matches(&o["metadata"]["labels"])))
            .cloned()
            .collect();
        let list = json!({
            "apiVersion": target.resource.api_version,
            "kind": format!("{}List", target.resource.kind),
            "metadata": {"resourceVersion": self.store.version().to_string()},
            "items": items,
        });
        (StatusCode::OK, list)
    }

    fn create_lease(&mut self, request: &Recorded, target: &Target) -> (StatusCode, Value) {
        let Some(name) = request.body["metadata"]["name"].as_str().map(str::to_string) else {
            return self.unexpected(request, "a Lease without a name");
        };
        if self.store.get(target.resource, &target.namespace, &name).is_some() {
            let message = format!("leases.coordination.k8s.io \"{name}\" already exists");
            return (StatusCode::CONFLICT, status_body(409, "AlreadyExists", &message));
        }
        let (stored, _) = self
            .store
            .put(target.resource, &target.namespace, &name, request.body.clone());
        (StatusCode::CREATED, stored)
    }

    fn replace_lease(&mut self, request: &Recorded, target: &Target, name: &str) -> (StatusCode, Value) {
        let Some(current) = self.store.get(target.resource, &target.namespace, name) else {
            return not_found(target, name);
        };
        let expected = request.body["metadata"]["resourceVersion"].as_str().unwrap_or_default();
        if current["metadata"]["resourceVersion"].as_str() != Some(expected) {
            let message = format!(
                "Operation cannot be fulfilled on leases.coordination.k8s.io \"{name}\": the object has been modified"
            );
            return (StatusCode::CONFLICT, status_body(409, "Conflict", &message));
        }
        let (stored, _) = self
            .store
            .put(target.resource, &target.namespace, name, request.body.clone());
        (StatusCode::OK, stored)
    }

    fn get(&mut self, target: &Target, name: &str) -> (StatusCode, Value) {
        match self.store.get(target.resource, &target.namespace, name) {
            Some(object) => (StatusCode::OK, object.clone()),
            None => not_found(target, name),
        }
    }

    fn list_pod_metadata(&mut self, request: &Recorded, target: &Target) -> (StatusCode, Value) {
        let Some(selector) = request.query("labelSelector").and_then(Selector::parse) else {
            return self.unexpected(request, "a pod list without a label selector the fake understands");
        };
        let items: Vec<Value> = self
            .store
            .list(target.resource, &target.namespace)
            .into_iter()
            .filter(|pod| selector.matches(&pod["metadata"]["labels"]))
            .map(|pod| {
                json!({
                    "apiVersion": "meta.k8s.io/v1",
                    "kind": "PartialObjectMetadata",
                    "metadata": pod["metadata"],
                })
            })
            .collect();
        let list = json!({
            "apiVersion": "meta.k8s.io/v1",
            "kind": "PartialObjectMetadataList",
            "metadata": {"resourceVersion": "1"},
            "items": items,
        });
        (StatusCode::OK, list)
    }

    fn apply(&mut self, request: &Recorded, target: &Target, name: &str, sub: Option<&str>) -> (StatusCode, Value) {
        let resource = target.resource;
        if request.query("fieldManager").is_none_or(str::is_empty) {
            return self.unexpected(request, "a server-side apply without a field manager");
        }
        let body = &request.body;
        if body["apiVersion"] != resource.api_version || body["kind"] != resource.kind {
            return self.unexpected(request, "an applied object whose apiVersion/kind do not match its URL");
        }
        match (resource.plural, sub) {
            ("streamjobs", Some("status")) => {
                let Some(job) = self.store.get(resource, &target.namespace, name) else {
                    return not_found(target, name);
                };
                let extra: Vec<&String> = body
                    .as_object()
                    .into_iter()
                    .flat_map(|o| o.keys())
                    .filter(|k| !["apiVersion", "kind", "status", "metadata"].contains(&k.as_str()))
                    .collect();
                if !extra.is_empty() {
                    return self.unexpected(request, "a status apply carrying more than the status");
                }
                let mut job = job.clone();
                job["status"] = body["status"].clone();
                let (stored, _) = self.store.put(resource, &target.namespace, name, job);
                (StatusCode::OK, stored)
            }
            ("streamjobs", _) | (_, Some(_)) => self.unexpected(
                request,
                "an apply the operator must not make (a StreamJob's spec, a subresource)",
            ),
            _ => {
                let named = body["metadata"]["name"].as_str() == Some(name);
                let namespace_ok = body["metadata"]["namespace"]
                    .as_str()
                    .is_none_or(|ns| ns == target.namespace);
                if !named || !namespace_ok {
                    return self.unexpected(request, "an applied object whose name/namespace differ from its URL");
                }
                let (stored, created) = self.store.put(resource, &target.namespace, name, body.clone());
                let code = if created { StatusCode::CREATED } else { StatusCode::OK };
                (code, stored)
            }
        }
    }

    fn patch_finalizers(&mut self, request: &Recorded, target: &Target, name: &str) -> (StatusCode, Value) {
        let patch = &request.body;
        let only_finalizers = patch.as_object().is_some_and(|o| o.keys().all(|k| k == "metadata"))
            && patch["metadata"]
                .as_object()
                .is_some_and(|m| m.keys().all(|k| k == "finalizers" || k == "resourceVersion"));
        if !only_finalizers {
            return self.unexpected(request, "a StreamJob merge patch touching more than its finalizers");
        }
        let Some(job) = self.store.get(target.resource, &target.namespace, name) else {
            return not_found(target, name);
        };
        if let Some(expected) = patch["metadata"]["resourceVersion"].as_str() {
            let current = job["metadata"]["resourceVersion"].as_str().unwrap_or_default();
            if expected != current {
                let message = format!(
                    "Operation cannot be fulfilled on streamjobs.freshet.dev \"{name}\": the object has been modified; please apply your changes to the latest version and try again (patch has resourceVersion {expected}, stored {current})"
                );
                return (StatusCode::CONFLICT, status_body(409, "Conflict", &message));
            }
        }
        let mut job = job.clone();
        merge_patch(&mut job, patch);
        let finalizers_left = job["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
        if job["metadata"]["deletionTimestamp"].is_string() && !finalizers_left {
            self.store.remove(target.resource, &target.namespace, name);
            return (StatusCode::OK, job);
        }
        let (stored, _) = self.store.put(target.resource, &target.namespace, name, job);
        (StatusCode::OK, stored)
    }

    fn merge(&mut self, request: &Recorded, target: &Target, name: &str) -> (StatusCode, Value) {
        let Some(object) = self.store.get(target.resource, &target.namespace, name) else {
            return not_found(target, name);
        };
        let mut object = object.clone();
        merge_patch(&mut object, &request.body);
        let (stored, _) = self.store.put(target.resource, &target.namespace, name, object);
        (StatusCode::OK, stored)
    }

    fn delete(&mut self, target: &Target, name: &str) -> (StatusCode, Value) {
        match self.store.remove(target.resource, &target.namespace, name) {
            Some(_) => (StatusCode::OK, status_body(200, "", "")),
            None => not_found(target, name),
        }
    }

    fn create_event(&mut self, request: &Recorded, target: &Target) -> (StatusCode, Value) {
        let mut event = request.body.clone();
        if event["apiVersion"] != target.resource.api_version || event["kind"] != "Event" {
            return self.unexpected(request, "an event that is not events.k8s.io/v1");
        }
        let count = self.store.list(target.resource, &target.namespace).len();
        let name = match event["metadata"]["name"].as_str() {
            Some(name) => name.to_string(),
            None => format!("event-{count}"),
        };
        if self.store.get(target.resource, &target.namespace, &name).is_some() {
            return (StatusCode::CONFLICT, status_body(409, "AlreadyExists", &name));
        }
        if !event["metadata"].is_object() {
            event["metadata"] = json!({});
        }
        let (stored, _) = self.store.put(target.resource, &target.namespace, &name, event);
        (StatusCode::CREATED, stored)
    }

    fn unexpected(&mut self, request: &Recorded, why: &str) -> (StatusCode, Value) {
        let message = format!(
            "fake API server: unexpected request ({why}): {} {} query={:?} content-type={:?} body={}",
            request.method, request.path, request.query, request.content_type, request.body
        );
        eprintln!("{message}");
        self.unexpected.push(message.clone());
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            status_body(500, "InternalError", &message),
        )
    }
}

fn not_found(target: &Target, name: &str) -> (StatusCode, Value) {
    let message = format!("{} \"{name}\" not found", target.resource.plural);
    (StatusCode::NOT_FOUND, status_body(404, "NotFound", &message))
}

/// A `meta/v1` `Status`.
fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": if code < 400 { "Success" } else { "Failure" },
        "reason": reason,
        "message": message,
        "code": code,
    })
}

/// A label selector of `key=value` and `key in (a,b)` terms, the forms the controller uses.
/// A label selector (`k=v`, `k in (a,b)`).
pub struct Selector(Vec<(String, Vec<String>)>);

impl Selector {
    /// Parses one.
    pub fn parse(text: &str) -> Option<Selector> {
        let mut terms = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            let (term, tail) = match rest.find(" in (") {
                Some(at) if rest[..at].find([',', '=']).is_none() => {
                    let close = rest.find(')')?;
                    let values = rest[at + 5..close].split(',').map(|v| v.trim().to_string()).collect();
                    ((rest[..at].trim().to_string(), values), &rest[close + 1..])
                }
                _ => {
                    let end = rest.find(',').unwrap_or(rest.len());
                    let (key, value) = rest[..end].split_once('=')?;
                    if key.ends_with('!') || value.starts_with('=') {
                        return None;
                    }
                    ((key.trim().to_string(), vec![value.trim().to_string()]), &rest[end..])
                }
            };
            terms.push(term);
            rest = tail.trim_start_matches(',').trim();
        }
        Some(Selector(terms))
    }

    /// Whether `labels` match.
    pub fn matches(&self, labels: &Value) -> bool {
        self.0
            .iter()
            .all(|(key, values)| labels[key].as_str().is_some_and(|v| values.iter().any(|w| w == v)))
    }
}

/// Decodes an `application/x-www-form-urlencoded` query.
/// Decodes a query string.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                out.push(u8::from_str_radix(hex, 16).expect("a percent escape"));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8 query")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_of_the_controller_parse_and_match() {
        let selector =
            Selector::parse("freshet.dev/job=orders,app.kubernetes.io/component in (coordinator,worker)").unwrap();
        let pod = |component: &str| json!({"freshet.dev/job": "orders", "app.kubernetes.io/component": component});
        assert!(selector.matches(&pod("worker")));
        assert!(selector.matches(&pod("coordinator")));
        assert!(!selector.matches(&pod("job")));
        assert!(!selector.matches(&json!({"app.kubernetes.io/component": "worker"})));
        assert!(Selector::parse("a!=b").is_none());
    }

    #[test]
    fn queries_decode() {
        assert_eq!(
            parse_query("labelSelector=freshet.dev%2Fjob%3Dorders+x&force=true"),
            vec![
                ("labelSelector".to_string(), "freshet.dev/job=orders x".to_string()),
                ("force".to_string(), "true".to_string())
            ]
        );
    }
}
