//! The leader epoch cache (Kafka's `LeaderEpochFileCache`, KIP-101) and the follower's
//! truncation rule (`AbstractFetcherThread.getOffsetTruncationState`, with KIP-279's fix).
//!
//! Each replica remembers, for every leader epoch its log has data from, the offset where
//! that epoch started. After a leader change a follower asks the leader "where did my
//! latest epoch end in your log?" and truncates there, instead of to its high watermark:
//! that is what stops the two KIP-101 failures (loss after a restart, divergence after a
//! double power loss). KIP-279 made the answer carry the epoch it belongs to, so a
//! follower that never saw that epoch keeps asking instead of trusting an offset from
//! another epoch.

use std::collections::BTreeMap;

use crate::checkpoint::{self, CheckpointError};

/// "No epoch": what a replica with no epoch information asks with.
pub const UNDEFINED_EPOCH: i32 = -1;
/// "No end offset": the leader cannot say where the epoch ended.
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// An epoch and the offset where it ends (exclusive) in some replica's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochEndOffset {
    pub epoch: i32,
    pub end_offset: i64,
}

impl EpochEndOffset {
    pub const UNDEFINED: EpochEndOffset = EpochEndOffset {
        epoch: UNDEFINED_EPOCH,
        end_offset: UNDEFINED_EPOCH_OFFSET,
    };
}

/// epoch -> start offset, both strictly increasing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaderEpochCache {
    epochs: BTreeMap<i32, i64>,
}

impl LeaderEpochCache {
    pub fn new() -> LeaderEpochCache {
        LeaderEpochCache::default()
    }

    /// (epoch, start offset) pairs, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = (i32, i64)> + '_ {
        self.epochs.iter().map(|(&epoch, &start)| (epoch, start))
    }

    pub fn latest(&self) -> Option<(i32, i64)> {
        self.epochs
            .last_key_value()
            .map(|(&epoch, &start)| (epoch, start))
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.latest().map(|(epoch, _)| epoch)
    }

    /// Kafka's `assign`: records that `epoch` starts at `start_offset`. Entries that
    /// contradict it (an epoch at least as new, or a start at least as late) are removed
    /// first, so both columns stay increasing. Assigning the latest epoch again at the
    /// same or a later offset changes nothing. Returns whether the cache changed.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        assert!(
            epoch >= 0 && start_offset >= 0,
            "invalid leader epoch entry ({epoch}, {start_offset})"
        );
        let update_needed = match self.latest() {
            Some((latest, latest_start)) => epoch != latest || start_offset < latest_start,
            None => true,
        };
        if !update_needed {
            return false;
        }
        while let Some((&last, &last_start)) = self.epochs.last_key_value() {
            if last >= epoch || last_start >= start_offset {
                self.epochs.remove(&last);
            } else {
                break;
            }
        }
        self.epochs.insert(epoch, start_offset);
        true
    }

    /// Kafka's `endOffsetFor`: the largest epoch <= `requested` this cache knows and the
    /// offset where it ends (the start of the next epoch, or `log_end_offset` for the
    /// latest). A request older than every known epoch gets the start of the first known
    /// one; a request newer than all, or undefined, gets [`EpochEndOffset::UNDEFINED`].
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> EpochEndOffset {
        if requested == UNDEFINED_EPOCH {
            return EpochEndOffset::UNDEFINED;
        }
        if self.latest_epoch() == Some(requested) {
            return EpochEndOffset {
                epoch: requested,
                end_offset: log_end_offset,
            };
        }
        let Some((_, &higher_start)) = self.epochs.range(requested + 1..).next() else {
            return EpochEndOffset::UNDEFINED;
        };
        match self.epochs.range(..=requested).next_back() {
            Some((&floor, _)) => EpochEndOffset {
                epoch: floor,
                end_offset: higher_start,
            },
            None => EpochEndOffset {
                epoch: requested,
                end_offset: higher_start,
            },
        }
    }

    /// The epoch the message at `offset` was written in, if known.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.epochs
            .iter()
            .take_while(|&(_, &start)| start <= offset)
            .last()
            .map(|(&epoch, _)| epoch)
    }

    /// After the log is truncated to `end_offset`: forget epochs starting at or after it.
    pub fn truncate_from_end(&mut self, end_offset: i64) {
        self.epochs.retain(|_, start| *start < end_offset);
    }

    /// After the log start moves to `start_offset` (retention): drop epochs wholly before
    /// it, and move the start of the epoch holding it to `start_offset`.
    pub fn truncate_from_start(&mut self, start_offset: i64) {
        let removed: Vec<i32> = self
            .epochs
            .iter()
            .take_while(|&(_, &start)| start <= start_offset)
            .map(|(&epoch, _)| epoch)
            .collect();
        if let Some(&holding) = removed.last() {
            for epoch in &removed {
                self.epochs.remove(epoch);
            }
            self.epochs.insert(holding, start_offset);
        }
    }

    /// The `leader-epoch-checkpoint` file: a version line (0), a count line, then one
    /// "epoch start_offset" line per entry.
    pub fn to_checkpoint(&self) -> String {
        let entries: Vec<String> = self
            .entries()
            .map(|(epoch, start)| format!("{epoch} {start}"))
            .collect();
        checkpoint::write(&entries)
    }

    /// Reads a `leader-epoch-checkpoint` file.
    pub fn from_checkpoint(text: &str) -> Result<LeaderEpochCache, CheckpointError> {
        const FILE: &str = "leader-epoch-checkpoint";
        let entries = checkpoint::read(
            FILE,
            text,
            "<epoch> <start offset>",
            |fields| match fields {
                [epoch, start] => epoch.parse::<i32>().ok().zip(start.parse::<i64>().ok()),
                _ => None,
            },
        )?;
        let mut cache = LeaderEpochCache::new();
        for (line, (epoch, start)) in entries {
            let error = |message: String| CheckpointError {
                file: FILE,
                line,
                message,
            };
            if epoch < 0 || start < 0 {
                return Err(error(format!("entry ({epoch}, {start}) is negative")));
            }
            if let Some((last, last_start)) = cache.latest()
                && (epoch <= last || start < last_start)
            {
                return Err(error(format!(
                    "entry ({epoch}, {start}) does not follow ({last}, {last_start})"
                )));
            }
            cache.epochs.insert(epoch, start);
        }
        Ok(cache)
    }
}

/// Where a follower truncates, and whether it is done or must ask the leader again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TruncationState {
    pub offset: i64,
    /// False when the leader answered with an epoch the follower does not have: the
    /// follower truncates to the end of its own epoch before that and asks again.
    pub completed: bool,
}

/// Kafka's `getOffsetTruncationState` (KIP-279): given the leader's answer about the
/// follower's epoch, where the follower truncates.
///
/// - No end offset from the leader: fall back to `high_watermark` (pre-epoch data).
/// - An epoch the follower also has: truncate to the smaller of the two end offsets.
/// - An epoch the follower does not have: truncate to the end of the follower's largest
///   epoch below it, and ask again with that epoch.
/// - A follower that tracks no epochs at all: truncate to the leader's end offset.
///
/// The result never exceeds the follower's log end offset.
pub fn truncation_state(
    follower: &LeaderEpochCache,
    follower_log_end_offset: i64,
    high_watermark: i64,
    leader: EpochEndOffset,
) -> TruncationState {
    let done = |offset: i64| TruncationState {
        offset: offset.min(follower_log_end_offset),
        completed: true,
    };
    if leader.end_offset == UNDEFINED_EPOCH_OFFSET {
        return done(high_watermark);
    }
    if leader.epoch == UNDEFINED_EPOCH {
        return done(leader.end_offset);
    }
    let ours = follower.end_offset_for(leader.epoch, follower_log_end_offset);
    if ours == EpochEndOffset::UNDEFINED {
        // The follower tracks no epoch at or before the leader's.
        return done(leader.end_offset);
    }
    if ours.epoch != leader.epoch {
        return TruncationState {
            offset: ours.end_offset.min(follower_log_end_offset),
            completed: false,
        };
    }
    done(ours.end_offset.min(leader.end_offset))
}
