//! Kafka's consumer partition assignors, as the group leader runs them: range,
//! roundrobin, sticky (eager) and cooperative-sticky. Ported from Kafka's
//! `RangeAssignor`, `RoundRobinAssignor`, `AbstractStickyAssignor` (its constrained and
//! general builders, without rack awareness) and `CooperativeStickyAssignor`, so the
//! same inputs give Kafka's outputs, list order included (see [`super::java`] for the
//! Java iteration orders that reach the result).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::java::{JavaHashSet, compare_strings, iteration_order, string_hash};
use crate::ids::TopicPartition;

/// The strategies, by the names of `partition.assignment.strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strategy {
    Range,
    RoundRobin,
    Sticky,
    CooperativeSticky,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::Range,
        Strategy::RoundRobin,
        Strategy::Sticky,
        Strategy::CooperativeSticky,
    ];

    /// Kafka's protocol name.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Range => "range",
            Strategy::RoundRobin => "roundrobin",
            Strategy::Sticky => "sticky",
            Strategy::CooperativeSticky => "cooperative-sticky",
        }
    }

    pub fn from_name(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One member's subscription, as the leader sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscription {
    pub member_id: String,
    /// `group.instance.id`: static members sort first.
    pub group_instance_id: Option<String>,
    pub topics: Vec<String>,
    /// What it owns now: `ownedPartitions` for cooperative-sticky, the previous
    /// assignment in its user data for sticky. Range and roundrobin ignore it.
    pub owned: Vec<TopicPartition>,
    /// The generation those partitions were assigned in, when known.
    pub generation: Option<i32>,
}

/// An assignor's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Every member, with its partitions in Kafka's order.
    pub assignment: BTreeMap<String, Vec<TopicPartition>>,
    /// cooperative-sticky: partitions held back this round because their owner must
    /// revoke them first, with the member that gets them after the next rebalance.
    pub withheld: BTreeMap<TopicPartition, String>,
}

/// Why an assignment could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssignError {
    NoMembers,
    /// A member is listed twice.
    DuplicateMember(String),
    /// Kafka's own consistency checks (IllegalStateException).
    Inconsistent(String),
}

impl fmt::Display for AssignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssignError::NoMembers => write!(f, "a group needs at least one member to assign to"),
            AssignError::DuplicateMember(m) => write!(f, "member {m} is listed twice"),
            AssignError::Inconsistent(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for AssignError {}

/// Assigns the partitions of the subscribed topics (`partitions_per_topic` gives each
/// topic's count; topics nobody subscribes to are ignored) to `members`. The members'
/// order is the order they joined in, which is the order Kafka's leader receives them.
pub fn assign(
    strategy: Strategy,
    partitions_per_topic: &BTreeMap<String, u32>,
    members: &[Subscription],
) -> Result<Outcome, AssignError> {
    if members.is_empty() {
        return Err(AssignError::NoMembers);
    }
    let mut seen = BTreeSet::new();
    for m in members {
        if !seen.insert(m.member_id.as_str()) {
            return Err(AssignError::DuplicateMember(m.member_id.clone()));
        }
    }
    // Kafka's leader builds partitionsPerTopic for subscribed topics with partitions.
    let subscribed: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.topics.iter().map(String::as_str))
        .collect();
    let topics: BTreeMap<String, u32> = partitions_per_topic
        .iter()
        .filter(|(t, n)| subscribed.contains(t.as_str()) && **n > 0)
        .map(|(t, n)| (t.clone(), *n))
        .collect();
    // The group subscription reaches the assignor as a Java HashMap.
    let order = iteration_order(
        &members
            .iter()
            .map(|m| string_hash(&m.member_id))
            .collect::<Vec<_>>(),
    );
    let members: Vec<&Subscription> = order.into_iter().map(|i| &members[i]).collect();
    match strategy {
        Strategy::Range => Ok(plain(range(&topics, &members))),
        Strategy::RoundRobin => Ok(plain(round_robin(&topics, &members))),
        Strategy::Sticky => sticky(&topics, &members).map(|(assignment, _)| plain(assignment)),
        Strategy::CooperativeSticky => cooperative_sticky(&topics, &members),
    }
}

fn plain(assignment: BTreeMap<String, Vec<TopicPartition>>) -> Outcome {
    Outcome {
        assignment,
        withheld: BTreeMap::new(),
    }
}

/// `MemberInfo.compareTo`: static members first by instance id, then by member id.
fn member_order(a: &Subscription, b: &Subscription) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => compare_strings(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => compare_strings(&a.member_id, &b.member_id),
    }
}

fn empty_assignment(members: &[&Subscription]) -> BTreeMap<String, Vec<TopicPartition>> {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

/// Topics in the order Kafka's `partitionsPerTopic` HashMap iterates them.
fn hash_ordered_topics(topics: &BTreeMap<String, u32>) -> Vec<(&String, u32)> {
    let list: Vec<(&String, u32)> = topics.iter().map(|(t, n)| (t, *n)).collect();
    let order = iteration_order(&list.iter().map(|(t, _)| string_hash(t)).collect::<Vec<_>>());
    order.into_iter().map(|i| list[i]).collect()
}

/// RangeAssignor: per topic, the subscribers in member order each take a consecutive
/// range; the first `n % k` take one more.
fn range(
    topics: &BTreeMap<String, u32>,
    members: &[&Subscription],
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut assignment = empty_assignment(members);
    for (topic, count) in hash_ordered_topics(topics) {
        let mut consumers: Vec<&Subscription> = members
            .iter()
            .copied()
            .filter(|m| m.topics.contains(topic))
            .collect();
        consumers.sort_by(|a, b| member_order(a, b));
        if consumers.is_empty() {
            continue;
        }
        let k = consumers.len() as u32;
        let (per, extra) = (count / k, count % k);
        for (i, consumer) in consumers.iter().enumerate() {
            let i = i as u32;
            let start = per * i + i.min(extra);
            let len = per + u32::from(i < extra);
            let list = assignment
                .get_mut(&consumer.member_id)
                .expect("every member has an entry");
            list.extend((start..start + len).map(|p| TopicPartition::new(topic, p)));
        }
    }
    assignment
}

/// RoundRobinAssignor: every partition of every subscribed topic (topics in name
/// order), each to the next member in member order that subscribes to its topic.
fn round_robin(
    topics: &BTreeMap<String, u32>,
    members: &[&Subscription],
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut assignment = empty_assignment(members);
    let mut sorted: Vec<&Subscription> = members.to_vec();
    sorted.sort_by(|a, b| member_order(a, b));
    let mut names: Vec<&String> = topics.keys().collect();
    names.sort_by(|a, b| compare_strings(a, b));
    let mut next = 0;
    for topic in names {
        for p in 0..topics[topic] {
            while !sorted[next % sorted.len()].topics.contains(topic) {
                next += 1;
            }
            let member = sorted[next % sorted.len()];
            next += 1;
            assignment
                .get_mut(&member.member_id)
                .expect("every member has an entry")
                .push(TopicPartition::new(topic, p));
        }
    }
    assignment
}

/// Every partition of the topics, topics in name order.
fn all_partitions(topics: &BTreeMap<String, u32>) -> Vec<TopicPartition> {
    let mut names: Vec<&String> = topics.keys().collect();
    names.sort_by(|a, b| compare_strings(a, b));
    names
        .into_iter()
        .flat_map(|t| (0..topics[t]).map(move |p| TopicPartition::new(t, p)))
        .collect()
}

/// What `allSubscriptionsEqual` gathers.
struct Owned {
    all_equal: bool,
    /// Each member's still-valid owned partitions, keyed in member (HashMap) order.
    owned: Vec<(String, Vec<TopicPartition>)>,
    /// Claimed by two members of one generation: nobody keeps them.
    contested: BTreeSet<TopicPartition>,
    max_generation: i32,
}

/// Kafka's `allSubscriptionsEqual`: whether every member subscribes to the same topics,
/// and each member's owned partitions after conflicts (the higher generation keeps a
/// partition two members claim; the same generation loses it).
fn owned_partitions(topics: &BTreeMap<String, u32>, members: &[&Subscription]) -> Owned {
    let mut all_equal = true;
    let mut first: Option<BTreeSet<&str>> = None;
    let mut owner: BTreeMap<TopicPartition, usize> = BTreeMap::new();
    let mut owned: Vec<(String, Vec<TopicPartition>)> = Vec::new();
    let mut contested = BTreeSet::new();
    let mut max_generation = -1;
    for (index, m) in members.iter().enumerate() {
        let theirs: BTreeSet<&str> = m.topics.iter().map(String::as_str).collect();
        // The first non-empty subscription is the one the others must equal.
        match &first {
            Some(set) if !set.is_empty() => {
                if all_equal && !(m.topics.len() == set.len() && theirs.is_subset(set)) {
                    all_equal = false;
                }
            }
            _ => first = Some(theirs),
        }
        let generation = m.generation.unwrap_or(-1);
        max_generation = max_generation.max(generation);
        owned.push((m.member_id.clone(), Vec::new()));
        for tp in &m.owned {
            // Kafka checks the topic only; a partition beyond the topic's count would
            // upset its bookkeeping, so it is dropped here too.
            if topics.get(&tp.topic).is_none_or(|&n| tp.partition >= n) {
                continue;
            }
            match owner.get(tp) {
                None => {
                    owned[index].1.push(tp.clone());
                    owner.insert(tp.clone(), index);
                }
                Some(&other) => {
                    let other_generation = members[other].generation.unwrap_or(-1);
                    if generation == other_generation {
                        contested.insert(tp.clone());
                        remove_first(&mut owned[other].1, tp);
                        owner.insert(tp.clone(), index);
                    } else if generation > other_generation {
                        owned[index].1.push(tp.clone());
                        remove_first(&mut owned[other].1, tp);
                        owner.insert(tp.clone(), index);
                    }
                }
            }
        }
    }
    Owned {
        all_equal,
        owned,
        contested,
        max_generation,
    }
}

fn remove_first(list: &mut Vec<TopicPartition>, tp: &TopicPartition) {
    if let Some(at) = list.iter().position(|x| x == tp) {
        list.remove(at);
    }
}

/// Members and their partitions.
type Assignment = BTreeMap<String, Vec<TopicPartition>>;

/// Partitions changing owner, and their new owner.
type Transfers = BTreeMap<TopicPartition, String>;

/// The sticky assignment and, when every subscription is equal, the partitions it moves
/// between owners (None: the general case, where cooperative computes them itself).
type StickyResult = (Assignment, Option<Transfers>);

fn sticky(
    topics: &BTreeMap<String, u32>,
    members: &[&Subscription],
) -> Result<StickyResult, AssignError> {
    let owned = owned_partitions(topics, members);
    if owned.all_equal {
        let (assignment, transferring) = constrained(topics, owned)?;
        Ok((assignment, Some(transferring)))
    } else {
        Ok((General::new(topics, members, owned).build(), None))
    }
}

/// `CooperativeStickyAssignor`: the sticky assignment without the partitions that change
/// owner; they go to their new owner in the rebalance after the old one revoked them.
fn cooperative_sticky(
    topics: &BTreeMap<String, u32>,
    members: &[&Subscription],
) -> Result<Outcome, AssignError> {
    let (mut assignment, transferring) = sticky(topics, members)?;
    let withheld = match transferring {
        Some(transferring) => transferring,
        None => {
            // Added to one member while another, which is losing it, owned it.
            let mut added: BTreeMap<TopicPartition, String> = BTreeMap::new();
            let mut revoked: BTreeSet<TopicPartition> = BTreeSet::new();
            for m in members {
                let assigned = &assignment[&m.member_id];
                for tp in assigned.iter().filter(|tp| !m.owned.contains(tp)) {
                    added.insert(tp.clone(), m.member_id.clone());
                }
                revoked.extend(m.owned.iter().filter(|tp| !assigned.contains(tp)).cloned());
            }
            added.retain(|tp, _| revoked.contains(tp));
            added
        }
    };
    for (tp, member) in &withheld {
        if let Some(list) = assignment.get_mut(member) {
            remove_first(list, tp);
        }
    }
    Ok(Outcome {
        assignment,
        withheld,
    })
}

/// Kafka's `ConstrainedAssignmentBuilder` (every member subscribes to the same topics):
/// members keep what they own up to their quota, in HashMap order of member id; the rest
/// is dealt round robin, first to members under `floor(P/C)`, then one more each until
/// `P % C` members hold `ceil(P/C)`.
fn constrained(
    topics: &BTreeMap<String, u32>,
    owned: Owned,
) -> Result<(Assignment, Transfers), AssignError> {
    let total: u32 = topics.values().sum();
    let members = owned.owned.len() as u32;
    let (min_quota, max_quota) = (total / members, total.div_ceil(members));
    let expected_over_min = total % members;
    let mut over_min = 0;
    let mut revoked: BTreeSet<TopicPartition> = BTreeSet::new();
    let mut under: Vec<String> = Vec::new();
    let mut exact: Vec<String> = Vec::new();
    let mut assigned: BTreeSet<TopicPartition> = BTreeSet::new();
    let mut transferring = BTreeMap::new();
    let mut assignment: BTreeMap<String, Vec<TopicPartition>> = owned
        .owned
        .iter()
        .map(|(m, _)| (m.clone(), Vec::new()))
        .collect();
    // consumerToOwnedPartitions is a HashMap: its order decides who keeps max quota.
    let order = iteration_order(
        &owned
            .owned
            .iter()
            .map(|(m, _)| string_hash(m))
            .collect::<Vec<_>>(),
    );
    for index in order {
        let (member, list) = &owned.owned[index];
        let mut mine = list.clone();
        mine.sort_by(|a, b| {
            a.partition
                .cmp(&b.partition)
                .then(compare_strings(&a.topic, &b.topic))
        });
        mine.retain(|tp| !owned.contested.contains(tp));
        let n = mine.len() as u32;
        let keep = if n < min_quota {
            under.push(member.clone());
            n
        } else if n >= max_quota && over_min < expected_over_min {
            over_min += 1;
            if over_min == expected_over_min {
                exact.clear();
            }
            max_quota
        } else {
            if over_min < expected_over_min {
                exact.push(member.clone());
            }
            min_quota
        };
        let (kept, rest) = mine.split_at(keep as usize);
        assignment
            .get_mut(member)
            .expect("listed")
            .extend(kept.iter().cloned());
        assigned.extend(kept.iter().cloned());
        revoked.extend(rest.iter().cloned());
    }
    let unassigned: Vec<TopicPartition> = all_partitions(topics)
        .into_iter()
        .filter(|tp| !assigned.contains(tp))
        .collect();
    under.sort_by(|a, b| compare_strings(a, b));
    exact.sort_by(|a, b| compare_strings(a, b));
    // Java keeps one iterator over `under`; a cursor and its last index emulate it.
    let mut cursor = 0;
    let mut last = 0;
    for tp in unassigned {
        let member = if cursor < under.len() {
            last = cursor;
            cursor += 1;
            under[last].clone()
        } else if under.is_empty() && exact.is_empty() {
            return Err(AssignError::Inconsistent(
                "no more unfilled consumers to be assigned".to_string(),
            ));
        } else if under.is_empty() {
            exact.remove(0)
        } else {
            last = 0;
            cursor = 1;
            under[0].clone()
        };
        let list = assignment.get_mut(&member).expect("listed");
        list.push(tp.clone());
        if revoked.contains(&tp) || owned.contested.contains(&tp) {
            transferring.insert(tp, member.clone());
        }
        let count = list.len() as u32;
        if count == min_quota && cursor > 0 && under.get(last) == Some(&member) {
            under.remove(last);
            cursor -= 1;
            exact.push(member);
        } else if count == max_quota {
            over_min += 1;
        }
    }
    if !under.is_empty() {
        if over_min != expected_over_min {
            return Err(AssignError::Inconsistent(
                "fewer members than expected reached more than the minimum quota, and no partitions are left"
                    .to_string(),
            ));
        }
        if let Some(m) = under
            .iter()
            .find(|m| assignment[*m].len() as u32 != min_quota)
        {
            return Err(AssignError::Inconsistent(format!(
                "consumer {m} does not reach its minimum quota, and no partitions are left"
            )));
        }
    }
    Ok((assignment, transferring))
}

/// A member name in Java's `String.compareTo` order, for the consumer TreeSet.
#[derive(Clone, Debug, PartialEq, Eq)]
struct JavaName(String);

impl PartialOrd for JavaName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for JavaName {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_strings(&self.0, &other.0)
    }
}

/// Kafka's `GeneralAssignmentBuilder` (members subscribe to different topics): keep
/// valid owned partitions, give each unassigned one to the eligible member with the
/// fewest, then move partitions toward balance, preferring to give a partition back to
/// its previous owner, and keep the pre-balance result if balancing did not improve it.
struct General<'a> {
    topics: &'a BTreeMap<String, u32>,
    members: &'a [&'a Subscription],
    max_generation: i32,
    current: BTreeMap<String, Vec<TopicPartition>>,
    /// Consumers by (partition count, name): Kafka's TreeSet with SubscriptionComparator.
    tree: BTreeSet<(usize, JavaName)>,
    topic_consumers: BTreeMap<String, Vec<String>>,
    consumer_topics: BTreeMap<String, Vec<String>>,
    partition_consumer: BTreeMap<TopicPartition, String>,
    sorted_partitions: Vec<TopicPartition>,
    revocation_required: bool,
    movements: Movements,
}

impl<'a> General<'a> {
    fn new(
        topics: &'a BTreeMap<String, u32>,
        members: &'a [&'a Subscription],
        owned: Owned,
    ) -> General<'a> {
        let mut topic_consumers: BTreeMap<String, Vec<String>> =
            topics.keys().map(|t| (t.clone(), Vec::new())).collect();
        let mut consumer_topics = BTreeMap::new();
        for m in members {
            let mut subscribed = Vec::new();
            for t in &m.topics {
                if let Some(consumers) = topic_consumers.get_mut(t) {
                    subscribed.push(t.clone());
                    consumers.push(m.member_id.clone());
                }
            }
            consumer_topics.insert(m.member_id.clone(), subscribed);
        }
        let current: BTreeMap<String, Vec<TopicPartition>> = owned.owned.into_iter().collect();
        let partition_consumer = current
            .iter()
            .flat_map(|(c, list)| list.iter().map(move |tp| (tp.clone(), c.clone())))
            .collect();
        let mut names: Vec<&String> = topic_consumers.keys().collect();
        names.sort_by(|a, b| {
            topic_consumers[*a]
                .len()
                .cmp(&topic_consumers[*b].len())
                .then(compare_strings(a, b))
        });
        let sorted_partitions = names
            .into_iter()
            .flat_map(|t| (0..topics[t]).map(move |p| TopicPartition::new(t, p)))
            .collect();
        General {
            topics,
            members,
            max_generation: owned.max_generation,
            current,
            tree: BTreeSet::new(),
            topic_consumers,
            consumer_topics,
            partition_consumer,
            sorted_partitions,
            revocation_required: false,
            movements: Movements::default(),
        }
    }

    fn size(&self, consumer: &str) -> usize {
        self.current.get(consumer).map_or(0, Vec::len)
    }

    fn build(mut self) -> BTreeMap<String, Vec<TopicPartition>> {
        let mut previous: BTreeMap<TopicPartition, (String, i32)> = BTreeMap::new();
        for m in self.members {
            let generation = match m.generation {
                Some(g) if g < self.max_generation => g,
                None if self.max_generation > -1 => -1,
                _ => continue,
            };
            for tp in &m.owned {
                if previous.get(tp).is_none_or(|(_, g)| generation > *g) {
                    previous.insert(tp.clone(), (m.member_id.clone(), generation));
                }
            }
        }
        // Keep what is still valid: a partition of a topic the member no longer
        // subscribes to must be revoked.
        let mut assigned = BTreeSet::new();
        for m in self.members {
            let list = self
                .current
                .get_mut(&m.member_id)
                .expect("every member has an entry");
            list.retain(|tp| {
                if m.topics.contains(&tp.topic) {
                    assigned.insert(tp.clone());
                    true
                } else {
                    self.revocation_required = true;
                    false
                }
            });
        }
        let unassigned: Vec<TopicPartition> = self
            .sorted_partitions
            .iter()
            .filter(|tp| !assigned.contains(*tp))
            .cloned()
            .collect();
        self.tree = self
            .current
            .iter()
            .map(|(c, list)| (list.len(), JavaName(c.clone())))
            .collect();
        self.balance(&previous, unassigned);
        self.current
    }

    fn tree_remove(&mut self, consumer: &str) {
        let key = (self.size(consumer), JavaName(consumer.to_string()));
        self.tree.remove(&key);
    }

    fn tree_add(&mut self, consumer: &str) {
        let key = (self.size(consumer), JavaName(consumer.to_string()));
        self.tree.insert(key);
    }

    fn subscribes(&self, consumer: &str, topic: &str) -> bool {
        self.consumer_topics
            .get(consumer)
            .is_some_and(|t| t.iter().any(|x| x == topic))
    }

    /// The first consumer in (count, name) order that subscribes to `topic`.
    fn least_loaded_subscriber(&self, topic: &str) -> Option<String> {
        self.tree
            .iter()
            .map(|(_, c)| c.0.clone())
            .find(|c| self.subscribes(c, topic))
    }

    fn assign_to(&mut self, tp: TopicPartition, consumer: &str) {
        self.tree_remove(consumer);
        self.current
            .get_mut(consumer)
            .expect("a member")
            .push(tp.clone());
        self.partition_consumer.insert(tp, consumer.to_string());
        self.tree_add(consumer);
    }

    fn max_assignment_size(&self, consumer: &str) -> usize {
        let topics = &self.consumer_topics[consumer];
        if topics.len() == self.topics.len() {
            self.topics.values().sum::<u32>() as usize
        } else {
            topics.iter().map(|t| self.topics[t] as usize).sum()
        }
    }

    fn topic_can_move(&self, topic: &str) -> bool {
        self.topic_consumers
            .get(topic)
            .is_some_and(|c| c.len() >= 2)
    }

    fn consumer_can_move(&self, consumer: &str) -> bool {
        let list = &self.current[consumer];
        list.len() < self.max_assignment_size(consumer)
            || list.iter().any(|tp| self.topic_can_move(&tp.topic))
    }

    fn balance(
        &mut self,
        previous: &BTreeMap<TopicPartition, (String, i32)>,
        mut unassigned: Vec<TopicPartition>,
    ) {
        let initializing = self
            .tree
            .last()
            .is_some_and(|(_, c)| self.current[&c.0].is_empty());
        for tp in &unassigned {
            if self.topic_consumers[&tp.topic].is_empty() {
                continue;
            }
            if let Some(target) = self.least_loaded_subscriber(&tp.topic) {
                self.assign_to(tp.clone(), &target);
            }
        }
        let fixed_topics: BTreeSet<String> = self
            .topic_consumers
            .keys()
            .filter(|t| !self.topic_can_move(t))
            .cloned()
            .collect();
        self.sorted_partitions
            .retain(|tp| !fixed_topics.contains(&tp.topic));
        unassigned.retain(|tp| !fixed_topics.contains(&tp.topic));
        let mut fixed_assignments = BTreeMap::new();
        let consumers: Vec<String> = self.consumer_topics.keys().cloned().collect();
        for c in consumers {
            if !self.consumer_can_move(&c) {
                self.tree_remove(&c);
                let list = self.current.remove(&c).expect("a member");
                fixed_assignments.insert(c, list);
            }
        }
        let before = self.current.clone();
        let before_owners = self.partition_consumer.clone();
        if !self.revocation_required {
            self.perform_reassignments(&unassigned, previous);
        }
        let sorted = self.sorted_partitions.clone();
        let moved = self.perform_reassignments(&sorted, previous);
        if !initializing && moved && balance_score(&self.current) >= balance_score(&before) {
            self.current = before;
            self.partition_consumer = before_owners;
        }
        for (c, list) in fixed_assignments {
            self.current.insert(c.clone(), list);
            self.tree_add(&c);
        }
    }

    fn is_balanced(&self) -> bool {
        let (Some((min, _)), Some((max, _))) = (self.tree.first(), self.tree.last()) else {
            return true;
        };
        if *min + 1 >= *max {
            return true;
        }
        for (count, consumer) in &self.tree {
            let consumer = &consumer.0;
            if *count == self.max_assignment_size(consumer) {
                continue;
            }
            for topic in &self.consumer_topics[consumer] {
                for p in 0..self.topics[topic] {
                    let tp = TopicPartition::new(topic, p);
                    if self.current[consumer].contains(&tp) {
                        continue;
                    }
                    if let Some(other) = self.partition_consumer.get(&tp)
                        && count + 1 < self.size(other)
                    {
                        return false;
                    }
                }
            }
        }
        true
    }

    fn perform_reassignments(
        &mut self,
        partitions: &[TopicPartition],
        previous: &BTreeMap<TopicPartition, (String, i32)>,
    ) -> bool {
        let mut performed = false;
        loop {
            let mut modified = false;
            for tp in partitions {
                if self.is_balanced() {
                    break;
                }
                let Some(consumer) = self.partition_consumer.get(tp).cloned() else {
                    continue;
                };
                if let Some((prev, _)) = previous.get(tp)
                    && self.current.contains_key(prev)
                    && self.size(&consumer) > self.size(prev) + 1
                {
                    let prev = prev.clone();
                    self.reassign(tp, &prev);
                    performed = true;
                    modified = true;
                    continue;
                }
                let crowded = self.topic_consumers[&tp.topic]
                    .iter()
                    .any(|other| self.size(&consumer) > self.size(other) + 1);
                if crowded && let Some(target) = self.least_loaded_subscriber(&tp.topic) {
                    self.reassign(tp, &target);
                    performed = true;
                    modified = true;
                }
            }
            if !modified {
                return performed;
            }
        }
    }

    fn reassign(&mut self, tp: &TopicPartition, new_consumer: &str) {
        let consumer = self.partition_consumer[tp].clone();
        let to_move = self
            .movements
            .actual_partition_to_move(tp, &consumer, new_consumer);
        let old = self.partition_consumer[&to_move].clone();
        self.tree_remove(&old);
        self.tree_remove(new_consumer);
        self.movements.move_partition(&to_move, &old, new_consumer);
        remove_first(self.current.get_mut(&old).expect("a member"), &to_move);
        self.current
            .get_mut(new_consumer)
            .expect("a member")
            .push(to_move.clone());
        self.partition_consumer
            .insert(to_move, new_consumer.to_string());
        self.tree_add(new_consumer);
        self.tree_add(&old);
    }
}

/// Sum over pairs of members of the difference in their partition counts.
fn balance_score(assignment: &BTreeMap<String, Vec<TopicPartition>>) -> usize {
    let sizes: Vec<usize> = assignment.values().map(Vec::len).collect();
    let mut score = 0;
    for (i, a) in sizes.iter().enumerate() {
        for b in &sizes[i + 1..] {
            score += a.abs_diff(*b);
        }
    }
    score
}

/// Kafka's `PartitionMovements`: which partitions moved between which members, so a
/// move back along the same pair takes a partition that moved before (keeping the
/// assignment sticky).
#[derive(Clone, Debug, Default)]
struct Movements {
    by_topic: BTreeMap<String, BTreeMap<(String, String), JavaHashSet>>,
    moves: BTreeMap<TopicPartition, (String, String)>,
}

impl Movements {
    fn remove_record(&mut self, tp: &TopicPartition) -> Option<(String, String)> {
        let pair = self.moves.remove(tp)?;
        if let Some(pairs) = self.by_topic.get_mut(&tp.topic) {
            if let Some(set) = pairs.get_mut(&pair) {
                set.remove(tp);
                if set.is_empty() {
                    pairs.remove(&pair);
                }
            }
            if pairs.is_empty() {
                self.by_topic.remove(&tp.topic);
            }
        }
        Some(pair)
    }

    fn add_record(&mut self, tp: &TopicPartition, pair: (String, String)) {
        self.moves.insert(tp.clone(), pair.clone());
        self.by_topic
            .entry(tp.topic.clone())
            .or_default()
            .entry(pair)
            .or_default()
            .insert(tp.clone());
    }

    fn move_partition(&mut self, tp: &TopicPartition, old: &str, new: &str) {
        match self.remove_record(tp) {
            Some((source, _)) => {
                // Back to where it came from: no movement is left to remember.
                if source != new {
                    self.add_record(tp, (source, new.to_string()));
                }
            }
            None => self.add_record(tp, (old.to_string(), new.to_string())),
        }
    }

    fn actual_partition_to_move(
        &self,
        tp: &TopicPartition,
        old: &str,
        new: &str,
    ) -> TopicPartition {
        let Some(pairs) = self.by_topic.get(&tp.topic) else {
            return tp.clone();
        };
        let old = self
            .moves
            .get(tp)
            .map_or(old, |(source, _)| source.as_str());
        match pairs.get(&(new.to_string(), old.to_string())) {
            Some(set) => set.first().cloned().unwrap_or_else(|| tp.clone()),
            None => tp.clone(),
        }
    }
}
