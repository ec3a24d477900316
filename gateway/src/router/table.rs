//! The route table: host, then path (matchit), then method.

use std::collections::HashMap;
use std::sync::Arc;

use http::Method;

use crate::config::model::RouteSpec;

/// What the table stores per route: anything that exposes its
/// [`RouteSpec`] (the config's `Arc<RouteSpec>`, or the snapshot's runtime
/// route with its pipeline). The table only reads the spec.
pub trait Routed: Clone {
    fn spec(&self) -> &RouteSpec;
}

impl Routed for Arc<RouteSpec> {
    fn spec(&self) -> &RouteSpec {
        self
    }
}

/// Parameters captured from the path, in their raw (still percent-encoded)
/// form: exactly the bytes the client sent.
///
/// Kept as one string, `name NUL value NUL` per parameter: one allocation
/// per matched request, where a list of owned pairs made one per name and
/// per value as well (callgrind). Neither can hold a NUL: names are the
/// pattern's identifiers, values come from a parsed URI path.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params(String);

const SEPARATOR: char = '\0';

/// Room for parameter names and separators beyond the path's length.
const PARAM_NAMES_ROOM: usize = 32;

impl Params {
    /// The raw value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    /// The percent-decoded value of a parameter, for handlers that use the
    /// value itself rather than forwarding it.
    pub fn decoded(&self, name: &str) -> Option<String> {
        self.get(name).map(|raw| {
            percent_encoding::percent_decode_str(raw)
                .decode_utf8_lossy()
                .into_owned()
        })
    }

    /// Every `(name, raw value)` pair, in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut parts = self.0.split_terminator(SEPARATOR);
        std::iter::from_fn(move || Some((parts.next()?, parts.next()?)))
    }

    fn push(&mut self, name: &str, value: &str) {
        debug_assert!(
            !name.contains(SEPARATOR) && !value.contains(SEPARATOR),
            "a path parameter holds no NUL"
        );
        self.0.push_str(name);
        self.0.push(SEPARATOR);
        self.0.push_str(value);
        self.0.push(SEPARATOR);
    }
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Builds parameters from `(name, raw value)` pairs (handlers' tests, and
/// handlers that synthesise parameters).
impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut params = Params::default();
        for (name, value) in pairs {
            params.push(name.as_ref(), value.as_ref());
        }
        params
    }
}

/// The outcome of matching one request.
#[derive(Debug)]
pub enum RouteMatch<'a, R = Arc<RouteSpec>> {
    Found {
        route: &'a R,
        params: Params,
    },
    /// A route has this path but not this method.
    MethodNotAllowed {
        allow: Vec<Method>,
    },
    NotFound,
}

/// Two routes that cannot both be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConflict {
    /// Index (in the routes slice given to [`RouteTable::build`]) of the
    /// route that could not be added.
    pub route_index: usize,
    /// Index of the route it collides with.
    pub other_index: usize,
    pub message: String,
}

/// An immutable, per-snapshot routing index.
#[derive(Debug)]
pub struct RouteTable<R = Arc<RouteSpec>> {
    by_host: HashMap<String, HostRoutes<R>>,
    any_host: HostRoutes<R>,
}

impl<R> Default for RouteTable<R> {
    fn default() -> Self {
        Self {
            by_host: HashMap::new(),
            any_host: HostRoutes::default(),
        }
    }
}

#[derive(Debug)]
struct HostRoutes<R> {
    paths: matchit::Router<usize>,
    entries: Vec<PathEntry<R>>,
}

impl<R> Default for HostRoutes<R> {
    fn default() -> Self {
        Self {
            paths: matchit::Router::new(),
            entries: Vec::new(),
        }
    }
}

/// Every route sharing one host and one pattern, told apart by method.
#[derive(Debug)]
struct PathEntry<R> {
    routes: Vec<(usize, R)>,
}

impl<R: Routed> RouteTable<R> {
    /// Indexes the routes; every conflict is reported, not just the first.
    pub fn build(routes: &[R]) -> Result<Self, Vec<RouteConflict>> {
        let mut table = RouteTable::default();
        let mut conflicts = Vec::new();
        for (index, route) in routes.iter().enumerate() {
            let host_routes = match &route.spec().host {
                Some(host) => table.by_host.entry(host.to_ascii_lowercase()).or_default(),
                None => &mut table.any_host,
            };
            if let Err(conflict) = host_routes.insert(index, route) {
                conflicts.push(conflict);
            }
        }
        if conflicts.is_empty() {
            Ok(table)
        } else {
            Err(conflicts)
        }
    }

    /// Matches a request. `host` may carry a port; it is ignored.
    pub fn match_request(
        &self,
        method: &Method,
        host: Option<&str>,
        path: &str,
    ) -> RouteMatch<'_, R> {
        // Most tables have no host routes: skip normalizing the host then.
        let host = host.filter(|_| !self.by_host.is_empty());
        if let Some(host_routes) = host.and_then(|h| self.by_host.get(&normalize_host(h))) {
            match host_routes.match_path(method, path) {
                RouteMatch::NotFound => {}
                decided => return decided,
            }
        }
        self.any_host.match_path(method, path)
    }
}

impl<R: Routed> HostRoutes<R> {
    fn insert(&mut self, index: usize, route: &R) -> Result<(), RouteConflict> {
        let pattern = route.spec().path.as_str();
        if let Ok(found) = self.paths.at(pattern) {
            let entry_index = *found.value;
            if self.paths_identical(entry_index, pattern) {
                return self.entries[entry_index].add(index, route);
            }
        }
        let entry_index = self.entries.len();
        match self.paths.insert(pattern, entry_index) {
            Ok(()) => {
                self.entries.push(PathEntry {
                    routes: vec![(index, route.clone())],
                });
                Ok(())
            }
            Err(error) => Err(self.insert_conflict(index, route.spec(), &error)),
        }
    }

    fn paths_identical(&self, entry_index: usize, pattern: &str) -> bool {
        self.entries[entry_index]
            .routes
            .first()
            .is_some_and(|(_, r)| r.spec().path.as_str() == pattern)
    }

    fn insert_conflict(
        &self,
        index: usize,
        route: &RouteSpec,
        error: &matchit::InsertError,
    ) -> RouteConflict {
        let other = match error {
            matchit::InsertError::Conflict { with } => self.entry_with_pattern(with),
            _ => None,
        };
        let (other_index, other_pattern) = other.unwrap_or((index, String::new()));
        let message = if other_pattern.is_empty() {
            format!("path {:?} cannot be routed: {error}", route.path.as_str())
        } else {
            format!(
                "path {:?} overlaps path {:?} (a parameter at the same position must have the same name, and a wildcard must not hide other routes)",
                route.path.as_str(),
                other_pattern
            )
        };
        RouteConflict {
            route_index: index,
            other_index,
            message,
        }
    }

    fn entry_with_pattern(&self, pattern: &str) -> Option<(usize, String)> {
        self.entries.iter().find_map(|entry| {
            let (index, route) = entry.routes.first()?;
            (route.spec().path.as_str() == pattern).then(|| (*index, pattern.to_owned()))
        })
    }

    fn match_path(&self, method: &Method, path: &str) -> RouteMatch<'_, R> {
        let Ok(found) = self.paths.at(path) else {
            return RouteMatch::NotFound;
        };
        let entry = &self.entries[*found.value];
        // The values are parts of the path; the names are short (one pass
        // over matchit's parameters: each step validates UTF-8 again).
        let mut params = Params::default();
        if !found.params.is_empty() {
            params.0.reserve(path.len() + PARAM_NAMES_ROOM);
            for (name, value) in found.params.iter() {
                params.push(name, value);
            }
        }
        match entry.find(method) {
            Some(route) => RouteMatch::Found { route, params },
            None => RouteMatch::MethodNotAllowed {
                allow: entry.allowed_methods(),
            },
        }
    }
}

impl<R: Routed> PathEntry<R> {
    fn add(&mut self, index: usize, route: &R) -> Result<(), RouteConflict> {
        let new = route.spec();
        for (other_index, other) in &self.routes {
            let (other, route) = (other.spec(), new);
            if methods_overlap(other.methods.as_deref(), route.methods.as_deref()) {
                return Err(RouteConflict {
                    route_index: index,
                    other_index: *other_index,
                    message: format!(
                        "route {:?} serves the same path and method as route {:?}",
                        route.name, other.name
                    ),
                });
            }
        }
        self.routes.push((index, route.clone()));
        Ok(())
    }

    fn find(&self, method: &Method) -> Option<&R> {
        let serves = |methods: &Option<Vec<Method>>| match methods {
            None => true,
            Some(list) => {
                list.contains(method) || (method == Method::HEAD && list.contains(&Method::GET))
            }
        };
        self.routes
            .iter()
            .map(|(_, route)| route)
            .find(|route| serves(&route.spec().methods))
    }

    fn allowed_methods(&self) -> Vec<Method> {
        let mut allow: Vec<Method> = Vec::new();
        for method in self
            .routes
            .iter()
            .filter_map(|(_, r)| r.spec().methods.as_ref())
            .flatten()
        {
            if !allow.contains(method) {
                allow.push(method.clone());
            }
        }
        if allow.contains(&Method::GET) && !allow.contains(&Method::HEAD) {
            allow.push(Method::HEAD);
        }
        allow
    }
}

fn methods_overlap(a: Option<&[Method]>, b: Option<&[Method]>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.iter().any(|m| b.contains(m)),
        _ => true,
    }
}

fn normalize_host(host: &str) -> String {
    let name = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    name.to_ascii_lowercase()
}
