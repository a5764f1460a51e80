//! Kafka's `ProducerStateManager`: what a replica knows of idempotent producers.
//!
//! Kafka keeps each idempotent batch's producer id, epoch and sequence range in its v2
//! record batch header, so every replica rebuilds the same state from its log: the last
//! 5 batches of each producer, which let a leader recognise a retried batch and answer
//! it with the original offsets. kafkasim's log holds v0/v1 messages without those
//! fields, so the headers live beside the log ([`ProducerState::batches`]) and travel
//! beside the records in replica fetches, as the leader epochs already do. A follower
//! that becomes leader therefore keeps deduplicating.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// Kafka keeps the last 5 batches of each producer: why `max.in.flight` must be <= 5.
pub const PRODUCER_BATCHES_RETAINED: usize = 5;

/// The idempotence fields of a batch as the producer sends them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerBatch {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

impl ProducerBatch {
    /// The sequence number of the last of `records` records (sequences wrap at i32::MAX).
    pub fn last_sequence(&self, records: usize) -> i32 {
        self.base_sequence.wrapping_add(records as i32 - 1) & i32::MAX
    }
}

/// An idempotent batch in the log: the fields of its v2 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// Why an idempotent batch was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SequenceError {
    /// The batch does not follow the producer's last appended one.
    OutOfOrder { expected: i32, received: i32 },
    /// A newer epoch of this producer id has written.
    InvalidProducerEpoch,
}

impl fmt::Display for SequenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SequenceError::OutOfOrder { expected, received } => write!(
                f,
                "sequence {received} does not follow the last appended batch; expected {expected} \
                 (OUT_OF_ORDER_SEQUENCE_NUMBER)"
            ),
            SequenceError::InvalidProducerEpoch => write!(
                f,
                "a newer epoch of this producer id has written (INVALID_PRODUCER_EPOCH)"
            ),
        }
    }
}

/// One producer's state: its epoch and last batches, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchHeader>,
}

/// The idempotent producers of one replica's log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerState {
    /// Every idempotent batch in the log, by last offset.
    batches: BTreeMap<i64, BatchHeader>,
    /// Derived from `batches`: each producer's last batches.
    producers: BTreeMap<i64, ProducerEntry>,
}

impl ProducerState {
    /// Kafka's `ProducerAppendInfo.checkSequence` and `findDuplicateBatch`: Ok(None) to
    /// append, Ok(Some(header)) for a retry of an appended batch, or why it is refused.
    pub fn check(
        &self,
        batch: &ProducerBatch,
        records: usize,
    ) -> Result<Option<BatchHeader>, SequenceError> {
        let Some(entry) = self.producers.get(&batch.producer_id) else {
            // No state for this producer: any sequence is accepted.
            return Ok(None);
        };
        if batch.producer_epoch < entry.epoch {
            return Err(SequenceError::InvalidProducerEpoch);
        }
        if batch.producer_epoch > entry.epoch {
            return match batch.base_sequence {
                0 => Ok(None),
                received => Err(SequenceError::OutOfOrder {
                    expected: 0,
                    received,
                }),
            };
        }
        let last_sequence = batch.last_sequence(records);
        if let Some(header) = entry
            .batches
            .iter()
            .find(|b| b.first_sequence == batch.base_sequence && b.last_sequence == last_sequence)
        {
            return Ok(Some(*header));
        }
        let expected = entry.batches.back().map_or(0, |b| {
            if b.last_sequence == i32::MAX {
                0
            } else {
                b.last_sequence + 1
            }
        });
        if batch.base_sequence != expected {
            return Err(SequenceError::OutOfOrder {
                expected,
                received: batch.base_sequence,
            });
        }
        Ok(None)
    }

    /// Records a batch appended to the log (by the leader, or fetched by a follower).
    /// A header already known (a follower re-fetching a batch it got part of) is skipped.
    pub fn append(&mut self, header: BatchHeader) {
        if self.batches.insert(header.last_offset, header).is_none() {
            Self::remember(&mut self.producers, header);
        }
    }

    fn remember(producers: &mut BTreeMap<i64, ProducerEntry>, header: BatchHeader) {
        let entry = producers.entry(header.producer_id).or_default();
        if entry.epoch != header.producer_epoch {
            entry.batches.clear();
            entry.epoch = header.producer_epoch;
        }
        entry.batches.push_back(header);
        if entry.batches.len() > PRODUCER_BATCHES_RETAINED {
            entry.batches.pop_front();
        }
    }

    /// The headers of the batches among the records `start..end`: what a fetch response
    /// carries beside them (a batch cut by the response's size limit comes again).
    pub fn headers_in(&self, start: i64, end: i64) -> Vec<BatchHeader> {
        self.batches
            .range(start..)
            .map(|(_, h)| *h)
            .take_while(|h| h.first_offset < end)
            .collect()
    }

    /// The log was cut to end before `end_offset`: its batches from there go, and the
    /// producers are rebuilt from what stays (Kafka reloads them from the log).
    pub fn truncate_to(&mut self, end_offset: i64) {
        let removed = self.batches.split_off(&end_offset);
        if removed.is_empty() {
            return;
        }
        self.producers.clear();
        for header in self.batches.values() {
            Self::remember(&mut self.producers, *header);
        }
    }

    /// Retention moved the log start: the headers of deleted batches go; the producers'
    /// state stays, as Kafka keeps it past segment deletion.
    pub fn truncate_head(&mut self, log_start_offset: i64) {
        self.batches = self.batches.split_off(&log_start_offset);
    }

    /// Forgets everything: the log was emptied.
    pub fn clear(&mut self) {
        *self = ProducerState::default();
    }

    /// Every idempotent batch's header, in log order.
    pub fn headers(&self) -> impl Iterator<Item = BatchHeader> + '_ {
        self.batches.values().copied()
    }

    /// The number of idempotent batches in the log.
    pub fn batch_count(&self) -> usize {
        self.batches.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(first_sequence: i32, last_sequence: i32, first_offset: i64) -> BatchHeader {
        BatchHeader {
            producer_id: 7,
            producer_epoch: 0,
            first_sequence,
            last_sequence,
            first_offset,
            last_offset: first_offset + i64::from(last_sequence - first_sequence),
        }
    }

    fn batch(base_sequence: i32) -> ProducerBatch {
        ProducerBatch {
            producer_id: 7,
            producer_epoch: 0,
            base_sequence,
        }
    }

    #[test]
    fn retries_are_recognised_and_gaps_refused() {
        let mut state = ProducerState::default();
        assert_eq!(
            state.check(&batch(5), 1),
            Ok(None),
            "no state: anything goes"
        );
        state.append(header(0, 2, 10));
        assert_eq!(state.check(&batch(0), 3), Ok(Some(header(0, 2, 10))));
        assert_eq!(state.check(&batch(3), 2), Ok(None));
        assert_eq!(
            state.check(&batch(4), 1),
            Err(SequenceError::OutOfOrder {
                expected: 3,
                received: 4
            })
        );
        let older = ProducerBatch {
            producer_epoch: -1,
            ..batch(3)
        };
        assert_eq!(
            state.check(&older, 1),
            Err(SequenceError::InvalidProducerEpoch)
        );
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut state = ProducerState::default();
        for i in 0..6 {
            state.append(header(i, i, 100 + i64::from(i)));
        }
        assert_eq!(
            state.check(&batch(0), 1),
            Err(SequenceError::OutOfOrder {
                expected: 6,
                received: 0
            }),
            "the oldest batch is forgotten"
        );
        assert_eq!(state.check(&batch(1), 1), Ok(Some(header(1, 1, 101))));
    }

    #[test]
    fn truncation_rebuilds_from_the_batches_that_stay() {
        let mut state = ProducerState::default();
        state.append(header(0, 1, 0));
        state.append(header(2, 3, 2));
        state.append(header(2, 3, 2)); // a re-fetched header counts once
        assert_eq!(state.batch_count(), 2);
        assert_eq!(
            state.headers_in(1, 3),
            vec![header(0, 1, 0), header(2, 3, 2)]
        );
        state.truncate_to(2);
        assert_eq!(state.batch_count(), 1);
        assert_eq!(state.check(&batch(2), 2), Ok(None), "batch 2..3 is gone");
        state.truncate_head(2);
        assert_eq!(state.batch_count(), 0);
        assert_eq!(
            state.check(&batch(0), 2),
            Ok(Some(header(0, 1, 0))),
            "retention keeps the producer's state"
        );
    }
}
