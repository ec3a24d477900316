//! Serving one subgraph over HTTP: `POST /graphql` for queries and
//! mutations, graphql-transport-ws on `GET /graphql` for subscriptions,
//! `/healthz`, a log of the operations received, and a switch that makes
//! every GraphQL request fail with an HTTP status (for partial-data tests).
//! The listener is the services' own (`server::serve_router`), behind the
//! same injection middleware, so `--latency users=200ms` slows the users
//! subgraph as it slows the users REST service.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::{ObjectType, Schema, SubscriptionType};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse, GraphQLSubscription};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Router, middleware};
use http::StatusCode;
use tokio_util::sync::DropGuard;

use super::{SubgraphKind, orders, payments, products, users};
use crate::control::injection::inject;
use crate::control::{Control, ControlState, Faults};
use crate::error::MockError;
use crate::server::{ListenerSupervisor, serve_router};
use crate::store::Store;

/// What the subgraph received and how it should misbehave.
#[derive(Debug, Default)]
struct SubgraphControl {
    operations: Mutex<Vec<String>>,
    open_subscriptions: orders::OpenSubscriptions,
    /// 0: serve normally; otherwise answer every GraphQL POST with this status.
    forced_status: AtomicU16,
}

/// A running subgraph. Dropping it stops the listener.
#[derive(Debug)]
pub struct SubgraphHandle {
    pub kind: SubgraphKind,
    /// The bound address (the real port when started on port 0).
    pub addr: SocketAddr,
    /// Latency, error and down injection and the request log, as on the
    /// REST and gRPC services.
    pub control: Control,
    graphql: Arc<SubgraphControl>,
    supervisor: Arc<ListenerSupervisor>,
    _stop_on_drop: DropGuard,
}

impl SubgraphHandle {
    /// `http://{addr}/graphql`.
    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }

    /// The operation texts received over `POST /graphql`, oldest first.
    pub fn operations(&self) -> Vec<String> {
        lock(&self.graphql.operations).clone()
    }

    /// Forgets the recorded operations.
    pub fn clear_operations(&self) {
        lock(&self.graphql.operations).clear();
    }

    /// How many subscriptions are open (orders only; 0 elsewhere).
    pub fn open_subscriptions(&self) -> usize {
        self.graphql.open_subscriptions.0.load(Ordering::SeqCst)
    }

    /// Stops accepting connections and closes open ones (the subgraph is
    /// down for good; [`Control::set_down`] can bring it back instead).
    pub fn stop(&self) {
        self.supervisor.shutdown.cancel();
    }

    /// `Some(status)` makes every GraphQL POST fail with it; `None` heals.
    pub fn set_forced_status(&self, status: Option<StatusCode>) {
        let code = status.map_or(0, |s| s.as_u16());
        self.graphql.forced_status.store(code, Ordering::SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts one subgraph on `addr` (port 0 picks a free port) with the
/// initial `faults`. Bind errors name it `{kind}-graphql`.
pub async fn start_subgraph(
    kind: SubgraphKind,
    addr: SocketAddr,
    store: Arc<Store>,
    faults: Faults,
) -> Result<SubgraphHandle, MockError> {
    let graphql = Arc::new(SubgraphControl::default());
    let state = ControlState::new(faults.clone());
    let app = router(kind, store, Arc::clone(&graphql))
        .merge(crate::health::routes(Arc::clone(&state), &[]))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), inject));
    let supervisor = serve_router(kind.service_name(), addr, app, faults.down).await?;
    Ok(SubgraphHandle {
        kind,
        addr: supervisor.addr,
        control: Control::new(state, Arc::clone(&supervisor)),
        graphql,
        _stop_on_drop: supervisor.shutdown.clone().drop_guard(),
        supervisor,
    })
}

fn router(kind: SubgraphKind, store: Arc<Store>, control: Arc<SubgraphControl>) -> Router {
    match kind {
        SubgraphKind::Orders => {
            let open = control.open_subscriptions.clone();
            graphql_routes(orders::schema_counting(store, open), control)
        }
        SubgraphKind::Users => graphql_routes(users::schema(store), control),
        SubgraphKind::Products => graphql_routes(products::schema(store), control),
        SubgraphKind::Payments => graphql_routes(payments::schema(store), control),
    }
}

fn graphql_routes<Q, M, S>(schema: Schema<Q, M, S>, control: Arc<SubgraphControl>) -> Router
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let subscriptions = GraphQLSubscription::new(schema.clone());
    Router::new().route(
        "/graphql",
        get_service_ws(subscriptions)
            .post(execute::<Q, M, S>)
            .with_state((schema, control)),
    )
}

fn get_service_ws<Q, M, S>(
    subscriptions: GraphQLSubscription<Schema<Q, M, S>>,
) -> axum::routing::MethodRouter<(Schema<Q, M, S>, Arc<SubgraphControl>)>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    axum::routing::get_service(subscriptions)
}

async fn execute<Q, M, S>(
    State((schema, control)): State<(Schema<Q, M, S>, Arc<SubgraphControl>)>,
    request: GraphQLRequest,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let request = request.into_inner();
    lock(&control.operations).push(request.query.clone());
    let forced = control.forced_status.load(Ordering::SeqCst);
    if let Some(status) = StatusCode::from_u16(forced).ok().filter(|_| forced != 0) {
        return (status, "injected subgraph failure").into_response();
    }
    GraphQLResponse::from(schema.execute(request).await).into_response()
}
