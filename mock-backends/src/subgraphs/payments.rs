//! The payments subgraph: contributes `Order.payment`, takes `Order.total`
//! over from orders (`@override(from: "orders")`), exposes the
//! `PaymentMethod` interface, and `@provides` the payer's name so the
//! gateway need not ask the users subgraph for it.

use std::sync::Arc;

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, ID, Interface, Object, Schema, SimpleObject,
};

use super::auth_directives::FederationSdl;
use super::common::parse_id;
use crate::domain::{Payment, PaymentMethod, PaymentStatus};
use crate::store::Store;

/// The payments subgraph's schema.
pub type PaymentsSchema = Schema<PaymentsQuery, EmptyMutation, EmptySubscription>;

/// Builds the schema on `store`.
pub fn schema(store: Arc<Store>) -> PaymentsSchema {
    Schema::build(PaymentsQuery, EmptyMutation, EmptySubscription)
        .enable_federation()
        .extension(FederationSdl)
        .data(store)
        .finish()
}

/// The payments subgraph's part of an order.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Order")]
pub struct OrderPayment {
    pub id: ID,
    pub payment: Option<PaymentNode>,
    /// The amount charged; the payments subgraph is its source of truth.
    #[graphql(override_from = "orders")]
    pub total: f64,
}

/// The payment of one order.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Payment")]
pub struct PaymentNode {
    pub id: ID,
    pub status: GqlPaymentStatus,
    pub amount: f64,
    pub currency: String,
    pub method: PaymentMethodNode,
    /// Who paid; this subgraph provides the name itself.
    #[graphql(provides = "name")]
    pub payer: Payer,
}

/// The payments subgraph's view of a customer: key plus provided name.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Customer", unresolvable = "id")]
pub struct Payer {
    pub id: ID,
    #[graphql(external)]
    pub name: String,
}

/// Where a payment stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "PaymentStatus")]
pub enum GqlPaymentStatus {
    Pending,
    Completed,
    Refunded,
}

/// How an order was paid.
#[derive(Interface, Clone, Debug)]
#[graphql(name = "PaymentMethod", field(name = "label", ty = "&String"))]
pub enum PaymentMethodNode {
    Card(CardMethod),
    Paypal(PaypalMethod),
    BankTransfer(BankTransferMethod),
}

/// A card, possibly through a wallet such as Apple Pay.
#[derive(SimpleObject, Clone, Debug)]
pub struct CardMethod {
    pub label: String,
    pub wallet: Option<String>,
}

/// A PayPal account.
#[derive(SimpleObject, Clone, Debug)]
pub struct PaypalMethod {
    pub label: String,
    /// Personal data: `payments:read` with `pii:read`, or `admin`.
    #[graphql(requires_scopes = "payments:read pii:read", requires_scopes = "admin")]
    pub account_email: String,
}

/// A bank transfer with its payment reference.
#[derive(SimpleObject, Clone, Debug)]
pub struct BankTransferMethod {
    pub label: String,
    /// The transfer's reference: only for callers granted `payments:read`.
    #[graphql(requires_scopes = "payments:read")]
    pub reference: String,
}

impl PaymentNode {
    fn build(payment: Payment, store: &Store) -> Option<PaymentNode> {
        let order = store.get_order(payment.order_id)?;
        let customer = store.get_customer(order.customer_id)?;
        let method = match payment.method {
            PaymentMethod::Card | PaymentMethod::ApplePay => PaymentMethodNode::Card(CardMethod {
                label: "Card".to_owned(),
                wallet: (payment.method == PaymentMethod::ApplePay).then(|| "apple_pay".to_owned()),
            }),
            PaymentMethod::Paypal => PaymentMethodNode::Paypal(PaypalMethod {
                label: "PayPal".to_owned(),
                account_email: customer.email.clone(),
            }),
            PaymentMethod::BankTransfer => PaymentMethodNode::BankTransfer(BankTransferMethod {
                label: "Bank transfer".to_owned(),
                reference: format!("ORD-{}", &order.id.simple().to_string()[..8]),
            }),
        };
        Some(PaymentNode {
            id: ID(payment.id.to_string()),
            status: match payment.status {
                PaymentStatus::Pending => GqlPaymentStatus::Pending,
                PaymentStatus::Completed => GqlPaymentStatus::Completed,
                PaymentStatus::Refunded => GqlPaymentStatus::Refunded,
            },
            amount: payment.amount,
            currency: payment.currency,
            method,
            payer: Payer {
                id: ID(customer.id.to_string()),
                name: customer.name,
            },
        })
    }
}

/// `Query` of the payments subgraph.
pub struct PaymentsQuery;

#[Object(name = "Query")]
impl PaymentsQuery {
    /// The payment of one order, or null.
    async fn payment(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> async_graphql::Result<Option<PaymentNode>> {
        let store = ctx.data::<Arc<Store>>()?;
        let payment = store.get_payment(parse_id("orderId", &order_id)?);
        Ok(payment.and_then(|payment| PaymentNode::build(payment, store)))
    }

    #[graphql(entity)]
    async fn find_order_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<OrderPayment>> {
        let store = ctx.data::<Arc<Store>>()?;
        let Some(order) = store.get_order(parse_id("id", &id)?) else {
            return Ok(None);
        };
        let payment = store.get_payment(order.id);
        Ok(Some(OrderPayment {
            id,
            total: payment.as_ref().map_or(order.total, |p| p.amount),
            payment: payment.and_then(|payment| PaymentNode::build(payment, store)),
        }))
    }
}
