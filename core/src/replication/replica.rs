//! What a partition leader knows about each follower (Kafka's `Replica` state), and the
//! rules built on it: whether a follower is caught up, when the ISR shrinks or grows, and
//! how far the high watermark may move.

use std::collections::BTreeSet;

use super::BrokerId;

/// A follower as its leader sees it, updated on every fetch the follower sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowerState {
    /// The follower's LEO: the offset of its latest fetch, which acknowledges everything
    /// below it.
    pub log_end_offset: i64,
    /// The last time the follower was caught up to the leader (`lastCaughtUpTimeMs`);
    /// None for never. Kafka starts it at 0, the Unix epoch: long ago on a real clock,
    /// but the simulation's clock starts at 0.
    pub last_caught_up_time_ms: Option<i64>,
    /// The leader's LEO when the follower last fetched.
    pub last_fetch_leader_log_end_offset: i64,
    /// None until the follower's first fetch to this leader.
    pub last_fetch_time_ms: Option<i64>,
}

impl FollowerState {
    /// The state a new leader gives each replica (Kafka's `resetReplicaState`): members
    /// of the ISR count as caught up now, the others never were.
    pub fn on_become_leader(in_isr: bool, now_ms: i64) -> FollowerState {
        FollowerState {
            log_end_offset: -1,
            last_caught_up_time_ms: in_isr.then_some(now_ms),
            last_fetch_leader_log_end_offset: -1,
            last_fetch_time_ms: None,
        }
    }

    /// The state a leader re-elected under a new epoch keeps (`resetReplicaState` with
    /// `isNewLeader = false`): the follower's LEO stays known; ISR members count as caught
    /// up and fetched now, the others as never, so they do not rejoin before a fetch.
    pub fn on_reelected(
        previous: &FollowerState,
        in_isr: bool,
        leader_log_end_offset: i64,
        now_ms: i64,
    ) -> FollowerState {
        FollowerState {
            log_end_offset: previous.log_end_offset,
            last_caught_up_time_ms: in_isr.then_some(now_ms),
            last_fetch_leader_log_end_offset: leader_log_end_offset,
            last_fetch_time_ms: in_isr.then_some(now_ms),
        }
    }

    /// Kafka's `updateFetchStateOrThrow`: a fetch at `fetch_offset` arrived at
    /// `fetch_time_ms` while the leader's LEO was `leader_log_end_offset`. A fetch that
    /// reaches the leader's LEO makes the follower caught up now; one that reaches the LEO
    /// the leader had at the previous fetch makes it caught up as of that fetch (so a
    /// follower keeping pace with a steady trickle of produces stays in sync).
    pub fn update_fetch_state(
        &mut self,
        fetch_offset: i64,
        fetch_time_ms: i64,
        leader_log_end_offset: i64,
    ) {
        if fetch_offset >= leader_log_end_offset {
            self.last_caught_up_time_ms = self.last_caught_up_time_ms.max(Some(fetch_time_ms));
        } else if fetch_offset >= self.last_fetch_leader_log_end_offset {
            self.last_caught_up_time_ms = self.last_caught_up_time_ms.max(self.last_fetch_time_ms);
        }
        self.log_end_offset = fetch_offset;
        self.last_fetch_leader_log_end_offset = leader_log_end_offset;
        self.last_fetch_time_ms = Some(fetch_time_ms);
    }

    /// Kafka's `isCaughtUp`: at the leader's LEO, or caught up within
    /// `replica.lag.time.max.ms`.
    pub fn is_caught_up(
        &self,
        leader_log_end_offset: i64,
        now_ms: i64,
        replica_lag_time_max_ms: i64,
    ) -> bool {
        leader_log_end_offset == self.log_end_offset
            || self
                .last_caught_up_time_ms
                .is_some_and(|t| now_ms - t <= replica_lag_time_max_ms)
    }
}

/// The ISR as the leader uses it while an ISR change is being committed (KIP-497's
/// "maximal ISR"): a pending expansion already counts the new member (the HW waits for
/// it), a pending shrink still counts the members leaving.
pub fn maximal_isr(
    committed: &BTreeSet<BrokerId>,
    pending: Option<&BTreeSet<BrokerId>>,
) -> BTreeSet<BrokerId> {
    match pending {
        Some(pending) => committed.union(pending).copied().collect(),
        None => committed.clone(),
    }
}

/// A follower as the leader's rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Follower<'a> {
    pub broker: BrokerId,
    pub state: &'a FollowerState,
    /// Whether the follower may join the ISR: its broker is alive (registered with the
    /// controller).
    pub isr_eligible: bool,
}

/// What the leader knows when it recomputes its high watermark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HighWatermarkInputs {
    pub leader_log_end_offset: i64,
    pub high_watermark: i64,
    /// The ISR including pending changes ([`maximal_isr`]).
    pub maximal_isr: BTreeSet<BrokerId>,
    /// Size of the committed ISR (leader included).
    pub committed_isr_size: usize,
    pub effective_min_isr: usize,
    pub now_ms: i64,
    /// `replica.lag.time.max.ms`
    pub replica_lag_time_max_ms: i64,
    /// Kafka 3.7+ (KAFKA-15583): the HW stands still while the ISR is below
    /// `min.insync.replicas`. False gives the rule of earlier versions.
    pub hold_below_min_isr: bool,
}

/// Kafka's `maybeIncrementLeaderHW`: the smallest LEO among the leader and every follower
/// that is in the maximal ISR, or is caught up and eligible to join it (the HW waits for
/// a replica about to join). Returns the new HW, or None when it must not move: it never
/// goes backwards, and it holds below `min.insync.replicas` when `hold_below_min_isr`.
pub fn next_high_watermark<'a>(
    inputs: &HighWatermarkInputs,
    followers: impl IntoIterator<Item = Follower<'a>>,
) -> Option<i64> {
    if inputs.hold_below_min_isr && inputs.committed_isr_size < inputs.effective_min_isr {
        return None;
    }
    let mut high_watermark = inputs.leader_log_end_offset;
    for follower in followers {
        let about_to_join = follower.isr_eligible
            && follower.state.is_caught_up(
                inputs.leader_log_end_offset,
                inputs.now_ms,
                inputs.replica_lag_time_max_ms,
            );
        if (inputs.maximal_isr.contains(&follower.broker) || about_to_join)
            && follower.state.log_end_offset < high_watermark
        {
            high_watermark = follower.state.log_end_offset;
        }
    }
    (high_watermark > inputs.high_watermark).then_some(high_watermark)
}

/// Kafka's `maybeShrinkIsr` choice: the ISR followers that are not caught up.
pub fn out_of_sync_followers<'a>(
    isr: &BTreeSet<BrokerId>,
    followers: impl IntoIterator<Item = Follower<'a>>,
    leader_log_end_offset: i64,
    now_ms: i64,
    replica_lag_time_max_ms: i64,
) -> BTreeSet<BrokerId> {
    followers
        .into_iter()
        .filter(|f| {
            isr.contains(&f.broker)
                && !f
                    .state
                    .is_caught_up(leader_log_end_offset, now_ms, replica_lag_time_max_ms)
        })
        .map(|f| f.broker)
        .collect()
}

/// Kafka's `isFollowerInSync` for ISR expansion: the follower has reached the leader's
/// HW and the start of the leader's current epoch.
pub fn can_join_isr(
    follower_log_end_offset: i64,
    leader_high_watermark: i64,
    leader_epoch_start_offset: i64,
) -> bool {
    follower_log_end_offset >= leader_high_watermark
        && follower_log_end_offset >= leader_epoch_start_offset
}

/// `min(min.insync.replicas, replication factor)`: Kafka's `effectiveMinIsr`.
pub fn effective_min_isr(min_insync_replicas: usize, replication_factor: usize) -> usize {
    min_insync_replicas.min(replication_factor)
}
