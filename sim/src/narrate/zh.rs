//! The Simplified Chinese narrator: the zh-CN twin of every English sentence in
//! [`super`], function for function, following `shared/reference/glossary-zh.md`
//! (Latin Kafka terms, full-width punctuation, no space between Han and Latin).

use super::*;

use kafkasim_core::protocol::{FIRST_CLIENT, NodeId, ZOOKEEPER};

/// The entry's sentence in Simplified Chinese.
pub(super) fn sentence(entry: &TraceEntry) -> String {
    match entry {
        TraceEntry::Event(e) => event(e),
        TraceEntry::Fault { fault: f, .. } => fault(f),
        TraceEntry::Violation { violation: v, .. } => {
            format!("【不变量被破坏】{}", violation(v))
        }
        // The caption as the file says it in Chinese, or as written when it does not.
        TraceEntry::Caption { text, text_zh, .. } => {
            format!("【讲解】{}", text_zh.as_deref().unwrap_or(text))
        }
        TraceEntry::Note { note, .. } => match note {
            Note::FaultSkipped { action, target } => {
                format!("（场景中对{target}的{action}没有找到任何节点：已跳过）")
            }
            Note::AdminFailed {
                operation,
                topic,
                error,
            } => {
                let what = match *operation {
                    "create-topic" => format!("创建topic {topic}"),
                    "add-partitions" => format!("为topic {topic}增加分区"),
                    _ => format!("修改topic {topic}的配置"),
                };
                format!("（{what}失败：{error}）")
            }
        },
    }
}

/// A broken replica invariant in words.
pub(super) fn violation(v: &Violation) -> String {
    match v {
        Violation::HwAboveLeo {
            broker,
            tp,
            high_watermark,
            log_end_offset,
        } => format!("broker {broker}上{tp}的HW {high_watermark}高于其LEO {log_end_offset}"),
        Violation::LeaderNotInIsr { broker, tp, isr } => {
            format!("broker {broker}是{tp}的leader，却不在其ISR {isr:?}中")
        }
        Violation::IsrOutsideReplicas { tp, isr, broker } => {
            format!("{tp}的ISR {isr:?}包含broker {broker}，而它不是该分区的副本")
        }
        Violation::LogsDiffer {
            broker,
            tp,
            leader,
            offset,
            high_watermark,
        } => format!(
            "broker {broker}上{tp}的日志与其leader broker {leader}的日志在offset {offset}处不一致，\
             该offset低于其HW {high_watermark}"
        ),
    }
}

/// A node's name in Chinese: `broker 2`, `ZooKeeper`, `客户端20001`.
pub(super) fn node(n: NodeId) -> String {
    if n == ZOOKEEPER {
        "ZooKeeper".to_string()
    } else if n >= FIRST_CLIENT {
        format!("客户端{n}")
    } else {
        format!("broker {n}")
    }
}

fn fault(fault: &Injected) -> String {
    match fault {
        Injected::Crash {
            broker,
            crash: Crash::Process,
        } => format!("【故障】broker {broker}的进程崩溃；页缓存还在，它写入的数据都不会丢失"),
        Injected::Crash {
            broker,
            crash: Crash::PowerLoss,
        } => format!("【故障】broker {broker}断电；未刷盘的字节可能丢失，最后一条消息可能残缺"),
        Injected::Crash {
            broker,
            crash: Crash::PowerLossUnflushedLost,
        } => format!(
            "【故障】broker {broker}在磁盘写回任何未刷盘的字节之前断电：只有已刷盘的数据还在"
        ),
        Injected::Restart { broker } => format!("broker {broker}重启并恢复其日志"),
        Injected::Partition { groups } => {
            let groups: Vec<String> = groups
                .iter()
                .map(|g| g.iter().map(|&n| node(n)).collect::<Vec<_>>().join(", "))
                .map(|g| format!("{{{g}}}"))
                .collect();
            format!("【故障】发生网络分区，节点被分为{}", groups.join(" | "))
        }
        Injected::Isolate { node: n } => format!("【故障】{}与其他所有节点断开", node(*n)),
        Injected::Heal => "网络恢复：所有节点之间重新可以互相连通".to_string(),
        Injected::Pause { node: n } => format!(
            "【故障】{}被挂起（stop-the-world停顿）：它既不发送也不处理任何数据",
            node(*n)
        ),
        Injected::Resume { node: n } => format!("{}从停下的地方恢复运行", node(*n)),
        Injected::Hold { from, to } => format!(
            "【故障】链路{} -> {}扣住其上的网络消息（连接停滞：它们只是在等待，没有丢失）",
            node(*from),
            node(*to)
        ),
        Injected::Release { from, to } => format!(
            "链路{} -> {}被放开：被扣住的网络消息按顺序送达",
            node(*from),
            node(*to)
        ),
        Injected::ConsumerCrash { name, .. } => format!(
            "【故障】消费者{name}崩溃：没有LeaveGroup，也没有最后一次提交offset；\
             其消费组要到session.timeout.ms之后才会发现"
        ),
        Injected::ConsumerClose { name, .. } => {
            format!("消费者{name}关闭：提交已处理消息的offset（如果它提交offset），并离开其消费组")
        }
        Injected::ConsumerStall { name, until_ms, .. } => format!(
            "【故障】消费者{name}的应用程序停止调用poll()，直到{:.3}s（处理缓慢、长时间GC）：\
             它的心跳照常发送，因此在max.poll.interval.ms到期之前它仍留在消费组中",
            *until_ms as f64 / 1000.0
        ),
        Injected::Link { from, to, config } => format!(
            "链路{} -> {}现在将网络消息延迟{}..={} ms，并丢弃其中{:.0}%",
            node(*from),
            node(*to),
            config.latency_min_ms,
            config.latency_max_ms,
            config.loss * 100.0
        ),
    }
}

fn event(e: &Event) -> String {
    match &e.kind {
        EventKind::Partition { broker, tp, event } => partition(event, &tp.to_string(), *broker),
        EventKind::BrokerStarted { broker, partitions } => {
            format!("broker {broker}启动，磁盘上有{partitions}个分区日志，并连接ZooKeeper")
        }
        EventKind::LogRecovered {
            broker,
            tp,
            log_end_offset,
            dropped_bytes,
        } => format!(
            "broker {broker}在非正常关闭后恢复了{tp}：末尾{dropped_bytes}字节无效或已丢失，\
             日志现在结束于offset {log_end_offset}"
        ),
        EventKind::BrokerRegistered { broker } => format!(
            "broker {broker}注册到/brokers/ids/{broker}（临时节点，只在其ZooKeeper会话存续期间存在）"
        ),
        EventKind::RegistrationBlocked { broker } => format!(
            "broker {broker}暂时无法注册：/brokers/ids/{broker}仍属于它尚未过期的上一个会话"
        ),
        EventKind::SessionExpired {
            client,
            timeout_ms,
            deleted,
        } => format!(
            "ZooKeeper判定节点{client}的会话过期：已有{timeout_ms} ms没有心跳\
             （zookeeper.session.timeout.ms）；其临时节点{deleted:?}被删除"
        ),
        EventKind::SessionTimeoutNegotiated {
            client,
            requested_ms,
            granted_ms,
        } => format!(
            "ZooKeeper给节点{client}的会话超时为{granted_ms} ms，而不是它请求的{requested_ms} ms\
             （zookeeper.session.timeout.ms）：服务端把会话超时限制在2到20个tick之间\
             （tickTime {} ms）",
            kafkasim_core::zookeeper::TICK_TIME_MS
        ),
        EventKind::SessionClosed { client, deleted } => format!(
            "节点{client}在正常关闭时关闭了其ZooKeeper会话：{deleted:?}立即被删除，无需等待会话超时"
        ),
        EventKind::ShutdownRequested { broker } => {
            format!("broker {broker}开始受控关闭：先请求controller迁走它担任的leader")
        }
        EventKind::ShutdownReady { broker, remaining } => {
            if remaining.is_empty() {
                format!("broker {broker}已不再担任任何分区的leader：将日志刷盘后正常停止")
            } else {
                let list: Vec<String> = remaining.iter().map(|tp| tp.to_string()).collect();
                format!(
                    "broker {broker}停止运行，尽管它仍是{}的leader：没有其他同步副本可以接替",
                    list.join(", ")
                )
            }
        }
        EventKind::ControllerElected { broker, epoch } => format!(
            "broker {broker}成为controller（controller epoch {epoch}）：它最先创建了/controller"
        ),
        EventKind::ControllerResigned { broker, reason } => {
            let why = match reason {
                ResignReason::SessionExpired => "其ZooKeeper会话过期".to_string(),
                ResignReason::ControllerNodeDeleted => "其/controller节点被删除".to_string(),
                ResignReason::EpochClaimed { error } => {
                    format!("另一个broker抢先占用了controller epoch（{error}）")
                }
                ResignReason::WriteRefused { error } => {
                    format!("其写入被拒绝，因为已存在更新的controller（{error}）")
                }
            };
            format!("broker {broker}不再是controller：{why}")
        }
        EventKind::BrokersFailed { brokers: b } => format!(
            "controller发现broker {}已离开（它们的注册已消失），并迁走它们担任的leader",
            broker_list(b)
        ),
        EventKind::BrokersStarted { brokers: b } => format!(
            "controller发现broker {}已注册，并向它们发送各自的分区",
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
                    format!("{topic}-{p}位于[{}]", r.join(","))
                })
                .collect();
            let placement = if *explicit_assignment {
                "管理员给出的副本分配"
            } else {
                "Kafka的轮询放置"
            };
            format!("topic {topic}按{placement}创建：{}", parts.join("，"))
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
                    format!("{topic}-{}位于[{}]", *first as usize + n, r.join(","))
                })
                .collect();
            format!(
                "topic {topic}扩展到{}个分区：{}（key现在可能被hash到其他分区）",
                *first as usize + assignment.len(),
                parts.join("，")
            )
        }
        EventKind::TopicConfigChanged { topic, changes } => {
            let changes: Vec<String> = changes
                .iter()
                .map(|(name, before, now)| format!("{name} {before} -> {now}"))
                .collect();
            format!(
                "controller修改了topic {topic}的配置：{}；每个broker从下一次元数据更新起应用这些配置",
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
                ElectionReason::NewPartition => "新分区".to_string(),
                ElectionReason::LeaderFailed { previous } => {
                    format!("其leader broker {previous}已离开")
                }
                ElectionReason::ReplicaCameBack => "离线分区的一个副本重新上线".to_string(),
                ElectionReason::Preferred => "leader交还给优先副本".to_string(),
                ElectionReason::ControlledShutdown { previous } => {
                    format!("broker {previous}正在正常关闭并移交leader")
                }
            };
            if *unclean {
                format!(
                    "【UNCLEAN选举】broker {leader}在epoch {leader_epoch}成为{tp}的leader，尽管它不在ISR中\
                     （{why}；unclean.leader.election.enable = true）：它缺少的已确认消息全部丢失"
                )
            } else {
                format!(
                    "broker {leader}在epoch {leader_epoch}当选{tp}的leader，ISR为{}\
                     （{why}；AR中第一个存活且在ISR中的副本）",
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
                format!("{tp}在epoch {leader_epoch}离线：没有存活的副本可以担任leader")
            } else {
                format!(
                    "{tp}在epoch {leader_epoch}离线：其ISR {}中没有一个副本存活，\
                     而unclean.leader.election.enable = false禁止从ISR之外选出leader",
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
            "controller将{}的broker {}移出{tp}的ISR：ISR现为{}（leader epoch {leader_epoch}）",
            if *shutting_down {
                "正在关闭"
            } else {
                "宕机"
            },
            broker_list(removed),
            broker_list(isr)
        ),
        EventKind::IsrChangeCommitted {
            tp,
            isr,
            partition_epoch,
        } => format!(
            "controller将{tp}的ISR提交为{}（partition epoch {partition_epoch}）",
            broker_list(isr)
        ),
        EventKind::IsrChangeRejected { tp, leader, reason } => format!(
            "controller拒绝了broker {leader}对{tp}的ISR变更：{}",
            isr_rejected(reason)
        ),
        EventKind::StaleBrokerEpochIgnored {
            broker,
            request_epoch,
        } => format!(
            "broker {broker}拒绝了一个发给broker epoch {request_epoch}的controller请求：\
             该请求是发给这个broker之前的一次运行的（STALE_BROKER_EPOCH, KIP-380）"
        ),
        EventKind::StaleControllerIgnored {
            broker,
            epoch,
            current,
        } => format!(
            "broker {broker}忽略了来自已被取代的controller的请求（epoch {epoch}，当前为{current}）"
        ),
        EventKind::Group { broker, event } => {
            format!("【协调者{broker}】{}", group(event))
        }
        EventKind::Consumer { name, event, .. } => consumer(event, name),
        EventKind::Producer { name, event, .. } => producer(event, name),
        EventKind::OffsetsRecordSkipped {
            broker,
            tp,
            offset,
            error,
        } => format!("broker {broker}在加载消费组时跳过了{tp}中offset {offset}处的消息：{error}"),
    }
}

/// Why the controller refused an ISR change, with Kafka's error name. It follows the
/// sentence's "：", so it has none of its own.
pub(super) fn isr_rejected(rejected: &IsrChangeRejected) -> String {
    match rejected {
        IsrChangeRejected::FencedLeaderEpoch {
            current_leader,
            current_epoch,
        } => format!(
            "发送者不是epoch {current_epoch}的leader（{}）（FENCED_LEADER_EPOCH）",
            current_leader.map_or("当前没有leader".to_string(), |b| format!(
                "leader为broker {b}"
            ))
        ),
        IsrChangeRejected::InvalidUpdateVersion {
            current_partition_epoch,
        } => format!(
            "分区在leader读取之后已发生变化；当前为partition epoch {current_partition_epoch}\
             （INVALID_UPDATE_VERSION）"
        ),
        IsrChangeRejected::IneligibleReplica { broker } => {
            format!("broker {broker}不能加入ISR，因为它不是存活的副本（INELIGIBLE_REPLICA）")
        }
    }
}

/// One deleted segment; it follows the sentence's "：", so it has none of its own.
fn deleted_segment(d: &DeletedSegment) -> String {
    let why = match &d.reason {
        DeletionReason::RetentionMs { age_ms, limit_ms } => {
            format!("其中最新的消息已存在{age_ms} ms，超过{limit_ms} ms（retention.ms）")
        }
        DeletionReason::RetentionBytes { log_size, limit } => {
            format!("日志大小为{log_size}字节，超过{limit}（retention.bytes）")
        }
    };
    format!(
        "删除segment {}.log（offset {}..{}），因为{why}",
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
            "broker {broker}在epoch {epoch}成为{partition}的leader，ISR为{}；\
             epoch {epoch}从offset {log_end_offset}开始",
            broker_list(isr)
        ),
        PartitionEvent::BecameFollower { epoch, leader } => match leader {
            Some(leader) => format!(
                "broker {broker}在epoch {epoch}作为{partition}的follower跟随broker {leader}"
            ),
            None => format!(
                "broker {broker}持有{partition}的一个副本，该分区没有leader（epoch {epoch}）"
            ),
        },
        PartitionEvent::HighWatermarkAdvanced { from, to } => {
            format!("broker {broker}上{partition}的HW从{from}变为{to}：offset小于{to}的消息已提交")
        }
        PartitionEvent::HighWatermarkLowered { from, to } => format!(
            "broker {broker}上{partition}的HW从{from}回退到{to}：\
             follower会采用其leader的HW，即使它更低"
        ),
        PartitionEvent::IsrShrinkProposed { removed, lag_ms } => format!(
            "broker {broker}请求将{}移出{partition}的ISR：超过{lag_ms} ms未追上\
             （replica.lag.time.max.ms）",
            broker_list(removed)
        ),
        PartitionEvent::IsrExpandProposed {
            added,
            log_end_offset,
            high_watermark,
        } => format!(
            "broker {broker}请求将broker {added}加入{partition}的ISR：它已到达offset \
             {log_end_offset}，不低于HW {high_watermark}"
        ),
        PartitionEvent::IsrCommitted { isr } => {
            format!("{partition}的ISR现为{}", broker_list(isr))
        }
        PartitionEvent::SegmentsDeleted {
            deleted,
            log_start_offset,
        } => {
            let what: Vec<String> = deleted.iter().map(deleted_segment).collect();
            format!(
                "broker {broker}对{partition}执行保留策略：{}；日志现在从offset {log_start_offset}开始",
                what.join("；")
            )
        }
        PartitionEvent::Truncated { from, to, reason } => match reason {
            TruncationReason::HighWatermark => format!(
                "broker {broker}将{partition}从{from}截断到HW {to}（0.11之前的规则），\
                 丢弃offset {to}..{from}"
            ),
            TruncationReason::DivergingEpoch {
                epoch,
                leader_end_offset,
            } => format!(
                "broker {broker}将{partition}从{from}截断到{to}：leader告知epoch {epoch}\
                 在其日志中结束于{leader_end_offset}"
            ),
            TruncationReason::LeaderLogEnd {
                leader_log_end_offset,
            } => format!(
                "broker {broker}将{partition}从{from}截断到{to}：其日志比leader的日志更长\
                 （leader的日志结束于{leader_log_end_offset}），因此丢弃offset {to}..{from}"
            ),
            TruncationReason::BelowLeaderLogStart => format!(
                "broker {broker}清空了{partition}，从offset {to}重新开始：\
                 leader的日志已不再包含低于它的offset"
            ),
        },
    }
}

fn group_change(why: &GroupChange) -> String {
    match why {
        GroupChange::LeaderRejoined { member: m } => {
            format!("其组leader {}再次加入", member(m))
        }
        GroupChange::SubscriptionChanged { member: m } => {
            format!("成员{}更改了订阅", member(m))
        }
        GroupChange::MemberJoined { member: m } => format!("成员{}加入", member(m)),
        GroupChange::StaticMemberReplaced { member: m, old } => {
            format!("静态成员{}取代了{}", member(m), member(old))
        }
        GroupChange::JoinComplete { dropped } if dropped.is_empty() => "加入阶段完成".to_string(),
        GroupChange::JoinComplete { dropped } => format!(
            "加入阶段完成；{}未在rebalance超时时间（max.poll.interval.ms）内重新加入，已离开",
            members(dropped)
        ),
        GroupChange::AssignmentStored => "组leader的分配方案已写入__consumer_offsets".to_string(),
        GroupChange::AssignmentStoreFailed { error } => {
            format!("写入组leader的分配方案失败（{error}）")
        }
        GroupChange::MemberLeft { member: m } => {
            format!("成员{}离开消费组（LeaveGroup）", member(m))
        }
        GroupChange::SessionTimeout {
            member: m,
            timeout_ms,
        } => {
            format!(
                "成员{}已有{timeout_ms} ms未发送心跳（session.timeout.ms）",
                member(m)
            )
        }
        GroupChange::SyncTimeout { late } => {
            format!("{}未在rebalance超时时间内发送SyncGroup", members(late))
        }
        GroupChange::Loaded { generation } => {
            format!("从__consumer_offsets加载，处于generation {generation}")
        }
        GroupChange::Unloaded => "该broker不再是其__consumer_offsets分区的leader".to_string(),
    }
}

fn group(event: &GroupEvent) -> String {
    let group = &event.group;
    match &event.kind {
        GroupEventKind::Transition { from, to, why } => {
            format!("消费组{group}从{from}变为{to}：{}", group_change(why))
        }
        GroupEventKind::Generation {
            generation,
            leader,
            protocol,
            members: ids,
        } => format!(
            "消费组{group}开始generation {generation}，共{}个成员[{}]；组leader {}使用{protocol}分配",
            ids.len(),
            members(ids),
            member(leader)
        ),
        GroupEventKind::Assigned { generation } => format!(
            "消费组{group}在generation {generation}处于Stable状态：组leader的分配方案已送达每个成员"
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
            "消费组{group}的消费者{name}在generation {generation}拥有{}",
            partition_list(partitions)
        ),
        ConsumerEvent::Revoked { partitions, why } => {
            let why = match why {
                RevokeReason::Closing => "正在离开消费组",
                RevokeReason::EagerRebalance => "eager rebalance在重新加入之前撤销所有分区",
                RevokeReason::Unsubscribed => "不再订阅它们所属的topic",
                RevokeReason::CooperativeMoved => "协作式分配把它们移给了另一个成员",
            };
            format!("消费者{name}放弃{}：{why}", partition_list(partitions))
        }
        ConsumerEvent::Lost {
            partitions,
            error: Some(error),
        } => format!(
            "消费者{name}未经撤销就失去了{}：协调者返回{error}，它必须重新加入",
            partition_list(partitions)
        ),
        ConsumerEvent::Lost {
            partitions,
            error: None,
        } => format!(
            "消费者{name}未经撤销就失去了{}：其应用程序停止调用poll()时它离开了消费组，\
             现在再次调用poll()，于是重新加入",
            partition_list(partitions)
        ),
        ConsumerEvent::LeftGroup { why, static_member } => {
            let why = match why {
                LeaveReason::Closed => "消费者已关闭".to_string(),
                LeaveReason::PollTimeout {
                    max_poll_interval_ms,
                } => format!(
                    "其应用程序已有{max_poll_interval_ms} ms未调用poll()（max.poll.interval.ms）"
                ),
            };
            if *static_member {
                format!(
                    "消费者{name}离开消费组：{why}；静态成员不发送LeaveGroup，\
                     因此协调者要等待其session.timeout.ms"
                )
            } else {
                format!("消费者{name}离开消费组：{why}")
            }
        }
        ConsumerEvent::CoordinatorUnknown { coordinator, error } => format!(
            "消费者{name}失去了其消费组的协调者broker {coordinator}（{error}）：重新查找协调者"
        ),
        ConsumerEvent::CoordinatorFound { coordinator } => {
            format!("消费者{name}找到了其消费组的协调者：broker {coordinator}")
        }
        ConsumerEvent::RejoinRequested => format!(
            "消费者{name}从心跳得知消费组正在rebalance（REBALANCE_IN_PROGRESS）：\
             其应用程序下次调用poll()时重新加入"
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
                ResetReason::NoGroup => "消费者没有group.id，因此没有已提交的offset".to_string(),
                ResetReason::NoCommittedOffset => "消费组没有已提交的offset".to_string(),
                ResetReason::OutOfRange { offset } => format!("offset {offset}超出范围"),
            };
            format!("消费者{name}从offset {offset}开始消费{tp}：{why}，auto.offset.reset={policy}")
        }
        ConsumerEvent::NoOffset { tp } => {
            format!("消费者{name}无法消费{tp}：没有已提交的offset，且auto.offset.reset=none")
        }
        ConsumerEvent::CommitRetrying { error } => format!(
            "消费者{name}的commitSync收到可重试错误{error}：重试（直到default.api.timeout.ms）"
        ),
        ConsumerEvent::CommitFailed { error } => {
            let meaning = match error.as_str() {
                "REBALANCE_IN_PROGRESS" => {
                    "（消费组正在rebalance，抛出RebalanceInProgressException；\
                     这些offset等rebalance之后再提交）"
                }
                "ILLEGAL_GENERATION" | "UNKNOWN_MEMBER_ID" => {
                    "（CommitFailedException；它已不属于该generation，下次调用poll()时重新加入）"
                }
                "TIMEOUT" => "（commitSync在default.api.timeout.ms后放弃）",
                _ => "",
            };
            format!("消费者{name}提交offset失败：{error}{meaning}")
        }
        ConsumerEvent::SubscriptionChanged { topics } => format!(
            "消费者{name}的订阅正则表达式现在匹配[{}]：重新加入消费组",
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
            "生产者{name}因{error}重试发往{tp}的一批{records}条消息（第{attempt}次尝试失败）；{}",
            if *in_sequence_order {
                "该批次按序列号顺序放回队列（幂等性保证顺序）"
            } else {
                "该批次被放回队列最前面，因此可能落在之后的批次后面"
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
                    "broker {leader}上的{tp}对紧接在序列号{last}之后的批次返回\
                     OUT_OF_ORDER_SEQUENCE_NUMBER，而leader已确认过序列号{last}，\
                     说明leader丢失了已确认的批次"
                ),
                RestartReason::LostAcknowledged {
                    leader,
                    last_acked_sequence: None,
                } => format!(
                    "broker {leader}上的{tp}对它的第一个批次返回OUT_OF_ORDER_SEQUENCE_NUMBER，\
                     说明leader记录的该生产者序列号没有接着生产者自己的序列号"
                ),
                RestartReason::Expired => format!(
                    "发往{tp}的批次在发送之后过期（delivery.timeout.ms），因此它们的序列号永远不会到达，\
                     后面的序列号也无法接续"
                ),
                RestartReason::FailedBatch { error } => {
                    format!("发往{tp}的一个批次在分配了序列号之后最终失败（{error}）")
                }
            };
            let mut text = format!(
                "生产者{name}将其epoch提升到{epoch}（producer id {producer_id}, KIP-360），\
                 并让{tp}的序列号从0重新开始：{why}"
            );
            if *rewritten > 0 {
                text.push_str(&format!("；{rewritten}个等待中的批次获得新的序列号"));
            }
            if *unknown > 0 {
                text.push_str(&format!(
                    "；{unknown}个可能已在日志中的批次按结果未知放弃，而不是被写入两次"
                ));
            }
            text
        }
        ProducerEvent::Failed { tp, records, error } => {
            format!("生产者{name}放弃发往{tp}的一批{records}条消息：{error}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Characters the glossary forbids (Kangxi radicals, compatibility ideographs), a
    /// half-width `,` `:` `;` `(` `)` right after a Han character, and a final 。.
    fn check_style(s: &str) {
        let chars: Vec<char> = s.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let u = c as u32;
            assert!(
                !(0x2E80..=0x2FDF).contains(&u) && !(0xF900..=0xFAFF).contains(&u),
                "lookalike character {c:?} in {s}"
            );
            let han = |c: char| ('\u{4E00}'..='\u{9FFF}').contains(&c);
            if i > 0 && han(chars[i - 1]) {
                assert!(
                    !matches!(c, ',' | ':' | ';' | '(' | ')' | ' '),
                    "half-width {c:?} or space after a Han character in {s}"
                );
            }
        }
        assert!(!s.ends_with('。'), "final 。 in {s}");
    }

    #[test]
    fn the_glossarys_examples_read_as_it_writes_them() {
        let isr = |b: &[BrokerId]| b.iter().copied().collect::<BTreeSet<_>>();
        let cases = [
            (
                partition(
                    &PartitionEvent::IsrShrinkProposed {
                        removed: isr(&[1]),
                        lag_ms: 10000,
                    },
                    "orders-1",
                    3,
                ),
                "broker 3请求将[1]移出orders-1的ISR：超过10000 ms未追上（replica.lag.time.max.ms）",
            ),
            (
                partition(
                    &PartitionEvent::HighWatermarkAdvanced { from: 3, to: 4 },
                    "orders-0",
                    2,
                ),
                "broker 2上orders-0的HW从3变为4：offset小于4的消息已提交",
            ),
            (
                partition(
                    &PartitionEvent::Truncated {
                        from: 2,
                        to: 1,
                        reason: TruncationReason::HighWatermark,
                    },
                    "orders-0",
                    1,
                ),
                "broker 1将orders-0从2截断到HW 1（0.11之前的规则），丢弃offset 1..2",
            ),
            (
                fault(&Injected::Crash {
                    broker: 3,
                    crash: Crash::Process,
                }),
                "【故障】broker 3的进程崩溃；页缓存还在，它写入的数据都不会丢失",
            ),
            (
                group_change(&GroupChange::SessionTimeout {
                    member: "worker-2".to_string(),
                    timeout_ms: 10000,
                }),
                "成员worker-2已有10000 ms未发送心跳（session.timeout.ms）",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
            check_style(&got);
        }
    }

    #[test]
    fn a_refused_isr_change_names_kafkas_error() {
        let text = isr_rejected(&IsrChangeRejected::FencedLeaderEpoch {
            current_leader: Some(2),
            current_epoch: 5,
        });
        assert_eq!(
            text,
            "发送者不是epoch 5的leader（leader为broker 2）（FENCED_LEADER_EPOCH）"
        );
        check_style(&text);
        let text = isr_rejected(&IsrChangeRejected::FencedLeaderEpoch {
            current_leader: None,
            current_epoch: 5,
        });
        assert_eq!(
            text,
            "发送者不是epoch 5的leader（当前没有leader）（FENCED_LEADER_EPOCH）"
        );
    }

    #[test]
    fn nodes_have_chinese_names() {
        assert_eq!(node(2), "broker 2");
        assert_eq!(node(ZOOKEEPER), "ZooKeeper");
        assert_eq!(node(FIRST_CLIENT + 1), "客户端20001");
        let text = fault(&Injected::Isolate { node: ZOOKEEPER });
        assert_eq!(text, "【故障】ZooKeeper与其他所有节点断开");
        check_style(&text);
    }
}
