//! The chatty client: what a client without a BFF does to show one order's
//! details. It reads the order, then its customer, its products (one batch
//! call) and its payment, either one after another or the last three at
//! once. Every call goes through the gateway's plain proxy routes.

use futures::future::try_join3;
use http::Uri;
use serde_json::Value;

use crate::compare::clients::HttpClient;
use crate::compare::loadgen::{CallError, Probe};

use super::pick;

/// How the three calls after the order are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fanout {
    Sequential,
    Parallel,
}

/// Four calls per logical request.
#[derive(Debug)]
pub struct ChattyClient {
    pub client: HttpClient,
    /// `http://gateway`, no trailing slash.
    pub base: String,
    pub order_ids: Vec<String>,
    pub fanout: Fanout,
}

impl Probe for ChattyClient {
    async fn call(&self, seq: u64) -> Result<(), CallError> {
        let order_id = pick(&self.order_ids, seq);
        let order = self.get_json(&format!("/v1/orders/{order_id}")).await?;
        let customer = order["customer_id"]
            .as_str()
            .ok_or_else(|| CallError::new("order has no customer_id"))?;
        let product_ids = product_ids(&order)?;
        let user = format!("/v1/users/{customer}");
        let products = format!("/v1/products?ids={product_ids}");
        let payment = format!("/v1/payments/{order_id}");
        match self.fanout {
            Fanout::Sequential => {
                self.get_json(&user).await?;
                self.get_json(&products).await?;
                self.get_json(&payment).await?;
            }
            Fanout::Parallel => {
                try_join3(
                    self.get_json(&user),
                    self.get_json(&products),
                    self.get_json(&payment),
                )
                .await?;
            }
        }
        Ok(())
    }
}

impl ChattyClient {
    async fn get_json(&self, path: &str) -> Result<Value, CallError> {
        let uri: Uri = format!("{}{path}", self.base)
            .parse()
            .map_err(|e| CallError::new(format!("bad URI {path}: {e}")))?;
        let body = self.client.get(&uri).await?;
        serde_json::from_slice(&body).map_err(|e| CallError::new(format!("not JSON: {e}")))
    }
}

/// `a,b` from the order's items.
fn product_ids(order: &Value) -> Result<String, CallError> {
    let items = order["items"]
        .as_array()
        .ok_or_else(|| CallError::new("order has no items"))?;
    let ids: Vec<&str> = items
        .iter()
        .filter_map(|item| item["product_id"].as_str())
        .collect();
    Ok(ids.join(","))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn product_ids_join_the_items_in_order() {
        let order = json!({"items": [{"product_id": "a"}, {"product_id": "b"}]});
        assert_eq!(product_ids(&order), Ok("a,b".to_owned()));
    }

    #[test]
    fn an_order_without_items_is_a_call_error() {
        assert_eq!(
            product_ids(&json!({"id": "x"})),
            Err(CallError::new("order has no items"))
        );
    }
}
