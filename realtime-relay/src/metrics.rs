//! Prometheus metrics of one relay replica, served as text on their own port.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::channels::Channel;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabel {
    pub channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

pub struct Metrics {
    registry: Registry,
    pub connections: Family<KindLabel, Gauge>,
    pub refused: Family<ReasonLabel, Counter>,
    /// Per channel, indexed by [`Channel::index`] (cached handles: no map lookup per event).
    pub subscriptions: Vec<Gauge>,
    pub delivered: Vec<Counter>,
    pub read: Vec<Counter>,
    pub fanout_lag: Histogram,
    pub redis_reconnects: Counter,
    pub slow_consumers: Counter,
    pub outbox_appended: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sentinel_relay");
        let connections = Family::<KindLabel, Gauge>::default();
        registry.register("connections", "Open WebSocket connections by principal kind", connections.clone());
        let refused = Family::<ReasonLabel, Counter>::default();
        registry.register("connections_refused", "Refused WebSocket upgrades by reason", refused.clone());
        let subscriptions_family = Family::<ChannelLabel, Gauge>::default();
        registry.register("subscriptions", "Current subscriptions per channel", subscriptions_family.clone());
        let delivered_family = Family::<ChannelLabel, Counter>::default();
        registry.register("events_delivered", "Events written to subscriber sockets per channel", delivered_family.clone());
        let read_family = Family::<ChannelLabel, Counter>::default();
        registry.register("events_read", "Events read from the channel streams per channel", read_family.clone());
        let fanout_lag = Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]);
        registry.register("fanout_lag_seconds", "From the event's publish timestamp to its write on a subscriber socket", fanout_lag.clone());
        let redis_reconnects = Counter::default();
        registry.register("redis_reconnects", "Reconnections of the stream reader to Redis", redis_reconnects.clone());
        let slow_consumers = Counter::default();
        registry.register("slow_consumers_dropped", "Connections dropped for falling behind", slow_consumers.clone());
        let outbox_appended = Counter::default();
        registry.register("outbox_appended", "Outbox rows this replica appended to the channel streams", outbox_appended.clone());
        let label = |c: Channel| ChannelLabel { channel: c.name().to_string() };
        Self {
            subscriptions: Channel::ALL.iter().map(|c| subscriptions_family.get_or_create(&label(*c)).clone()).collect(),
            delivered: Channel::ALL.iter().map(|c| delivered_family.get_or_create(&label(*c)).clone()).collect(),
            read: Channel::ALL.iter().map(|c| read_family.get_or_create(&label(*c)).clone()).collect(),
            registry,
            connections,
            refused,
            fanout_lag,
            redis_reconnects,
            slow_consumers,
            outbox_appended,
        }
    }

    pub fn refuse(&self, reason: &str) {
        self.refused.get_or_create(&ReasonLabel { reason: reason.to_string() }).inc();
    }

    pub fn connection_gauge(&self, kind: &str) -> Gauge {
        self.connections.get_or_create(&KindLabel { kind: kind.to_string() }).clone()
    }

    /// OpenMetrics text (what Prometheus scrapes).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("encoding metrics into a String");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
