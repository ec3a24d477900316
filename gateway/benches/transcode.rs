//! JSON ⇄ protobuf transcoding cost, per message, for the orders proto:
//! a CreateOrderRequest body to protobuf (the request path) and an Order
//! to JSON (the response path).
//!
//! Run: `CARGO_TARGET_DIR=/work/target cargo bench -p gateway --bench transcode`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gateway::grpc::descriptors::compile_protos;
use gateway::grpc::path_template;
use gateway::grpc::transcode::{self, BodyBinding, JsonOptions, RequestBindings};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage};

fn pool() -> DescriptorPool {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    compile_protos(&[dir.join("orders.proto")], std::slice::from_ref(&dir))
        .expect("orders.proto compiles")
}

const CREATE_ORDER: &str = r#"{"customerId":"7f1d3c1e-0000-4000-8000-000000000001","items":[
  {"productId":"p-1","quantity":2,"unitPrice":29.99},{"productId":"p-2","quantity":1,"unitPrice":49.99},
  {"productId":"p-3","quantity":5,"unitPrice":3.5}]}"#;

fn order_bytes(pool: &DescriptorPool) -> Vec<u8> {
    let order = pool.get_message_by_name("orders.Order").expect("Order");
    let json = r#"{"id":"o-1","customerId":"c-1","status":"SHIPPED","total":109.97,"createdAt":"2024-05-01T10:00:00Z",
      "items":[{"productId":"p-1","quantity":2,"unitPrice":29.99},{"productId":"p-2","quantity":1,"unitPrice":49.99}]}"#;
    transcode::message_from_json(&order, json.as_bytes(), JsonOptions::default())
        .expect("valid Order")
        .encode_to_vec()
}

fn json_to_protobuf(c: &mut Criterion) {
    let pool = pool();
    let input = pool
        .get_message_by_name("orders.CreateOrderRequest")
        .expect("CreateOrderRequest");
    let whole_body = RequestBindings {
        body: BodyBinding::All,
        path: Vec::new(),
    };
    let get = pool
        .get_message_by_name("orders.GetOrderRequest")
        .expect("GetOrderRequest");
    let from_path = RequestBindings {
        body: BodyBinding::None,
        path: path_template::parse("/v1/orders/{order_id}")
            .expect("template")
            .variables,
    };
    let mut group = c.benchmark_group("json_to_protobuf");
    group.throughput(Throughput::Bytes(CREATE_ORDER.len() as u64));
    group.bench_function("create_order_body", |b| {
        b.iter(|| {
            let message = whole_body
                .build(
                    &input,
                    black_box(CREATE_ORDER.as_bytes()),
                    |_| None,
                    None,
                    JsonOptions::default(),
                )
                .expect("valid");
            black_box(transcode::encode(&message))
        })
    });
    group.bench_function("get_order_path_param", |b| {
        b.iter(|| {
            let message = from_path
                .build(
                    &get,
                    b"",
                    |_| Some("7f1d3c1e-0000-4000-8000-000000000001".into()),
                    None,
                    JsonOptions::default(),
                )
                .expect("valid");
            black_box(transcode::encode(&message))
        })
    });
    group.finish();
}

fn protobuf_to_json(c: &mut Criterion) {
    let pool = pool();
    let order = pool.get_message_by_name("orders.Order").expect("Order");
    let bytes = bytes::Bytes::from(order_bytes(&pool));
    let mut group = c.benchmark_group("protobuf_to_json");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("order", |b| {
        b.iter(|| {
            black_box(
                transcode::json_from_protobuf(&order, black_box(bytes.clone())).expect("decodes"),
            )
        })
    });
    group.bench_function("order_decode_only", |b| {
        b.iter(|| {
            black_box(
                DynamicMessage::decode(order.clone(), black_box(bytes.clone())).expect("decodes"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, json_to_protobuf, protobuf_to_json);
criterion_main!(benches);
