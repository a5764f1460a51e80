//! From the file as written to the scenario the runner uses: every section checked,
//! every mistake reported.

use super::*;

pub(super) fn check(c: &mut Checker<'_>, f: File) -> Option<Scenario> {
    if *f.format.get_ref() != FORMAT {
        c.error(
            f.format.span(),
            Mistake::UnknownFormat {
                format: *f.format.get_ref(),
            },
        );
    }
    let duration_ms = c.time(&f.duration, "duration").unwrap_or(0);
    let brokers = *f.cluster.brokers.get_ref();
    if !(1..=9).contains(&brokers) {
        c.error(f.cluster.brokers.span(), Mistake::Brokers { brokers });
    }
    let mut builder = ClusterBuilder::new(brokers.clamp(1, 9));
    builder.invariants = Invariants::Record;
    if let Some(controller) = &f.cluster.controller {
        let id = *controller.get_ref();
        if (1..=brokers).contains(&id) {
            builder.first_controller = Some(id);
        } else {
            c.error(controller.span(), Mistake::Controller { id, brokers });
        }
    }
    c.configs(
        &mut builder.broker,
        &f.cluster.config,
        BROKER_CONFIGS,
        "broker",
    );
    if let Some(network) = &f.network {
        let mut link = LinkConfig::default();
        if let Some(t) = &network.latency_min {
            link.latency_min_ms = c.time(t, "latency_min").unwrap_or(link.latency_min_ms);
        }
        if let Some(t) = &network.latency_max {
            link.latency_max_ms = c.time(t, "latency_max").unwrap_or(link.latency_max_ms);
        }
        if link.latency_max_ms < link.latency_min_ms {
            link.latency_max_ms = link.latency_min_ms;
        }
        if let Some(loss) = &network.loss {
            let l = *loss.get_ref();
            if (0.0..=1.0).contains(&l) {
                link.loss = l;
            } else {
                c.error(loss.span(), Mistake::Loss { loss: l });
            }
        }
        builder.link = link;
    }

    let mut topics = topics(c, &f, brokers, &mut builder);

    let mut commands = Vec::new();
    admin(
        c,
        &f,
        duration_ms,
        brokers,
        &builder,
        &mut topics,
        &mut commands,
    );
    producers(c, &f, duration_ms, &topics, &mut commands);

    consumers(c, &f, &topics, duration_ms, &mut commands);

    faults(c, &f, &topics, duration_ms, &mut commands);

    let caption_expectations = captions(c, &f, &topics, duration_ms, &mut commands);

    let nemesis = nemesis(c, &f, duration_ms);

    let (expect, expectations) = expectations(c, &f, &topics, duration_ms, caption_expectations);

    // Same-time commands keep file order: producers, consumers, faults, captions.
    commands.sort_by_key(|t| t.at_ms);
    Some(Scenario {
        file: c.file.to_string(),
        title: f.title.trim().to_string(),
        title_zh: f.title_zh.as_deref().map(|t| t.trim().to_string()),
        summary: f.summary.trim().to_string(),
        summary_zh: f.summary_zh.as_deref().map(|t| t.trim().to_string()),
        seed: f.seed,
        duration_ms,
        builder,
        commands,
        expect,
        expectations,
        nemesis,
    })
}

/// The topics the cluster starts with: each name, partition count and placement checked.
fn topics(
    c: &mut Checker<'_>,
    f: &File,
    brokers: i32,
    builder: &mut ClusterBuilder,
) -> BTreeMap<String, u32> {
    let mut topics: BTreeMap<String, u32> = BTreeMap::new();
    for t in &f.topics {
        let name = t.name.get_ref();
        let valid_name = !name.is_empty()
            && name.len() <= 249
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'));
        if !valid_name || name.starts_with("__") {
            c.error(t.name.span(), Mistake::TopicName { name: name.clone() });
        }
        let (partitions, rf) = match (&t.replica_assignment, &t.partitions, &t.replication_factor) {
            (Some(given), partitions, rf) => {
                if partitions.is_some() || rf.is_some() {
                    c.error(given.span(), Mistake::AssignmentAndCounts);
                }
                let registered: Vec<BrokerId> = (1..=brokers).collect();
                if let Err(e) = validate_assignment(given.get_ref(), &registered) {
                    let why = PlacementWhy::of(given.get_ref(), &registered, e.to_string());
                    c.error(given.span(), Mistake::Placement { why, brokers });
                }
                let assignment = given.get_ref();
                (
                    assignment.len() as u32,
                    assignment.first().map_or(0, Vec::len),
                )
            }
            (None, Some(partitions), Some(rf)) => {
                if *partitions.get_ref() == 0 {
                    c.error(partitions.span(), Mistake::NoPartitions);
                }
                let rf_value = *rf.get_ref();
                if rf_value == 0 || rf_value > brokers.max(1) as usize {
                    c.error(
                        rf.span(),
                        Mistake::ReplicationFactor {
                            rf: rf_value,
                            brokers,
                        },
                    );
                }
                (*partitions.get_ref(), rf_value)
            }
            (None, _, _) => {
                c.error(
                    t.name.span(),
                    Mistake::TopicNeedsCounts {
                        topic: name.clone(),
                    },
                );
                (1, 1)
            }
        };
        if topics.insert(name.clone(), partitions).is_some() {
            c.error(
                t.name.span(),
                Mistake::TopicTwice {
                    topic: name.clone(),
                },
            );
        }
        let mut config = builder.broker.default_topic_config.clone();
        c.configs(&mut config, &t.config, TOPIC_CONFIGS, "topic");
        builder.topics.push(TopicSpec {
            name: name.clone(),
            partitions,
            replication_factor: rf,
            replica_assignment: t.replica_assignment.as_ref().map(|a| a.get_ref().clone()),
            config,
        });
    }

    topics
}

/// The admin steps (topics created later, partitions added, configs changed), in time
/// order; topics they create join `topics`.
fn admin(
    c: &mut Checker<'_>,
    f: &File,
    duration_ms: i64,
    brokers: i32,
    builder: &ClusterBuilder,
    topics: &mut BTreeMap<String, u32>,
    commands: &mut Vec<Timed>,
) {
    let check_at =
        |c: &mut Checker<'_>, time: &Time, what: Field| within(c, duration_ms, time, what);
    // order: a config change builds on the configs the topic has by then.
    let mut topic_configs: BTreeMap<String, TopicConfig> = builder
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.config.clone()))
        .collect();
    let mut admin: Vec<&AdminSection> = f.admin.iter().collect();
    admin.sort_by_key(|a| a.at.get_ref().ms());
    for a in admin {
        let at = check_at(c, &a.at, "admin".into());
        let name = a.topic.get_ref().clone();
        let partitions = a.partitions.as_ref().map(|p| *p.get_ref());
        let needs_partitions =
            ["create-topic", "add-partitions"].contains(&a.action.get_ref().as_str());
        if needs_partitions && partitions.is_none() {
            c.error(
                a.action.span(),
                Mistake::NeedsPartitions {
                    action: a.action.get_ref().clone(),
                },
            );
        }
        let partitions_span = a.partitions.as_ref().map_or(a.action.span(), |p| p.span());
        let command = match a.action.get_ref().as_str() {
            "create-topic" => {
                // Default: the first topic's replication factor.
                let rf = a.replication_factor.unwrap_or_else(|| {
                    builder
                        .topics
                        .first()
                        .map_or(3.min(brokers.max(1) as usize), |t| t.replication_factor)
                });
                if topics.contains_key(&name) {
                    c.error(
                        a.topic.span(),
                        Mistake::TopicExists {
                            topic: name.clone(),
                        },
                    );
                }
                let partitions = partitions.unwrap_or(1);
                if partitions == 0 {
                    c.error(partitions_span.clone(), Mistake::NoPartitions);
                }
                if rf == 0 || rf > brokers.max(1) as usize {
                    c.error(
                        a.action.span(),
                        Mistake::CreateTopicReplicationFactor { rf, brokers },
                    );
                }
                let mut config = builder.broker.default_topic_config.clone();
                c.configs(&mut config, &a.config, TOPIC_CONFIGS, "topic");
                topics.insert(name.clone(), partitions);
                topic_configs.insert(name.clone(), config.clone());
                Some(Command::CreateTopic(TopicSpec {
                    name,
                    partitions,
                    replication_factor: rf,
                    replica_assignment: None,
                    config,
                }))
            }
            "add-partitions" => match (topics.get(&name).copied(), partitions) {
                (_, None) => None,
                (None, _) => {
                    c.error(
                        a.topic.span(),
                        Mistake::Lookup(Lookup::NoTopic {
                            topic: name.clone(),
                        }),
                    );
                    None
                }
                (Some(now), Some(partitions)) if partitions <= now => {
                    c.error(
                        partitions_span.clone(),
                        Mistake::NotAbove {
                            topic: name.clone(),
                            partitions: now,
                        },
                    );
                    None
                }
                (Some(_), Some(partitions)) => {
                    topics.insert(name.clone(), partitions);
                    Some(Command::AddPartitions {
                        topic: name,
                        total: partitions,
                    })
                }
            },
            "alter-config" => {
                if let Some(p) = &a.partitions {
                    c.error(p.span(), Mistake::AlterConfigPartitions);
                }
                if a.config.is_empty() {
                    c.error(a.action.span(), Mistake::AlterConfigEmpty);
                }
                match topic_configs.get(&name).cloned() {
                    None => {
                        c.error(
                            a.topic.span(),
                            Mistake::NoTopicByThen {
                                topic: name.clone(),
                            },
                        );
                        None
                    }
                    Some(mut config) => {
                        c.configs(&mut config, &a.config, TOPIC_CONFIGS, "topic");
                        topic_configs.insert(name.clone(), config.clone());
                        Some(Command::AlterConfigs {
                            topic: name,
                            config,
                        })
                    }
                }
            }
            other => {
                c.error(
                    a.action.span(),
                    Mistake::UnknownAdminAction {
                        action: other.to_string(),
                    },
                );
                None
            }
        };
        if let (Some(at), Some(command)) = (at, command) {
            commands.push(Timed::new(at, command));
        }
    }
}

/// The producers: each one's topic, times and Kafka configs.
fn producers(
    c: &mut Checker<'_>,
    f: &File,
    duration_ms: i64,
    topics: &BTreeMap<String, u32>,
    commands: &mut Vec<Timed>,
) {
    let check_at =
        |c: &mut Checker<'_>, time: &Time, what: Field| within(c, duration_ms, time, what);
    for (i, p) in f.producers.iter().enumerate() {
        let mut config = ProducerConfig {
            topic: p.topic.get_ref().clone(),
            value_prefix: format!("p{}", i + 1),
            ..ProducerConfig::default()
        };
        if !topics.contains_key(p.topic.get_ref()) {
            let near = closest(
                p.topic.get_ref(),
                &topics.keys().map(String::as_str).collect::<Vec<_>>(),
            )
            .map(str::to_string);
            c.error(
                p.topic.span(),
                Mistake::ProducerTopic {
                    topic: p.topic.get_ref().clone(),
                    near,
                },
            );
        }
        let start = p
            .start
            .as_ref()
            .and_then(|t| check_at(c, t, "start".into()))
            .unwrap_or(0);
        config.stop_ms = p.stop.as_ref().and_then(|t| check_at(c, t, "stop".into()));
        if let Some(t) = &p.interval {
            match c.time(t, "interval") {
                Some(0) => c.error(t.span(), Mistake::IntervalZero),
                Some(ms) => config.interval_ms = ms,
                None => {}
            }
        }
        if let Some(acks) = &p.acks {
            let parsed = match acks.get_ref() {
                toml::Value::String(s) if s == "all" || s == "-1" => Some(Acks::All),
                toml::Value::String(s) if s == "1" => Some(Acks::Leader),
                toml::Value::String(s) if s == "0" => Some(Acks::None),
                toml::Value::Integer(-1) => Some(Acks::All),
                toml::Value::Integer(1) => Some(Acks::Leader),
                toml::Value::Integer(0) => Some(Acks::None),
                _ => None,
            };
            match parsed {
                Some(a) => config.acks = a,
                None => c.error(acks.span(), Mistake::Acks),
            }
        }
        set_if(&mut config.enable_idempotence, p.enable_idempotence);
        config.keys = p.keys.or(config.keys);
        set_if(&mut config.sync, p.sync);
        set_if(&mut config.retries, p.retries);
        set_if(&mut config.retry_backoff_ms, p.retry_backoff_ms);
        set_if(&mut config.retry_backoff_max_ms, p.retry_backoff_max_ms);
        set_if(&mut config.delivery_timeout_ms, p.delivery_timeout_ms);
        set_if(&mut config.request_timeout_ms, p.request_timeout_ms);
        set_if(&mut config.linger_ms, p.linger_ms);
        set_if(&mut config.batch_size, p.batch_size);
        set_if(
            &mut config.max_in_flight,
            p.max_in_flight_requests_per_connection,
        );
        set_if(&mut config.metadata_max_age_ms, p.metadata_max_age_ms);
        commands.push(Timed::new(start, Command::StartKafkaProducer(config)));
    }
}

/// The seeded random faults, if the file asks for them.
fn nemesis(c: &mut Checker<'_>, f: &File, duration_ms: i64) -> Option<Nemesis> {
    let check_at =
        |c: &mut Checker<'_>, time: &Time, what: Field| within(c, duration_ms, time, what);
    f.nemesis.as_ref().and_then(|n| {
        let faults: Vec<NemesisFault> = n
            .faults
            .iter()
            .filter_map(|k| c.one_of(k, Field::NemesisFault, NEMESIS_FAULTS))
            .collect();
        let start_ms = n
            .start
            .as_ref()
            .and_then(|t| check_at(c, t, Field::NemesisStart))
            .unwrap_or(0);
        let stop_ms = n
            .stop
            .as_ref()
            .and_then(|t| check_at(c, t, Field::NemesisStop))
            .unwrap_or(duration_ms);
        let interval_ms = n
            .interval
            .as_ref()
            .and_then(|t| c.time(t, "interval"))
            .unwrap_or(10_000);
        let heal_after_ms = n
            .heal_after
            .as_ref()
            .and_then(|t| c.time(t, "heal_after"))
            .unwrap_or(5_000);
        if faults.is_empty() {
            c.error(0..0, Mistake::NemesisWithoutFaults);
            return None;
        }
        Some(Nemesis {
            faults,
            start_ms,
            stop_ms,
            interval_ms: interval_ms.max(1),
            heal_after_ms: heal_after_ms.max(1),
        })
    })
}

/// A time of the file, reported when it falls after the scenario's end.
fn within(c: &mut Checker<'_>, duration_ms: i64, time: &Time, what: Field) -> Option<i64> {
    let at = c.time(time, what)?;
    if at > duration_ms {
        c.error(
            time.span(),
            Mistake::AfterTheEnd {
                what,
                at_ms: at,
                duration_ms,
            },
        );
    }
    Some(at)
}

/// `[[consumers]]`: each one's config and when it starts.
fn consumers(
    c: &mut Checker<'_>,
    f: &File,
    topics: &BTreeMap<String, u32>,
    duration_ms: i64,
    commands: &mut Vec<Timed>,
) {
    let check_at =
        |c: &mut Checker<'_>, time: &Time, what: Field| within(c, duration_ms, time, what);
    let mut unnamed_consumers = 0;
    for k in &f.consumers {
        let mut config = ConsumerConfig {
            client_id: String::new(),
            group_id: k.group.as_ref().map(|g| g.get_ref().clone()),
            group_instance_id: k.group_instance_id.clone(),
            ..ConsumerConfig::default()
        };
        let ways = [k.topics.is_some(), k.pattern.is_some(), k.assign.is_some()];
        let place = k
            .group
            .as_ref()
            .map(|g| g.span())
            .or(k.count.as_ref().map(|n| n.span()))
            .unwrap_or(0..0);
        if ways.iter().filter(|w| **w).count() != 1 {
            c.error(place.clone(), Mistake::ConsumerWays);
        }
        if let Some(list) = &k.topics {
            for t in list {
                if !topics.contains_key(t.get_ref()) {
                    c.error(
                        t.span(),
                        Mistake::Lookup(Lookup::NoTopic {
                            topic: t.get_ref().clone(),
                        }),
                    );
                }
            }
            config.subscribe =
                Subscribe::Topics(list.iter().map(|t| t.get_ref().clone()).collect());
        }
        if let Some(pattern) = &k.pattern {
            if let Err(e) = regex_lite::Regex::new(pattern.get_ref()) {
                c.error(
                    pattern.span(),
                    Mistake::Pattern {
                        error: e.to_string(),
                    },
                );
            }
            config.subscribe = Subscribe::Pattern(pattern.get_ref().clone());
        }
        if let Some(list) = &k.assign {
            let mut tps = Vec::new();
            for t in list {
                match parse_partition(t.get_ref(), topics) {
                    Ok(tp) => tps.push(tp),
                    Err(why) => c.error(t.span(), Mistake::Lookup(why)),
                }
            }
            config.subscribe = Subscribe::Assign(tps);
        }
        if config.group_id.is_none() && !matches!(config.subscribe, Subscribe::Assign(_)) {
            c.error(place.clone(), Mistake::ConsumerWithoutGroup);
        }
        if let Some(list) = &k.partition_assignment_strategy {
            config.assignors = list
                .iter()
                .filter_map(|s| {
                    c.one_of(
                        s,
                        "partition_assignment_strategy",
                        &[
                            ("range", Strategy::Range),
                            ("roundrobin", Strategy::RoundRobin),
                            ("sticky", Strategy::Sticky),
                            ("cooperative-sticky", Strategy::CooperativeSticky),
                        ],
                    )
                })
                .collect();
        }
        if let Some(reset) = &k.auto_offset_reset
            && let Some(r) = c.one_of(
                reset,
                "auto_offset_reset",
                &[
                    ("earliest", OffsetReset::Earliest),
                    ("latest", OffsetReset::Latest),
                    ("none", OffsetReset::None),
                ],
            )
        {
            config.auto_offset_reset = r;
        }
        if let Some(commit) = &k.commit
            && let Some(m) = c.one_of(
                commit,
                "commit",
                &[
                    ("none", AppCommit::Nothing),
                    ("sync", AppCommit::Sync),
                    ("async", AppCommit::Async),
                    ("async-then-sync", AppCommit::AsyncThenSyncOnClose),
                ],
            )
        {
            config.app_commit = m;
        }
        if let Some(processing) = &k.processing
            && let Some(m) = c.one_of(
                processing,
                "processing",
                &[
                    ("synchronous", Processing::Synchronous),
                    ("handoff", Processing::Handoff),
                ],
            )
        {
            config.processing = m;
        }
        set_if(&mut config.session_timeout_ms, k.session_timeout_ms);
        set_if(&mut config.heartbeat_interval_ms, k.heartbeat_interval_ms);
        set_if(&mut config.max_poll_interval_ms, k.max_poll_interval_ms);
        set_if(&mut config.enable_auto_commit, k.enable_auto_commit);
        set_if(
            &mut config.auto_commit_interval_ms,
            k.auto_commit_interval_ms,
        );
        set_if(&mut config.max_poll_records, k.max_poll_records);
        set_if(&mut config.processing_ms, k.processing_ms);
        set_if(&mut config.metadata_max_age_ms, k.metadata_max_age_ms);
        let start = k
            .start
            .as_ref()
            .and_then(|t| check_at(c, t, "start".into()))
            .unwrap_or(0);
        let count = k.count.as_ref().map_or(1, |n| *n.get_ref());
        for i in 1..=count {
            let name = k.name.as_ref().map(|n| match count {
                1 => n.get_ref().clone(),
                _ => format!("{}-{i}", n.get_ref()),
            });
            if let Some(name) = &name
                && !c.consumer_names.insert(name.clone())
            {
                let span = k.name.as_ref().map(|n| n.span()).unwrap_or(0..0);
                c.error(span, Mistake::ConsumerNamedTwice { name: name.clone() });
            }
            // client.id: the scenario's name for it, or Kafka's default consumer-GROUP-N;
            // the coordinator builds the member id from it (client.id + "-" + UUID).
            let mut config = config.clone();
            config.client_id = match &name {
                Some(name) => name.clone(),
                None => {
                    unnamed_consumers += 1;
                    match &config.group_id {
                        Some(group) => format!("consumer-{group}-{unnamed_consumers}"),
                        None => format!("consumer-{unnamed_consumers}"),
                    }
                }
            };
            commands.push(Timed::new(start, Command::StartConsumer { config, name }));
        }
    }
}

/// `[[faults]]`: each one's action and target.
fn faults(
    c: &mut Checker<'_>,
    f: &File,
    topics: &BTreeMap<String, u32>,
    duration_ms: i64,
    commands: &mut Vec<Timed>,
) {
    let check_at =
        |c: &mut Checker<'_>, time: &Time, what: Field| within(c, duration_ms, time, what);
    for fault in &f.faults {
        let at = check_at(c, &fault.at, Field::Fault);
        let action = fault.action.get_ref().as_str();
        let needs_target = !matches!(action, "heal" | "partition");
        if let Some(unflushed) = &fault.unflushed
            && action != "power-loss"
        {
            c.error(
                unflushed.span(),
                Mistake::UnflushedNotPowerLoss {
                    action: action.to_string(),
                },
            );
        }
        let target = match &fault.target {
            Some(t) => c.selector(t, topics),
            None => {
                if needs_target {
                    c.error(
                        fault.action.span(),
                        Mistake::NeedsTarget {
                            action: action.to_string(),
                        },
                    );
                }
                None
            }
        };
        if target == Some(Selector::ZooKeeper) && !matches!(action, "isolate" | "pause" | "resume")
        {
            c.error(
                fault.action.span(),
                Mistake::ZooKeeperCannot {
                    action: action.to_string(),
                },
            );
            continue;
        }
        let action = match action {
            "crash" => Some(Action::Crash(Crash::Process)),
            "power-loss" => match fault
                .unflushed
                .as_ref()
                .map(|u| (u.get_ref().as_str(), u.span()))
            {
                None | Some(("some", _)) => Some(Action::Crash(Crash::PowerLoss)),
                Some(("lost", _)) => Some(Action::Crash(Crash::PowerLossUnflushedLost)),
                Some((other, span)) => {
                    c.error(
                        span,
                        Mistake::Unflushed {
                            value: other.to_string(),
                        },
                    );
                    None
                }
            },
            "restart" => Some(Action::Restart),
            "shutdown" => Some(Action::Shutdown),
            "isolate" => Some(Action::Isolate),
            "heal" => Some(Action::Heal),
            "pause" => Some(Action::Pause),
            "resume" => Some(Action::Resume),
            "close" => Some(Action::Close),
            "link" | "hold" | "release" => match &fault.peer {
                None => {
                    c.error(
                        fault.action.span(),
                        Mistake::NeedsPeer {
                            action: action.to_string(),
                        },
                    );
                    None
                }
                Some(peer) => c.selector(peer, topics).and_then(|peer| match action {
                    "hold" => Some(Action::Hold(peer)),
                    "release" => Some(Action::Release(peer)),
                    _ => {
                        let latency_ms = match &fault.latency {
                            Some(t) => c.time(t, "latency")?,
                            None => LinkConfig::default().latency_max_ms,
                        };
                        let loss = fault.loss.as_ref().map_or(0.0, |l| *l.get_ref());
                        if !(0.0..=1.0).contains(&loss) {
                            c.error(
                                fault.loss.as_ref().map_or(0..0, |l| l.span()),
                                Mistake::Loss { loss },
                            );
                            return None;
                        }
                        Some(Action::Link {
                            peer,
                            latency_ms,
                            loss,
                        })
                    }
                }),
            },
            "stall" => match fault.duration.as_ref().and_then(|t| c.time(t, "duration")) {
                Some(ms) => Some(Action::Stall(ms)),
                None => {
                    c.error(fault.action.span(), Mistake::StallNeedsDuration);
                    None
                }
            },
            "partition" => {
                let groups = fault.groups.as_ref().map(|groups| {
                    groups
                        .iter()
                        .map(|side| side.iter().filter_map(|s| c.selector(s, topics)).collect())
                        .collect::<Vec<Vec<Selector>>>()
                });
                match groups {
                    Some(g) if g.len() >= 2 => Some(Action::Partition(g)),
                    _ => {
                        c.error(fault.action.span(), Mistake::PartitionNeedsGroups);
                        None
                    }
                }
            }
            other => {
                c.error(
                    fault.action.span(),
                    Mistake::UnknownAction {
                        action: other.to_string(),
                        near: closest(other, &ACTIONS),
                    },
                );
                None
            }
        };
        if let (Some(at), Some(action)) = (at, action) {
            commands.push(Timed::new(at, Command::Fault(Fault { action, target })));
        }
    }
}

/// `[[captions]]`: at a time or on an event; those on an event are expected to show.
fn captions(
    c: &mut Checker<'_>,
    f: &File,
    topics: &BTreeMap<String, u32>,
    duration_ms: i64,
    commands: &mut Vec<Timed>,
) -> Vec<Expectation> {
    let check_at =
        |c: &mut Checker<'_>, time: &Time, what: Field| within(c, duration_ms, time, what);
    let mut caption_expectations = Vec::new();
    for caption in &f.captions {
        let Some(mut text) = c.caption_text(&caption.text, topics) else {
            continue;
        };
        if let Some(zh) = &caption.text_zh {
            let Some(zh) = c.caption_text(zh, topics) else {
                continue;
            };
            text.zh = Some(zh.parts);
        }
        let at = match &caption.at {
            Some(t) => check_at(c, t, Field::Caption),
            None if caption.on.is_some() => Some(0),
            None => {
                c.error(caption.text.span(), Mistake::CaptionNeedsTime);
                None
            }
        };
        let command = match caption.on.as_ref().map(|on| (on, on.get_ref())) {
            None => Command::Caption(text),
            Some((on, toml::Value::String(fragment))) => {
                // Matching a piece of an English sentence breaks as soon as the sentence
                // is reworded or shown in another language.
                c.error(
                    on.span(),
                    Mistake::OnFragment {
                        fragment: fragment.clone(),
                    },
                );
                continue;
            }
            Some((on, toml::Value::Table(table))) => {
                let table: Configs = table
                    .iter()
                    .map(|(k, v)| (k.clone(), Spanned::new(on.span(), v.clone())))
                    .collect();
                let Some(matcher) = c.event_match(&table, &[], on.span()) else {
                    continue;
                };
                Command::CaptionOn {
                    trigger: Trigger::Event(matcher),
                    text,
                }
            }
            Some((on, _)) => {
                c.error(on.span(), Mistake::OnNotTable);
                continue;
            }
        };
        if let (Some(at_ms), Command::CaptionOn { text, .. }) = (at, &command) {
            caption_expectations.push(Expectation {
                at_ms,
                place: c.place(caption.text.span()),
                what: Expected::CaptionShown { text: text.clone() },
            });
        }
        if let Some(at) = at {
            commands.push(Timed::new(at, command));
        }
    }
    caption_expectations
}

/// `[expect]`: checker verdicts, and the states, groups, events and captions expected.
fn expectations(
    c: &mut Checker<'_>,
    f: &File,
    topics: &BTreeMap<String, u32>,
    duration_ms: i64,
    caption_expectations: Vec<Expectation>,
) -> (BTreeMap<&'static str, Verdict>, Vec<Expectation>) {
    let check_at =
        |c: &mut Checker<'_>, time: &Time, what: Field| within(c, duration_ms, time, what);
    let mut expect = BTreeMap::new();
    for (name, value) in [
        ("lost-writes", &f.expect.lost_writes),
        ("duplicates", &f.expect.duplicates),
        ("invariants", &f.expect.invariants),
        ("inconsistent-offsets", &f.expect.inconsistent_offsets),
        ("producer-order", &f.expect.producer_order),
        ("poll-order", &f.expect.poll_order),
        ("reads-above-hw", &f.expect.reads_above_hw),
        ("group-exclusivity", &f.expect.group_exclusivity),
        ("commits-ahead", &f.expect.commits_ahead),
        ("redelivered", &f.expect.redelivered),
        ("liveness", &f.expect.liveness),
    ] {
        if let Some(v) = value
            && let Some(verdict) =
                c.one_of(v, name, &[("pass", Verdict::Pass), ("fail", Verdict::Fail)])
        {
            expect.insert(name, verdict);
        }
    }
    let mut expectations = Vec::new();
    for s in &f.expect.state {
        let at = check_at(c, &s.at, "expect.state".into());
        let tp = match parse_partition(s.partition.get_ref(), topics) {
            Ok(tp) => Some(tp),
            Err(why) => {
                c.error(s.partition.span(), Mistake::Lookup(why));
                None
            }
        };
        let leader = match &s.leader {
            None => None,
            Some(v) => match v.get_ref() {
                toml::Value::Integer(b) => Some(Some(*b as BrokerId)),
                toml::Value::String(s) if s == "none" => Some(None),
                _ => {
                    c.error(v.span(), Mistake::StateLeader);
                    None
                }
            },
        };
        if let (Some(at_ms), Some(tp)) = (at, tp) {
            expectations.push(Expectation {
                at_ms,
                place: c.place(s.at.span()),
                what: Expected::Partition(PartitionExpectation {
                    tp,
                    leader,
                    isr: s.isr.as_ref().map(|i| i.iter().copied().collect()),
                    isr_size: s.isr_size,
                    high_watermark: s.high_watermark,
                    log_end_offset: s.log_end_offset,
                }),
            });
        }
    }
    for g in &f.expect.group {
        let at = check_at(c, &g.at, "expect.group".into());
        let state = g.state.as_ref().and_then(|s| {
            c.one_of(
                s,
                Field::GroupState,
                &[
                    ("Empty", GroupState::Empty),
                    ("PreparingRebalance", GroupState::PreparingRebalance),
                    ("CompletingRebalance", GroupState::CompletingRebalance),
                    ("Stable", GroupState::Stable),
                    ("Dead", GroupState::Dead),
                ],
            )
        });
        if let Some(at_ms) = at {
            expectations.push(Expectation {
                at_ms,
                place: c.place(g.at.span()),
                what: Expected::Group(GroupExpectation {
                    group: g.group.clone(),
                    state,
                    generation: g.generation,
                    members: g.members,
                    assigned: g.assigned,
                    max_lag: g.max_lag,
                }),
            });
        }
    }
    for table in &f.expect.event {
        let place_span = table
            .get("kind")
            .or_else(|| table.values().next())
            .map_or(0..0, |v| v.span());
        let after_ms = match table.get("after") {
            None => Some(0),
            Some(v) => c
                .time_value(v, "after")
                .and_then(|ms| c.by_the_end(v, ms, duration_ms, "after")),
        };
        let before_ms = match table.get("before") {
            None => Some(None),
            Some(v) => c
                .time_value(v, "before")
                .and_then(|ms| c.by_the_end(v, ms, duration_ms, "before"))
                .map(Some),
        };
        let count = match table.get("count") {
            None => Some(Count::AtLeast(1)),
            Some(v) => c.count(v),
        };
        let matcher = c.event_match(table, &["after", "before", "count"], place_span.clone());
        if let (Some(at_ms), Some(before_ms), Some(count), Some(matcher)) =
            (after_ms, before_ms, count, matcher)
        {
            if before_ms.is_some_and(|b| b < at_ms) {
                c.error(place_span, Mistake::EndsBeforeStarts);
                continue;
            }
            expectations.push(Expectation {
                at_ms,
                place: c.place(place_span),
                what: Expected::Event(EventExpectation {
                    matcher,
                    before_ms,
                    count,
                }),
            });
        }
    }
    let captions_checked = match &f.expect.captions {
        None => true,
        Some(v) => c
            .one_of(v, "captions", &[("shown", true), ("unchecked", false)])
            .unwrap_or(true),
    };
    if captions_checked {
        expectations.extend(caption_expectations);
    }
    expectations.sort_by_key(|e| e.at_ms);
    (expect, expectations)
}
