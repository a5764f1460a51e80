//! Kafka's config names, each with its setter: the one table per kind of config.

use super::*;

// ----- configs: Kafka's names ------------------------------------------------------------

/// Sets `target` if the file gave a value.
pub(super) fn set_if<T>(target: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *target = v;
    }
}

fn int(value: &toml::Value) -> Result<i64, ConfigWhy> {
    value.as_integer().ok_or(ConfigWhy::NotInteger {
        found: value.type_str(),
    })
}

fn non_negative(value: &toml::Value) -> Result<i64, ConfigWhy> {
    match int(value)? {
        n if n >= 0 => Ok(n),
        n => Err(ConfigWhy::Negative { value: n }),
    }
}

fn unsigned(value: &toml::Value) -> Result<usize, ConfigWhy> {
    usize::try_from(non_negative(value)?).map_err(|_| ConfigWhy::OutOfRange)
}

fn unsigned32(value: &toml::Value) -> Result<u32, ConfigWhy> {
    u32::try_from(non_negative(value)?).map_err(|_| ConfigWhy::NotBelow2To32)
}

fn positive32(value: &toml::Value) -> Result<u32, ConfigWhy> {
    match unsigned32(value)? {
        0 => Err(ConfigWhy::BelowOne),
        n => Ok(n),
    }
}

fn seconds_as_ms(value: &toml::Value) -> Result<i64, ConfigWhy> {
    non_negative(value)?
        .checked_mul(1_000)
        .ok_or(ConfigWhy::TooManySeconds)
}

fn boolean(value: &toml::Value) -> Result<bool, ConfigWhy> {
    value.as_bool().ok_or(ConfigWhy::NotBoolean {
        found: value.type_str(),
    })
}

type Setter<C> = fn(&mut C, &toml::Value) -> Result<(), ConfigWhy>;

/// A setter for one config field, the value read by `$read`.
macro_rules! set {
    ($($field:ident).+ = $read:ident) => {
        |c, v| {
            c.$($field).+ = $read(v)?;
            Ok(())
        }
    };
}

/// Topic-level configs, by their topic names.
pub(super) const TOPIC_CONFIGS: &[(&str, Setter<TopicConfig>)] = &[
    ("min_insync_replicas", set!(min_insync_replicas = unsigned)),
    (
        "unclean_leader_election_enable",
        set!(unclean_leader_election_enable = boolean),
    ),
    ("segment_bytes", set!(log.segment_bytes = unsigned32)),
    ("segment_ms", set!(log.segment_ms = non_negative)),
    ("retention_ms", set!(log.retention_ms = int)),
    ("retention_bytes", set!(log.retention_bytes = int)),
    ("flush_messages", set!(log.flush_messages = non_negative)),
    ("flush_ms", set!(log.flush_ms = non_negative)),
    (
        "index_interval_bytes",
        set!(log.index_interval_bytes = unsigned32),
    ),
    (
        "max_message_bytes",
        set!(log.max_message_bytes = unsigned32),
    ),
];

/// Broker configs, by Kafka's broker names (topic defaults with their `log.` names).
pub(super) const BROKER_CONFIGS: &[(&str, Setter<BrokerConfig>)] = &[
    (
        "replica_lag_time_max_ms",
        set!(replica_lag_time_max_ms = non_negative),
    ),
    (
        "replica_fetch_wait_max_ms",
        set!(replica_fetch_wait_max_ms = non_negative),
    ),
    (
        "replica_fetch_max_bytes",
        set!(replica_fetch_max_bytes = unsigned),
    ),
    (
        "replica_fetch_backoff_ms",
        set!(replica_fetch_backoff_ms = non_negative),
    ),
    (
        "replica_socket_timeout_ms",
        set!(replica_socket_timeout_ms = non_negative),
    ),
    (
        "replica_high_watermark_checkpoint_interval_ms",
        set!(replica_high_watermark_checkpoint_interval_ms = non_negative),
    ),
    (
        "zookeeper_session_timeout_ms",
        set!(zookeeper_session_timeout_ms = non_negative),
    ),
    (
        "log_retention_check_interval_ms",
        set!(log_retention_check_interval_ms = non_negative),
    ),
    (
        "controlled_shutdown_max_retries",
        set!(controlled_shutdown_max_retries = unsigned32),
    ),
    (
        "controlled_shutdown_retry_backoff_ms",
        set!(controlled_shutdown_retry_backoff_ms = non_negative),
    ),
    (
        "offsets_topic_num_partitions",
        set!(offsets_topic_num_partitions = positive32),
    ),
    (
        "offsets_topic_replication_factor",
        set!(offsets_topic_replication_factor = unsigned),
    ),
    (
        "offsets_commit_timeout_ms",
        set!(offsets_commit_timeout_ms = non_negative),
    ),
    (
        "controller_socket_timeout_ms",
        set!(controller.controller_socket_timeout_ms = non_negative),
    ),
    (
        "auto_leader_rebalance_enable",
        set!(controller.auto_leader_rebalance_enable = boolean),
    ),
    (
        "leader_imbalance_check_interval_seconds",
        set!(controller.leader_imbalance_check_interval_ms = seconds_as_ms),
    ),
    (
        "leader_imbalance_per_broker_percentage",
        set!(controller.leader_imbalance_per_broker_percentage = unsigned32),
    ),
    (
        "group_min_session_timeout_ms",
        set!(group.group_min_session_timeout_ms = non_negative),
    ),
    (
        "group_max_session_timeout_ms",
        set!(group.group_max_session_timeout_ms = non_negative),
    ),
    (
        "group_initial_rebalance_delay_ms",
        set!(group.group_initial_rebalance_delay_ms = non_negative),
    ),
    ("group_max_size", set!(group.group_max_size = unsigned)),
    // kafkasim's switches for rules Kafka changed across versions.
    ("replication_protocol", |c, v| {
        c.replication_protocol = match v.as_str() {
            Some("leader-epoch") => TruncationProtocol::LeaderEpoch,
            Some("high-watermark") => TruncationProtocol::HighWatermark,
            _ => return Err(ConfigWhy::ReplicationProtocol),
        };
        Ok(())
    }),
    (
        "hold_high_watermark_below_min_isr",
        set!(hold_high_watermark_below_min_isr = boolean),
    ),
    // Topic defaults.
    (
        "min_insync_replicas",
        set!(default_topic_config.min_insync_replicas = unsigned),
    ),
    (
        "unclean_leader_election_enable",
        set!(default_topic_config.unclean_leader_election_enable = boolean),
    ),
    (
        "log_segment_bytes",
        set!(default_topic_config.log.segment_bytes = unsigned32),
    ),
    (
        "log_retention_ms",
        set!(default_topic_config.log.retention_ms = int),
    ),
    (
        "log_retention_bytes",
        set!(default_topic_config.log.retention_bytes = int),
    ),
    (
        "log_flush_interval_messages",
        set!(default_topic_config.log.flush_messages = non_negative),
    ),
    (
        "log_flush_interval_ms",
        set!(default_topic_config.log.flush_ms = non_negative),
    ),
];

/// The names a config table accepts, for help texts.
pub fn broker_config_names() -> Vec<&'static str> {
    BROKER_CONFIGS.iter().map(|(n, _)| *n).collect()
}

pub fn topic_config_names() -> Vec<&'static str> {
    TOPIC_CONFIGS.iter().map(|(n, _)| *n).collect()
}

impl Checker<'_> {
    pub(super) fn configs<C>(
        &mut self,
        target: &mut C,
        configs: &Configs,
        table: &[(&'static str, Setter<C>)],
        what: &'static str,
    ) {
        for (key, value) in configs {
            match table.iter().find(|(name, _)| name == key) {
                Some((_, set)) => {
                    if let Err(why) = set(target, value.get_ref()) {
                        self.error(
                            value.span(),
                            Mistake::BadConfig {
                                what,
                                key: key.clone(),
                                why,
                            },
                        );
                    }
                }
                None => {
                    // TOML reads a bare `min.insync.replicas = 2` as nested tables.
                    let mut dotted = key.clone();
                    let mut inner = value.get_ref();
                    while let toml::Value::Table(t) = inner
                        && t.len() == 1
                    {
                        let (k, v) = t.iter().next().expect("one entry");
                        dotted = format!("{dotted}.{k}");
                        inner = v;
                    }
                    let names: Vec<&'static str> = table.iter().map(|(n, _)| *n).collect();
                    let near = closest(key, &names);
                    let hint = match near {
                        Some(c) => ConfigHint::DidYouMean(c),
                        None if dotted.contains('.') => {
                            ConfigHint::Underscores(dotted.replace('.', "_"))
                        }
                        None => ConfigHint::Names(names),
                    };
                    self.error(
                        value.span(),
                        Mistake::UnknownConfig {
                            what,
                            name: dotted,
                            hint,
                        },
                    );
                }
            }
        }
    }
}
