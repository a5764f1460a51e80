//! The narrator: every sentence a timeline shows, rendered from the typed events in one
//! place (core keeps no prose). One function per language; a second language is a second
//! set of these functions, and the exhaustive matches make a missing sentence a compile
//! error rather than English leaking into another language's screen.

use std::collections::BTreeSet;

use kafkasim_core::client::consumer::{ConsumerEvent, LeaveReason, ResetReason, RevokeReason};
use kafkasim_core::client::producer::{ProducerEvent, RestartReason};
use kafkasim_core::controller::IsrChangeRejected;
use kafkasim_core::event::{ElectionReason, Event, EventKind, ResignReason};
use kafkasim_core::group::coordinator::{GroupChange, GroupEvent, GroupEventKind, GroupState};
use kafkasim_core::invariants::Violation;
use kafkasim_core::log::{DeletedSegment, DeletionReason, segment_file_stem};
use kafkasim_core::partition::{PartitionEvent, TruncationReason};
use kafkasim_core::protocol::TopicPartition;
use kafkasim_core::replication::BrokerId;

use crate::disk::Crash;
use crate::lang::Lang;
use crate::trace::{Injected, Note, TraceEntry, node_name};

mod zh;

/// The entry's sentence in `lang`.
pub fn sentence(entry: &TraceEntry, lang: Lang) -> String {
    match lang {
        Lang::En => en(entry),
        Lang::ZhCn => zh::sentence(entry),
    }
}

fn ids(list: &[i32]) -> String {
    let ids: Vec<String> = list.iter().map(i32::to_string).collect();
    format!("[{}]", ids.join(","))
}

/// How a run differs from one expectation, in `lang`.
pub fn difference(d: &crate::scenario::Difference, lang: Lang) -> String {
    use crate::scenario::{Count, Difference as D};
    let zh = lang == Lang::ZhCn;
    let broker = |b: &Option<BrokerId>| match (b, zh) {
        (Some(b), _) => format!("broker {b}"),
        (None, false) => "none".to_string(),
        (None, true) => "无".to_string(),
    };
    let offset = |o: &Option<i64>| match (o, zh) {
        (Some(o), _) => o.to_string(),
        (None, false) => "unknown (no leader)".to_string(),
        (None, true) => "未知（没有leader）".to_string(),
    };
    match d {
        D::EventCount {
            count,
            matcher,
            after_ms,
            before_ms,
            found,
        } => {
            if zh {
                let window = match before_ms {
                    Some(b) => format!("{after_ms} ms到{b} ms之间"),
                    None => format!("{after_ms} ms起"),
                };
                let count = match count {
                    Count::Exactly(c) => format!("恰好{c}个"),
                    Count::AtLeast(c) => format!("至少{c}个"),
                    Count::AtMost(c) => format!("至多{c}个"),
                };
                format!("预期{window}有{count}{matcher}事件，实际{found}个")
            } else {
                let window = match before_ms {
                    Some(b) => format!("between {after_ms} ms and {b} ms"),
                    None => format!("from {after_ms} ms on"),
                };
                format!("{count} {matcher} expected {window}, found {found}")
            }
        }
        D::Found(entry) => {
            if zh {
                format!("找到：{}", entry.line_in(lang))
            } else {
                format!("found: {}", entry.line_in(lang))
            }
        }
        D::CaptionNeverShown { text } => {
            if zh {
                format!("讲解所等待的事件从未发生：“{text}”")
            } else {
                format!("the caption's event never happened: \"{text}\"")
            }
        }
        D::NoPartition { tp } => {
            if zh {
                format!("{tp}不存在")
            } else {
                format!("{tp} does not exist")
            }
        }
        D::Leader {
            tp,
            actual,
            expected,
        } => {
            if zh {
                format!("{tp}的leader是{}，预期{}", broker(actual), broker(expected))
            } else {
                format!(
                    "leader of {tp} is {}, expected {}",
                    broker(actual),
                    broker(expected)
                )
            }
        }
        D::IsrSize { tp, isr, expected } => {
            if zh {
                format!(
                    "{tp}的ISR是{}（{}个副本），预期{expected}个",
                    ids(isr),
                    isr.len()
                )
            } else {
                format!(
                    "ISR of {tp} is {} ({} replicas), expected {expected}",
                    ids(isr),
                    isr.len()
                )
            }
        }
        D::Isr { tp, isr, expected } => {
            if zh {
                format!("{tp}的ISR是{}，预期{}", ids(isr), ids(expected))
            } else {
                format!("ISR of {tp} is {}, expected {}", ids(isr), ids(expected))
            }
        }
        D::HighWatermark {
            tp,
            actual,
            expected,
        } => {
            if zh {
                format!("{tp}在其leader上的HW是{}，预期{expected}", offset(actual))
            } else {
                format!(
                    "high watermark of {tp} on its leader is {}, expected {expected}",
                    offset(actual)
                )
            }
        }
        D::LogEndOffset {
            tp,
            actual,
            expected,
        } => {
            if zh {
                format!("{tp}在其leader上的LEO是{}，预期{expected}", offset(actual))
            } else {
                format!(
                    "log end offset of {tp} on its leader is {}, expected {expected}",
                    offset(actual)
                )
            }
        }
        D::NoGroup { group } => {
            if zh {
                format!("没有协调者持有消费组{group}")
            } else {
                format!("no coordinator holds group {group}")
            }
        }
        D::GroupState {
            group,
            actual,
            expected,
        } => {
            if zh {
                format!("消费组{group}处于{actual:?}，预期{expected:?}")
            } else {
                format!("group {group} is {actual:?}, expected {expected:?}")
            }
        }
        D::Generation {
            group,
            actual,
            expected,
        } => {
            if zh {
                format!("消费组{group}处于generation {actual}，预期{expected}")
            } else {
                format!("group {group} is in generation {actual}, expected {expected}")
            }
        }
        D::Members {
            group,
            actual,
            expected,
        } => {
            if zh {
                format!("消费组{group}有{actual}个成员，预期{expected}个")
            } else {
                format!("group {group} has {actual} members, expected {expected}")
            }
        }
        D::Assigned {
            group,
            actual,
            expected,
        } => {
            if zh {
                format!("消费组{group}的成员共拥有{actual}个分区，预期{expected}个")
            } else {
                format!("group {group}'s members own {actual} partitions, expected {expected}")
            }
        }
        D::Lag {
            group,
            actual,
            at_most,
        } => {
            if zh {
                format!("消费组{group}滞后{actual}条消息，预期至多{at_most}条")
            } else {
                format!("group {group} lags {actual} records, expected at most {at_most}")
            }
        }
    }
}

/// A checker's finding in `lang`.
pub fn finding(f: &crate::check::Finding, lang: Lang) -> String {
    use crate::check::{Finding as F, LastOutcome, Seen};
    let zh = lang == Lang::ZhCn;
    match f {
        F::Lost(l) => lost_write(l, lang),
        F::Duplicate(d) => duplicate(d, lang),
        F::Violation(time_ms, violation) => TraceEntry::Violation {
            time_ms: *time_ms,
            violation: violation.clone(),
        }
        .line_in(lang),
        F::Inconsistent { tp, offset, held } => {
            let seen = |s: &Seen| match (s, zh) {
                (Seen::Acknowledged, false) => "acknowledged".to_string(),
                (Seen::Acknowledged, true) => "已确认".to_string(),
                (Seen::Polled { consumer, at_ms }, false) => {
                    format!("polled by consumer {consumer} at {at_ms} ms")
                }
                (Seen::Polled { consumer, at_ms }, true) => {
                    format!("消费者{consumer}在{at_ms} ms拉取到")
                }
                (Seen::InFinalLog, false) => "in the final log".to_string(),
                (Seen::InFinalLog, true) => "在最终的日志中".to_string(),
            };
            let held: Vec<String> = held
                .iter()
                .map(|(v, how)| {
                    let how: Vec<String> = how.iter().map(seen).collect();
                    if zh {
                        format!("{v}（{}）", how.join("，"))
                    } else {
                        format!("{v} ({})", how.join(", "))
                    }
                })
                .collect();
            if zh {
                format!("{tp}@{offset}先后存放过{}", held.join("和"))
            } else {
                format!("{tp}@{offset} held {}", held.join(" and "))
            }
        }
        F::PollSkipped {
            consumer,
            tp,
            offset,
            at_ms,
            next,
            next_ms,
        } => {
            let (from, to) = (offset + 1, next - 1);
            if zh {
                format!(
                    "消费者{consumer}在{at_ms} ms拉取{tp}@{offset}，随后在{next_ms} ms拉取@{next}：跳过了{from}..{to}"
                )
            } else {
                format!(
                    "consumer {consumer} polled {tp}@{offset} at {at_ms} ms, then @{next} at {next_ms} ms: it skipped {from}..{to}"
                )
            }
        }
        F::PollWentBack {
            consumer,
            tp,
            offset,
            at_ms,
            next,
            next_ms,
        } => {
            if zh {
                format!(
                    "消费者{consumer}在{at_ms} ms拉取{tp}@{offset}，随后在{next_ms} ms退回到@{next}"
                )
            } else {
                format!(
                    "consumer {consumer} polled {tp}@{offset} at {at_ms} ms, then went back to @{next} at {next_ms} ms"
                )
            }
        }
        F::OwnedTwice {
            group,
            generation,
            tp,
            consumers,
        } => {
            if zh {
                format!(
                    "消费组{group}在generation {generation}中：{tp}同时属于消费者{}",
                    consumers.join("和")
                )
            } else {
                format!(
                    "group {group} generation {generation}: {tp} owned by consumers {}",
                    consumers.join(" and ")
                )
            }
        }
        F::CommitAhead {
            consumer,
            group,
            tp,
            offset,
            kind,
            at_ms,
        } => {
            let previous = offset - 1;
            if zh {
                format!(
                    "消费组{group}的消费者{consumer}在{at_ms} ms提交了offset {tp}@{offset}（{kind}），而offset {previous}尚未处理完"
                )
            } else {
                format!(
                    "consumer {consumer} of group {group} committed {tp}@{offset} ({kind}) at {at_ms} ms before offset {previous} was processed"
                )
            }
        }
        F::Redelivered {
            group,
            tp,
            offset,
            processed_by,
            processed_ms,
            polled_by,
            polled_ms,
        } => {
            if zh {
                format!(
                    "消费组{group}：{tp}@{offset}已由消费者{processed_by}在{processed_ms} ms处理，又被消费者{polled_by}在{polled_ms} ms再次拉取"
                )
            } else {
                format!(
                    "group {group}: {tp}@{offset} processed by consumer {processed_by} at {processed_ms} ms, polled again by consumer {polled_by} at {polled_ms} ms"
                )
            }
        }
        F::OutOfOrder {
            tp,
            earlier,
            earlier_offset,
            later,
            later_offset,
        } => {
            if zh {
                format!(
                    "{later}在{earlier}之后发送，却写在它前面：{tp}@{later_offset} < @{earlier_offset}"
                )
            } else {
                format!(
                    "{later} was sent after {earlier} but written before it: {tp}@{later_offset} < @{earlier_offset}"
                )
            }
        }
        F::ReadAboveHw {
            consumer,
            tp,
            offset,
            value,
            at_ms,
            high_watermark,
        } => {
            if zh {
                format!(
                    "消费者{consumer}在{at_ms} ms拉取到{tp}@{offset}（{value}），不低于其拉取应答给出的HW {high_watermark}"
                )
            } else {
                format!(
                    "consumer {consumer} polled {tp}@{offset} ({value}) at {at_ms} ms, at or above the HW {high_watermark} its fetch answer gave"
                )
            }
        }
        F::ProducerStalled {
            producer,
            writes,
            recovered_ms,
            last,
            outcome,
        } => {
            let outcome = match (outcome, zh) {
                (LastOutcome::Pending, false) => "still pending".to_string(),
                (LastOutcome::Failed(code), false) => format!("failed with {code}"),
                (LastOutcome::Unknown, false) => "ended unknown".to_string(),
                (LastOutcome::Pending, true) => "仍未完成".to_string(),
                (LastOutcome::Failed(code), true) => format!("以{code}失败"),
                (LastOutcome::Unknown, true) => "结果未知".to_string(),
            };
            if zh {
                format!(
                    "集群在{recovered_ms} ms恢复完整之后，生产者{producer}发出的{writes}条写入没有一条得到确认（最后一条{last}{outcome}）"
                )
            } else {
                format!(
                    "producer {producer} got none of its {writes} writes sent after the cluster was whole again at {recovered_ms} ms acknowledged (the last, {last}, {outcome})"
                )
            }
        }
        F::GroupNotStable { group, state } => {
            if zh {
                format!("消费组{group}结束时处于{state:?}，而不是Stable")
            } else {
                format!("group {group} is {state:?} at the end, not Stable")
            }
        }
        F::NeverConsumed {
            group,
            value,
            tp,
            offset,
            acknowledged_ms,
        } => {
            if zh {
                format!("消费组{group}从未消费{value}（{tp}@{offset}，在{acknowledged_ms} ms确认）")
            } else {
                format!(
                    "group {group} never consumed {value} ({tp}@{offset}, acknowledged at {acknowledged_ms} ms)"
                )
            }
        }
        F::NoLeaderAtEnd { tp } => {
            if zh {
                format!("{tp}在结束时没有leader")
            } else {
                format!("{tp} has no leader at the end")
            }
        }
        F::IsrShortAtEnd {
            tp,
            leader,
            isr,
            replicas,
        } => {
            if zh {
                format!(
                    "{tp}（leader {leader}）结束时ISR为{}，副本为{}",
                    ids(isr),
                    ids(replicas)
                )
            } else {
                format!(
                    "{tp} (leader {leader}) has ISR {} of replicas {} at the end",
                    ids(isr),
                    ids(replicas)
                )
            }
        }
        F::BrokerDownAtEnd { broker } => {
            if zh {
                format!("broker {broker}在结束时宕机")
            } else {
                format!("broker {broker} is down at the end")
            }
        }
        F::NotRecovered => {
            if zh {
                "集群在结束时尚未恢复".to_string()
            } else {
                "the cluster had not recovered at the end".to_string()
            }
        }
    }
}

/// A lost acknowledged write, as the lost-writes checker reports it.
pub fn lost_write(l: &crate::check::LostWrite, lang: Lang) -> String {
    let (value, tp, offset, at) = (&l.value, &l.tp, l.offset, l.acknowledged_ms);
    match (lang, &l.found) {
        (Lang::En, Some(other)) => {
            format!("{value} acknowledged at {tp}@{offset} ({at} ms) was replaced by {other}")
        }
        (Lang::En, None) => {
            format!(
                "{value} acknowledged at {tp}@{offset} ({at} ms) is gone: the log ends before it"
            )
        }
        (Lang::ZhCn, Some(other)) => {
            format!("{value}在{at} ms被确认写入{tp}@{offset}，现在该位置是{other}")
        }
        (Lang::ZhCn, None) => {
            format!("{value}在{at} ms被确认写入{tp}@{offset}，现在已不在：日志在它之前就结束了")
        }
    }
}

/// A value written more than once, as the duplicates checker reports it.
pub fn duplicate(d: &crate::check::Duplicate, lang: Lang) -> String {
    let offsets: Vec<String> = d.offsets.iter().map(i64::to_string).collect();
    let (value, tp, n) = (&d.value, &d.tp, d.offsets.len());
    match lang {
        Lang::En => format!(
            "{value} is in {tp} {n} times, at offsets {}",
            offsets.join(", ")
        ),
        Lang::ZhCn => format!("{value}在{tp}中出现{n}次，offset为{}", offsets.join("、")),
    }
}

/// A node's name in `lang`: `broker 2`, `zookeeper` / `ZooKeeper`, `client 20001` /
/// `客户端20001`.
pub fn node_name_in(node: kafkasim_core::protocol::NodeId, lang: Lang) -> String {
    match lang {
        Lang::En => node_name(node),
        Lang::ZhCn => zh::node(node),
    }
}

/// What a group state means, for a class (`Stable: every member has its partitions…`).
pub fn group_state_meaning(state: GroupState, lang: Lang) -> &'static str {
    match (lang, state) {
        (Lang::En, GroupState::Empty) => "no members; committed offsets are kept",
        (Lang::En, GroupState::PreparingRebalance) => "waiting for every member to (re)join",
        (Lang::En, GroupState::CompletingRebalance) => {
            "waiting for the leader's assignment (SyncGroup)"
        }
        (Lang::En, GroupState::Stable) => "every member has its partitions and heartbeats",
        (Lang::En, GroupState::Dead) => "the group is gone from this coordinator",
        (Lang::ZhCn, GroupState::Empty) => "没有成员；已提交的offset仍在",
        (Lang::ZhCn, GroupState::PreparingRebalance) => "等待每个成员（重新）加入",
        (Lang::ZhCn, GroupState::CompletingRebalance) => "等待组leader的分配方案（SyncGroup）",
        (Lang::ZhCn, GroupState::Stable) => "每个成员都有自己的分区并在发送心跳",
        (Lang::ZhCn, GroupState::Dead) => "该消费组已不在这个协调者上",
    }
}

/// The entry's sentence in English.
pub fn en(entry: &TraceEntry) -> String {
    match entry {
        TraceEntry::Event(e) => event(e),
        TraceEntry::Fault { fault: f, .. } => fault(f),
        TraceEntry::Violation { violation: v, .. } => {
            format!("INVARIANT VIOLATED: {}", violation_en(v))
        }
        TraceEntry::Caption { text, .. } => format!("LESSON: {text}"),
        TraceEntry::Note { note, .. } => match note {
            Note::FaultSkipped { action, target } => {
                format!("(the scenario's {action} of {target} found nobody: skipped)")
            }
            Note::AdminFailed {
                operation,
                topic,
                error,
            } => {
                let what = match *operation {
                    "create-topic" => format!("creating topic {topic}"),
                    "add-partitions" => format!("adding partitions to {topic}"),
                    _ => format!("changing the configs of {topic}"),
                };
                format!("({what} failed: {error})")
            }
        },
    }
}

/// A broken replica invariant in words.
pub fn violation(v: &Violation, lang: Lang) -> String {
    match lang {
        Lang::En => violation_en(v),
        Lang::ZhCn => zh::violation(v),
    }
}

fn violation_en(v: &Violation) -> String {
    match v {
        Violation::HwAboveLeo {
            broker,
            tp,
            high_watermark,
            log_end_offset,
        } => {
            format!("broker {broker}: {tp} has HW {high_watermark} above its LEO {log_end_offset}")
        }
        Violation::LeaderNotInIsr { broker, tp, isr } => {
            format!("broker {broker} leads {tp} but is not in its ISR {isr:?}")
        }
        Violation::IsrOutsideReplicas { tp, isr, broker } => {
            format!("the ISR {isr:?} of {tp} names broker {broker}, not a replica")
        }
        Violation::LogsDiffer {
            broker,
            tp,
            leader,
            offset,
            high_watermark,
        } => format!(
            "broker {broker}'s log of {tp} differs from its leader broker {leader}'s at offset {offset}, below its HW {high_watermark}"
        ),
    }
}

/// Brokers as the narration writes them: `[1,2,3]`.
pub fn broker_list(brokers: &BTreeSet<BrokerId>) -> String {
    let ids: Vec<String> = brokers.iter().map(|b| b.to_string()).collect();
    format!("[{}]", ids.join(","))
}

/// A member id as sentences say it: Kafka builds it as client.id + "-" + a UUID, so
/// `worker-2-ce43c927-bd73-…` reads `worker-2 (ce43c927…)`, the consumer's own name first.
pub fn member(id: &str) -> String {
    let uuid_len = 36;
    let is_uuid = |u: &str| {
        u.len() == uuid_len
            && u.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            })
    };
    match id.len().checked_sub(uuid_len + 1) {
        Some(at)
            if id.is_char_boundary(at) && id[at..].starts_with('-') && is_uuid(&id[at + 1..]) =>
        {
            format!("{} ({}…)", &id[..at], &id[at + 1..at + 9])
        }
        _ => id.to_string(),
    }
}

fn members(ids: &[String]) -> String {
    ids.iter().map(|m| member(m)).collect::<Vec<_>>().join(", ")
}

fn partition_list(tps: &[TopicPartition]) -> String {
    let names: Vec<String> = tps.iter().map(|tp| tp.to_string()).collect();
    format!("[{}]", names.join(", "))
}

fn fault(fault: &Injected) -> String {
    match fault {
        Injected::Crash {
            broker,
            crash: Crash::Process,
        } => format!(
            "FAULT: broker {broker}'s process crashed; the page cache survives, so everything it wrote is kept"
        ),
        Injected::Crash {
            broker,
            crash: Crash::PowerLoss,
        } => format!(
            "FAULT: broker {broker} lost power; bytes not flushed to disk may be lost, the last message may be torn"
        ),
        Injected::Crash {
            broker,
            crash: Crash::PowerLossUnflushedLost,
        } => format!(
            "FAULT: broker {broker} lost power before its disk wrote back any unflushed byte: only what was flushed survives"
        ),
        Injected::Restart { broker } => format!("broker {broker} restarts and recovers its logs"),
        Injected::Partition { groups } => {
            let groups: Vec<String> = groups
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|&n| node_name(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .map(|g| format!("{{{g}}}"))
                .collect();
            format!(
                "FAULT: the network is partitioned into {}",
                groups.join(" | ")
            )
        }
        Injected::Isolate { node } => format!(
            "FAULT: {} is cut off from every other node",
            node_name(*node)
        ),
        Injected::Heal => "the network heals: every node can reach every other again".to_string(),
        Injected::Pause { node } => format!(
            "FAULT: {} is paused (a stop-the-world pause): it neither sends nor handles anything",
            node_name(*node)
        ),
        Injected::Resume { node } => format!("{} resumes where it stopped", node_name(*node)),
        Injected::Hold { from, to } => format!(
            "FAULT: the link {} -> {} holds its messages (a stalled connection: they wait, nothing is lost)",
            node_name(*from),
            node_name(*to)
        ),
        Injected::Release { from, to } => format!(
            "the link {} -> {} is released: the held messages arrive, in order",
            node_name(*from),
            node_name(*to)
        ),
        Injected::ConsumerCrash { name, .. } => format!(
            "FAULT: consumer {name} crashed: no LeaveGroup and no last commit; its group notices only after session.timeout.ms"
        ),
        Injected::ConsumerClose { name, .. } => format!(
            "consumer {name} closes: it commits what it processed (if it commits) and leaves its group"
        ),
        Injected::ConsumerStall { name, until_ms, .. } => format!(
            "FAULT: consumer {name}'s application stops calling poll() until {:.3}s (slow processing, a long GC): its heartbeats go on, so it stays in its group until max.poll.interval.ms",
            *until_ms as f64 / 1000.0
        ),
        Injected::Link { from, to, config } => format!(
            "the link {} -> {} now delays messages {}..={} ms and loses {:.0}% of them",
            node_name(*from),
            node_name(*to),
            config.latency_min_ms,
            config.latency_max_ms,
            config.loss * 100.0
        ),
    }
}

fn event(e: &Event) -> String {
    match &e.kind {
        EventKind::Partition { broker, tp, event } => partition(event, &tp.to_string(), *broker),
        EventKind::BrokerStarted { broker, partitions } => format!(
            "broker {broker} started with {partitions} partition logs on its disk and connects to ZooKeeper"
        ),
        EventKind::LogRecovered {
            broker,
            tp,
            log_end_offset,
            dropped_bytes,
        } => format!(
            "broker {broker} recovered {tp} after an unclean shutdown: {dropped_bytes} bytes at the tail were \
             invalid or lost, the log now ends at offset {log_end_offset}"
        ),
        EventKind::BrokerRegistered { broker } => format!(
            "broker {broker} registered at /brokers/ids/{broker} (an ephemeral node that lives as long as its \
             ZooKeeper session)"
        ),
        EventKind::RegistrationBlocked { broker } => format!(
            "broker {broker} cannot register yet: /brokers/ids/{broker} still belongs to its previous session, \
             which has not expired"
        ),
        EventKind::SessionExpired {
            client,
            timeout_ms,
            deleted,
        } => format!(
            "ZooKeeper expired the session of node {client}: no heartbeat for {timeout_ms} ms \
             (zookeeper.session.timeout.ms); its ephemeral nodes {deleted:?} are deleted"
        ),
        EventKind::SessionTimeoutNegotiated {
            client,
            requested_ms,
            granted_ms,
        } => format!(
            "ZooKeeper gives node {client} a session timeout of {granted_ms} ms, not the \
             {requested_ms} ms it asked for (zookeeper.session.timeout.ms): the server keeps \
             sessions between 2 and 20 ticks (tickTime {} ms)",
            kafkasim_core::zookeeper::TICK_TIME_MS
        ),
        EventKind::SessionClosed { client, deleted } => format!(
            "node {client} closed its ZooKeeper session on a clean shutdown: {deleted:?} are deleted at once, \
             no session timeout to wait for"
        ),
        EventKind::ShutdownRequested { broker } => format!(
            "broker {broker} begins a controlled shutdown: it asks the controller to move its leaderships first"
        ),
        EventKind::ShutdownReady { broker, remaining } => {
            if remaining.is_empty() {
                format!(
                    "broker {broker} leads nothing any more: it flushes its logs and stops cleanly"
                )
            } else {
                let list: Vec<String> = remaining.iter().map(|tp| tp.to_string()).collect();
                format!(
                    "broker {broker} stops although it still leads {}: no other in-sync replica could take over",
                    list.join(", ")
                )
            }
        }
        EventKind::ControllerElected { broker, epoch } => format!(
            "broker {broker} became the controller (controller epoch {epoch}): it created /controller first"
        ),
        EventKind::ControllerResigned { broker, reason } => {
            let why = match reason {
                ResignReason::SessionExpired => "its ZooKeeper session expired".to_string(),
                ResignReason::ControllerNodeDeleted => {
                    "its /controller node was deleted".to_string()
                }
                ResignReason::EpochClaimed { error } => {
                    format!("another broker claimed the controller epoch first ({error})")
                }
                ResignReason::WriteRefused { error } => {
                    format!("its write was refused because a newer controller exists ({error})")
                }
            };
            format!("broker {broker} is no longer the controller: {why}")
        }
        EventKind::BrokersFailed { brokers: b } => format!(
            "the controller sees brokers {} gone (their registrations vanished) and moves their leaderships",
            broker_list(b)
        ),
        EventKind::BrokersStarted { brokers: b } => format!(
            "the controller sees brokers {} registered and sends them their partitions",
            broker_list(b)
        ),
        EventKind::TopicCreated {
            topic,
            assignment,
            explicit_assignment,
        } => {
            let parts: Vec<String> = assignment
                .iter()
                .enumerate()
                .map(|(p, r)| {
                    let r: Vec<String> = r.iter().map(|b| b.to_string()).collect();
                    format!("{topic}-{p} on [{}]", r.join(","))
                })
                .collect();
            let placement = if *explicit_assignment {
                "the replica assignment the admin gave"
            } else {
                "Kafka's round-robin placement"
            };
            format!(
                "topic {topic} created with {placement}: {}",
                parts.join(", ")
            )
        }
        EventKind::PartitionsAdded {
            topic,
            first,
            assignment,
        } => {
            let parts: Vec<String> = assignment
                .iter()
                .enumerate()
                .map(|(n, r)| {
                    let r: Vec<String> = r.iter().map(|b| b.to_string()).collect();
                    format!("{topic}-{} on [{}]", *first as usize + n, r.join(","))
                })
                .collect();
            format!(
                "topic {topic} grew to {} partitions: {} (keys may now hash to other partitions)",
                *first as usize + assignment.len(),
                parts.join(", ")
            )
        }
        EventKind::TopicConfigChanged { topic, changes } => {
            let changes: Vec<String> = changes
                .iter()
                .map(|(name, before, now)| format!("{name} {before} -> {now}"))
                .collect();
            format!(
                "the controller changed topic {topic}'s configs: {}; every broker applies them from its next metadata update",
                changes.join(", ")
            )
        }
        EventKind::LeaderElected {
            tp,
            leader,
            leader_epoch,
            isr,
            unclean,
            reason,
        } => {
            let why = match reason {
                ElectionReason::NewPartition => "a new partition".to_string(),
                ElectionReason::LeaderFailed { previous } => {
                    format!("its leader, broker {previous}, is gone")
                }
                ElectionReason::ReplicaCameBack => {
                    "a replica of the offline partition came back".to_string()
                }
                ElectionReason::Preferred => {
                    "leadership returns to the preferred replica".to_string()
                }
                ElectionReason::ControlledShutdown { previous } => {
                    format!("broker {previous} is shutting down cleanly and hands over")
                }
            };
            if *unclean {
                format!(
                    "UNCLEAN election: broker {leader} leads {tp} in epoch {leader_epoch} although it was not in \
                     the ISR ({why}; unclean.leader.election.enable = true): acknowledged records it lacks are lost"
                )
            } else {
                format!(
                    "broker {leader} was elected leader of {tp} in epoch {leader_epoch} with ISR {} ({why}; the \
                     first live replica of the assignment that is in the ISR)",
                    broker_list(isr)
                )
            }
        }
        EventKind::PartitionOffline {
            tp,
            leader_epoch,
            isr,
            unclean_leader_election_enable,
        } => {
            if *unclean_leader_election_enable {
                format!("{tp} is OFFLINE in epoch {leader_epoch}: no replica is alive to lead it")
            } else {
                format!(
                    "{tp} is OFFLINE in epoch {leader_epoch}: no member of its ISR {} is alive, and \
                     unclean.leader.election.enable = false forbids a leader from outside the ISR",
                    broker_list(isr)
                )
            }
        }
        EventKind::IsrShrunkByController {
            tp,
            removed,
            isr,
            leader_epoch,
            shutting_down,
        } => format!(
            "the controller removed {} brokers {} from the ISR of {tp}: the ISR is now {} (leader epoch {leader_epoch})",
            if *shutting_down {
                "shutting-down"
            } else {
                "dead"
            },
            broker_list(removed),
            broker_list(isr)
        ),
        EventKind::IsrChangeCommitted {
            tp,
            isr,
            partition_epoch,
        } => format!(
            "the controller committed the ISR of {tp} as {} (partition epoch {partition_epoch})",
            broker_list(isr)
        ),
        EventKind::IsrChangeRejected { tp, leader, reason } => format!(
            "the controller refused broker {leader}'s ISR change for {tp}: {}",
            isr_rejected(reason)
        ),
        EventKind::StaleBrokerEpochIgnored {
            broker,
            request_epoch,
        } => format!(
            "broker {broker} refused a controller request for broker epoch {request_epoch}: it was meant for \
             an earlier run of this broker (STALE_BROKER_EPOCH, KIP-380)"
        ),
        EventKind::StaleControllerIgnored {
            broker,
            epoch,
            current,
        } => format!(
            "broker {broker} ignored a request from a deposed controller (epoch {epoch}, current {current})"
        ),
        EventKind::Group { broker, event } => {
            format!("coordinator {broker}: {}", group(event))
        }
        EventKind::Consumer { name, event, .. } => consumer(event, name),
        EventKind::Producer { name, event, .. } => producer(event, name),
        EventKind::OffsetsRecordSkipped {
            broker,
            tp,
            offset,
            error,
        } => format!(
            "broker {broker} skipped the record at offset {offset} of {tp} while loading groups: {error}"
        ),
    }
}

/// Why the controller refused an ISR change, with Kafka's error name.
pub fn isr_rejected(rejected: &IsrChangeRejected) -> String {
    match rejected {
        IsrChangeRejected::FencedLeaderEpoch {
            current_leader,
            current_epoch,
        } => format!(
            "the sender is not the leader of epoch {current_epoch} (the leader is {}) (FENCED_LEADER_EPOCH)",
            current_leader.map_or("none".to_string(), |b| format!("broker {b}"))
        ),
        IsrChangeRejected::InvalidUpdateVersion {
            current_partition_epoch,
        } => format!(
            "the partition changed since the leader read it; it is at partition epoch {current_partition_epoch} \
             (INVALID_UPDATE_VERSION)"
        ),
        IsrChangeRejected::IneligibleReplica { broker } => format!(
            "broker {broker} cannot be in the ISR: it is not a live replica (INELIGIBLE_REPLICA)"
        ),
    }
}

fn deleted_segment(d: &DeletedSegment) -> String {
    let why = match &d.reason {
        DeletionReason::RetentionMs { age_ms, limit_ms } => {
            format!("its newest message is {age_ms} ms old, more than {limit_ms} ms (retention.ms)")
        }
        DeletionReason::RetentionBytes { log_size, limit } => {
            format!("the log holds {log_size} bytes, more than {limit} (retention.bytes)")
        }
    };
    format!(
        "segment {}.log (offsets {}..{}) deleted: {why}",
        segment_file_stem(d.base_offset),
        d.base_offset,
        d.next_offset
    )
}

fn partition(event: &PartitionEvent, partition: &str, broker: BrokerId) -> String {
    match event {
        PartitionEvent::BecameLeader {
            epoch,
            isr,
            log_end_offset,
        } => format!(
            "broker {broker} became leader of {partition} in epoch {epoch} with ISR {}; \
             epoch {epoch} starts at offset {log_end_offset}",
            broker_list(isr)
        ),
        PartitionEvent::BecameFollower { epoch, leader } => match leader {
            Some(leader) => {
                format!("broker {broker} follows broker {leader} for {partition} in epoch {epoch}")
            }
            None => format!(
                "broker {broker} holds a replica of {partition}, which has no leader (epoch {epoch})"
            ),
        },
        PartitionEvent::HighWatermarkAdvanced { from, to } => format!(
            "the high watermark of {partition} on broker {broker} moved from {from} to {to}: \
             offsets below {to} are committed"
        ),
        PartitionEvent::HighWatermarkLowered { from, to } => format!(
            "the high watermark of {partition} on broker {broker} moved back from {from} to {to}: \
             a follower takes its leader's high watermark even when it is lower"
        ),
        PartitionEvent::IsrShrinkProposed { removed, lag_ms } => format!(
            "broker {broker} asks to remove {} from the ISR of {partition}: not caught up for \
             more than {lag_ms} ms (replica.lag.time.max.ms)",
            broker_list(removed)
        ),
        PartitionEvent::IsrExpandProposed {
            added,
            log_end_offset,
            high_watermark,
        } => format!(
            "broker {broker} asks to add broker {added} to the ISR of {partition}: it reached offset \
             {log_end_offset}, at or past the high watermark {high_watermark}"
        ),
        PartitionEvent::IsrCommitted { isr } => {
            format!("the ISR of {partition} is now {}", broker_list(isr))
        }
        PartitionEvent::SegmentsDeleted {
            deleted,
            log_start_offset,
        } => {
            let what: Vec<String> = deleted.iter().map(deleted_segment).collect();
            format!(
                "broker {broker} applied retention to {partition}: {}; the log now starts at offset {log_start_offset}",
                what.join("; ")
            )
        }
        PartitionEvent::Truncated { from, to, reason } => match reason {
            TruncationReason::HighWatermark => format!(
                "broker {broker} truncated {partition} from {from} to its high watermark {to} \
                 (the pre-0.11 rule), discarding offsets {to}..{from}"
            ),
            TruncationReason::DivergingEpoch {
                epoch,
                leader_end_offset,
            } => format!(
                "broker {broker} truncated {partition} from {from} to {to}: the leader says epoch {epoch} \
                 ends at {leader_end_offset} in its log"
            ),
            TruncationReason::LeaderLogEnd {
                leader_log_end_offset,
            } => format!(
                "broker {broker} truncated {partition} from {from} to {to}: its log was longer than the \
                 leader's, which ends at {leader_log_end_offset}, so offsets {to}..{from} are discarded"
            ),
            TruncationReason::BelowLeaderLogStart => format!(
                "broker {broker} emptied {partition} and starts again at offset {to}: the leader's log \
                 no longer holds offsets below it"
            ),
        },
    }
}

fn group_change(why: &GroupChange) -> String {
    match why {
        GroupChange::LeaderRejoined { member: m } => {
            format!("its leader {} joined again", member(m))
        }
        GroupChange::SubscriptionChanged { member: m } => {
            format!("member {} changed its subscription", member(m))
        }
        GroupChange::MemberJoined { member: m } => format!("member {} joined", member(m)),
        GroupChange::StaticMemberReplaced { member: m, old } => {
            format!("static member {} replaced {}", member(m), member(old))
        }
        GroupChange::JoinComplete { dropped } if dropped.is_empty() => {
            "the join phase is complete".to_string()
        }
        GroupChange::JoinComplete { dropped } => format!(
            "the join phase is complete; {} did not rejoin within the rebalance timeout (max.poll.interval.ms) and left",
            members(dropped)
        ),
        GroupChange::AssignmentStored => {
            "the leader's assignment is stored in __consumer_offsets".to_string()
        }
        GroupChange::AssignmentStoreFailed { error } => {
            format!("storing the leader's assignment failed ({error})")
        }
        GroupChange::MemberLeft { member: m } => {
            format!("member {} left the group (LeaveGroup)", member(m))
        }
        GroupChange::SessionTimeout {
            member: m,
            timeout_ms,
        } => {
            format!(
                "member {} stopped heartbeating for {timeout_ms} ms (session.timeout.ms)",
                member(m)
            )
        }
        GroupChange::SyncTimeout { late } => format!(
            "{} sent no SyncGroup within the rebalance timeout",
            members(late)
        ),
        GroupChange::Loaded { generation } => {
            format!("loaded from __consumer_offsets in generation {generation}")
        }
        GroupChange::Unloaded => {
            "this broker no longer leads its __consumer_offsets partition".to_string()
        }
    }
}

fn group(event: &GroupEvent) -> String {
    let group = &event.group;
    match &event.kind {
        GroupEventKind::Transition { from, to, why } => {
            format!(
                "group {group} moved from {from} to {to}: {}",
                group_change(why)
            )
        }
        GroupEventKind::Generation {
            generation,
            leader,
            protocol,
            members: ids,
        } => format!(
            "group {group} starts generation {generation} with {} members [{}]; leader {} assigns with {protocol}",
            ids.len(),
            members(ids),
            member(leader)
        ),
        GroupEventKind::Assigned { generation } => format!(
            "group {group} is Stable in generation {generation}: the leader's assignment reached every member"
        ),
    }
}

fn consumer(event: &ConsumerEvent, name: &str) -> String {
    match event {
        ConsumerEvent::Assigned {
            group,
            generation,
            partitions,
            ..
        } => format!(
            "consumer {name} of group {group} owns {} in generation {generation}",
            partition_list(partitions)
        ),
        ConsumerEvent::Revoked { partitions, why } => {
            let why = match why {
                RevokeReason::Closing => "leaving the group",
                RevokeReason::EagerRebalance => {
                    "an eager rebalance revokes every partition before rejoining"
                }
                RevokeReason::Unsubscribed => "their topics are no longer subscribed",
                RevokeReason::CooperativeMoved => {
                    "the cooperative assignment moved them to another member"
                }
            };
            format!(
                "consumer {name} gives up {}: {why}",
                partition_list(partitions)
            )
        }
        ConsumerEvent::Lost {
            partitions,
            error: Some(error),
        } => format!(
            "consumer {name} lost {} without revoking them: the coordinator answered {error}, it must rejoin",
            partition_list(partitions)
        ),
        ConsumerEvent::Lost {
            partitions,
            error: None,
        } => format!(
            "consumer {name} lost {} without revoking them: it left the group when its application stopped polling, and rejoins now that it polls again",
            partition_list(partitions)
        ),
        ConsumerEvent::LeftGroup { why, static_member } => {
            let why = match why {
                LeaveReason::Closed => "the consumer closed".to_string(),
                LeaveReason::PollTimeout {
                    max_poll_interval_ms,
                } => format!(
                    "its application did not poll for {max_poll_interval_ms} ms (max.poll.interval.ms)"
                ),
            };
            if *static_member {
                format!(
                    "consumer {name} left its group: {why}; a static member sends no LeaveGroup, so the coordinator waits for its session.timeout.ms"
                )
            } else {
                format!("consumer {name} left its group: {why}")
            }
        }
        ConsumerEvent::CoordinatorUnknown { coordinator, error } => format!(
            "consumer {name} lost its group's coordinator, broker {coordinator} ({error}): it looks the coordinator up again"
        ),
        ConsumerEvent::CoordinatorFound { coordinator } => {
            format!("consumer {name} found its group's coordinator: broker {coordinator}")
        }
        ConsumerEvent::RejoinRequested => format!(
            "consumer {name} hears from its heartbeat that the group is rebalancing (REBALANCE_IN_PROGRESS): it rejoins when its application next calls poll()"
        ),
        ConsumerEvent::OffsetReset {
            tp,
            offset,
            policy,
            why,
        } => {
            let why = match why {
                ResetReason::SeekToEnd => "seekToEnd".to_string(),
                ResetReason::SeekToBeginning => "seekToBeginning".to_string(),
                ResetReason::NoGroup => {
                    "the consumer has no group.id, so no committed offset".to_string()
                }
                ResetReason::NoCommittedOffset => "the group has no committed offset".to_string(),
                ResetReason::OutOfRange { offset } => format!("offset {offset} is out of range"),
            };
            format!(
                "consumer {name} starts {tp} at offset {offset}: {why}, auto.offset.reset={policy}"
            )
        }
        ConsumerEvent::NoOffset { tp } => format!(
            "consumer {name} cannot consume {tp}: no committed offset and auto.offset.reset=none"
        ),
        ConsumerEvent::CommitRetrying { error } => format!(
            "consumer {name}'s commitSync got {error}, a retriable error: it tries again (until default.api.timeout.ms)"
        ),
        ConsumerEvent::CommitFailed { error } => {
            let meaning = match error.as_str() {
                "REBALANCE_IN_PROGRESS" => {
                    " (the group is rebalancing: RebalanceInProgressException; the offsets wait for a commit after the rebalance)"
                }
                "ILLEGAL_GENERATION" | "UNKNOWN_MEMBER_ID" => {
                    " (CommitFailedException: it is no longer in that generation, and rejoins at its next poll())"
                }
                "TIMEOUT" => " (commitSync gave up after default.api.timeout.ms)",
                _ => "",
            };
            format!("consumer {name}'s commit failed: {error}{meaning}")
        }
        ConsumerEvent::SubscriptionChanged { topics } => format!(
            "consumer {name}'s pattern now matches [{}]: it rejoins its group",
            topics.join(", ")
        ),
    }
}

fn producer(event: &ProducerEvent, name: &str) -> String {
    match event {
        ProducerEvent::Retrying {
            tp,
            records,
            error,
            attempt,
            in_sequence_order,
        } => format!(
            "producer {name} retries a batch of {records} to {tp} after {error} (attempt {attempt} failed); it goes back {}",
            if *in_sequence_order {
                "in sequence order (idempotence keeps the order)"
            } else {
                "first in the queue, so it may land after later batches"
            }
        ),
        ProducerEvent::SequencesRestarted {
            tp,
            producer_id,
            epoch,
            reason,
            rewritten,
            unknown,
        } => {
            let why = match reason {
                RestartReason::LostAcknowledged {
                    leader,
                    last_acked_sequence: Some(last),
                } => format!(
                    "it got OUT_OF_ORDER_SEQUENCE_NUMBER from {tp} on broker {leader} for the batch right after \
                     sequence {last}, which the leader had acknowledged: the leader lost acknowledged batches"
                ),
                RestartReason::LostAcknowledged {
                    leader,
                    last_acked_sequence: None,
                } => format!(
                    "it got OUT_OF_ORDER_SEQUENCE_NUMBER from {tp} on broker {leader} for its first batch: the \
                     leader's sequence for this producer does not continue where the producer's does"
                ),
                RestartReason::Expired => format!(
                    "batches to {tp} expired (delivery.timeout.ms) after they were sent, so their sequence numbers \
                     will never arrive and later ones could not follow"
                ),
                RestartReason::FailedBatch { error } => {
                    format!(
                        "a batch to {tp} failed for good ({error}) after it had a sequence number"
                    )
                }
            };
            let mut text = format!(
                "producer {name} bumps its epoch to {epoch} (producer id {producer_id}, KIP-360) and starts the \
                 sequences of {tp} again at 0: {why}"
            );
            if *rewritten > 0 {
                text.push_str(&format!(
                    "; {rewritten} waiting batches get new sequence numbers"
                ));
            }
            if *unknown > 0 {
                text.push_str(&format!(
                    "; {unknown} batches that may already be in the log are given up as unknown rather than written twice"
                ));
            }
            text
        }
        ProducerEvent::Failed { tp, records, error } => {
            format!("producer {name} gives up on a batch of {records} to {tp}: {error}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_id_reads_as_the_consumers_name_and_the_start_of_its_uuid() {
        assert_eq!(
            member("worker-2-ce43c927-bd73-c232-4e21-91eabecb6b54"),
            "worker-2 (ce43c927…)"
        );
        assert_eq!(member("worker-2"), "worker-2");
        assert_eq!(
            member("x-ce43c927-bd73-c232-4e21-91eabecb6b5"),
            "x-ce43c927-bd73-c232-4e21-91eabecb6b5"
        );
    }

    #[test]
    fn a_refused_isr_change_names_kafkas_error() {
        let text = isr_rejected(&IsrChangeRejected::FencedLeaderEpoch {
            current_leader: Some(2),
            current_epoch: 5,
        });
        assert_eq!(
            text,
            "the sender is not the leader of epoch 5 (the leader is broker 2) (FENCED_LEADER_EPOCH)"
        );
    }
}
