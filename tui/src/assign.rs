//! `kafkasim assign`: what Kafka's assignors give a group, for students to explore.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use kafkasim_core::group::assignor::{Outcome, Strategy, Subscription, assign};
use kafkasim_core::protocol::TopicPartition;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum StrategyName {
    Range,
    Roundrobin,
    Sticky,
    CooperativeSticky,
}

impl From<StrategyName> for Strategy {
    fn from(name: StrategyName) -> Strategy {
        match name {
            StrategyName::Range => Strategy::Range,
            StrategyName::Roundrobin => Strategy::RoundRobin,
            StrategyName::Sticky => Strategy::Sticky,
            StrategyName::CooperativeSticky => Strategy::CooperativeSticky,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The assignor (partition.assignment.strategy)
    #[arg(long, short, value_enum)]
    strategy: Option<StrategyName>,
    /// A topic and its partition count, such as orders:6 (repeat for more)
    #[arg(long = "topic", value_name = "NAME:PARTITIONS")]
    topics: Vec<String>,
    /// A member and its subscription, such as c1=orders,payments; c1@app-1=orders makes
    /// it a static member (group.instance.id app-1). Members are listed in join order
    #[arg(long = "member", value_name = "ID[@INSTANCE]=TOPICS")]
    members: Vec<String>,
    /// What a member owns from the previous assignment (generation 1), such as
    /// c1=orders-0,orders-1: sticky keeps what it can
    #[arg(long = "owned", value_name = "ID=PARTITIONS")]
    owned: Vec<String>,
    /// Read the group from a JSON file instead (see the help's example)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["topics", "members", "owned"])]
    file: Option<PathBuf>,
    /// Print the assignment as JSON
    #[arg(long)]
    json: bool,
}

pub const AFTER_HELP: &str = "\
Each member gets a list of partitions. range hands out consecutive ranges per topic,
roundrobin deals all partitions in turn, sticky balances while keeping what members owned,
and cooperative-sticky also holds back partitions that change owner until the owner has
revoked them (a second rebalance).

Examples:
  kafkasim assign -s range --topic orders:7 --member c1=orders --member c2=orders --member c3=orders
  kafkasim assign -s cooperative-sticky --topic t:4 --member c1=t --member c2=t --member c3=t \\
      --owned c1=t-0,t-1 --owned c2=t-2,t-3

A JSON file (--file) gives the full case:
  {\"strategy\": \"sticky\",
   \"topics\": {\"orders\": 6, \"payments\": 3},
   \"members\": [{\"id\": \"c1\", \"topics\": [\"orders\", \"payments\"], \"owned\": [\"orders-0\"], \"generation\": 4},
               {\"id\": \"c2\", \"instance\": \"app-2\", \"topics\": [\"orders\"]}]}";

/// A group to assign: from the flags or a file.
struct Group {
    /// The file's strategy, if it names one.
    strategy: Option<String>,
    topics: BTreeMap<String, u32>,
    members: Vec<Subscription>,
}

/// The group as a JSON file gives it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    strategy: Option<String>,
    topics: BTreeMap<String, u32>,
    members: Vec<MemberFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberFile {
    id: String,
    instance: Option<String>,
    topics: Vec<String>,
    #[serde(default)]
    owned: Vec<String>,
    generation: Option<i32>,
}

#[derive(Serialize)]
struct JsonOutcome<'a> {
    strategy: &'static str,
    assignment: BTreeMap<&'a str, Vec<String>>,
    withheld: BTreeMap<String, &'a str>,
}

/// `orders-3` -> (orders, 3); the topic may itself contain dashes.
fn parse_partition(
    text: &str,
    topics: &BTreeMap<String, u32>,
    place: &str,
) -> Result<TopicPartition, String> {
    let bad = || {
        format!("{place}: {text:?} is not a partition: write it as TOPIC-NUMBER, such as orders-0")
    };
    let (topic, number) = text.rsplit_once('-').ok_or_else(bad)?;
    let partition: u32 = number.parse().map_err(|_| bad())?;
    match topics.get(topic) {
        None => Err(format!(
            "{place}: {text:?} names topic {topic:?}, which is not among the topics given"
        )),
        Some(&count) if partition >= count => Err(format!(
            "{place}: {text:?} does not exist: topic {topic} has partitions 0..{}",
            count.saturating_sub(1)
        )),
        Some(_) => Ok(TopicPartition::new(topic, partition)),
    }
}

fn check_topics(
    member: &str,
    subscribed: &[String],
    topics: &BTreeMap<String, u32>,
) -> Result<(), String> {
    match subscribed.iter().find(|t| !topics.contains_key(*t)) {
        Some(t) => Err(format!(
            "member {member} subscribes to topic {t:?}, which is not among the topics given: add it with --topic {t}:PARTITIONS"
        )),
        None if subscribed.is_empty() => Err(format!("member {member} subscribes to no topic")),
        None => Ok(()),
    }
}

/// The group from the flags.
fn from_flags(args: &Args) -> Result<Group, String> {
    let mut topics = BTreeMap::new();
    for spec in &args.topics {
        let bad = || format!("--topic {spec:?}: write NAME:PARTITIONS, such as orders:6");
        let (name, count) = spec.rsplit_once(':').ok_or_else(bad)?;
        let count: u32 = count.parse().map_err(|_| bad())?;
        if name.is_empty() || count == 0 {
            return Err(format!(
                "--topic {spec:?}: a topic needs a name and at least one partition"
            ));
        }
        if topics.insert(name.to_string(), count).is_some() {
            return Err(format!("--topic {name} is given twice"));
        }
    }
    if topics.is_empty() {
        return Err(
            "give the topics with --topic NAME:PARTITIONS (or a group with --file)".to_string(),
        );
    }
    let mut members: Vec<Subscription> = Vec::new();
    for spec in &args.members {
        let (who, subscribed) = spec.split_once('=').ok_or_else(|| {
            format!("--member {spec:?}: write ID=TOPIC,TOPIC..., such as c1=orders")
        })?;
        let (id, instance) = match who.split_once('@') {
            Some((id, instance)) => (id, Some(instance.to_string())),
            None => (who, None),
        };
        if id.is_empty() {
            return Err(format!(
                "--member {spec:?}: the member needs an id before '='"
            ));
        }
        let subscribed: Vec<String> = subscribed
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        check_topics(id, &subscribed, &topics)?;
        members.push(Subscription {
            member_id: id.to_string(),
            group_instance_id: instance,
            topics: subscribed,
            ..Subscription::default()
        });
    }
    if members.is_empty() {
        return Err(
            "give the members with --member ID=TOPICS (or a group with --file)".to_string(),
        );
    }
    for spec in &args.owned {
        let (id, list) = spec.split_once('=').ok_or_else(|| {
            format!("--owned {spec:?}: write ID=PARTITION,PARTITION..., such as c1=orders-0")
        })?;
        let place = format!("--owned {spec:?}");
        let owned = list
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| parse_partition(p, &topics, &place))
            .collect::<Result<Vec<_>, _>>()?;
        let member = members
            .iter_mut()
            .find(|m| m.member_id == id)
            .ok_or_else(|| format!("{place}: no member {id:?} was given with --member"))?;
        member.owned = owned;
        member.generation = Some(1);
    }
    Ok(Group {
        strategy: None,
        topics,
        members,
    })
}

fn from_file(path: &PathBuf) -> Result<Group, String> {
    let shown = crate::shown(path);
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let group: GroupFile = serde_json::from_str(&text)
        .map_err(|e| format!("{shown}:{}:{}: {e}", e.line(), e.column()))?;
    if let Some((topic, _)) = group.topics.iter().find(|(_, n)| **n == 0) {
        return Err(format!(
            "{shown}: topic {topic} needs at least one partition"
        ));
    }
    let mut members = Vec::new();
    for m in group.members {
        check_topics(&m.id, &m.topics, &group.topics).map_err(|e| format!("{shown}: {e}"))?;
        let place = format!("{shown}: member {}", m.id);
        let owned = m
            .owned
            .iter()
            .map(|p| parse_partition(p, &group.topics, &place))
            .collect::<Result<Vec<_>, _>>()?;
        let generation = m.generation.or((!owned.is_empty()).then_some(1));
        members.push(Subscription {
            member_id: m.id,
            group_instance_id: m.instance,
            topics: m.topics,
            owned,
            generation,
        });
    }
    Ok(Group {
        strategy: group.strategy,
        topics: group.topics,
        members,
    })
}

pub fn run(args: &Args, out: &mut impl Write) -> Result<(), String> {
    let group = match &args.file {
        Some(path) => from_file(path)?,
        None => from_flags(args)?,
    };
    let Group {
        strategy: file_strategy,
        topics,
        members,
    } = group;
    let strategy = match (args.strategy, file_strategy) {
        (Some(name), _) => Strategy::from(name),
        (None, Some(name)) => Strategy::from_name(&name).ok_or_else(|| {
            format!("strategy {name:?} is not one of range, roundrobin, sticky, cooperative-sticky")
        })?,
        (None, None) => return Err(
            "choose an assignor with --strategy (range, roundrobin, sticky, cooperative-sticky)"
                .to_string(),
        ),
    };
    let outcome = assign(strategy, &topics, &members).map_err(|e| e.to_string())?;
    let write =
        |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(crate::output_error);
    if args.json {
        let json = JsonOutcome {
            strategy: strategy.name(),
            assignment: outcome
                .assignment
                .iter()
                .map(|(m, list)| (m.as_str(), list.iter().map(ToString::to_string).collect()))
                .collect(),
            withheld: outcome
                .withheld
                .iter()
                .map(|(tp, m)| (tp.to_string(), m.as_str()))
                .collect(),
        };
        let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
        return write(out, text);
    }
    table(strategy, &topics, &members, &outcome, out)
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn table(
    strategy: Strategy,
    topics: &BTreeMap<String, u32>,
    members: &[Subscription],
    outcome: &Outcome,
    out: &mut impl Write,
) -> Result<(), String> {
    let write =
        |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(crate::output_error);
    let total: u32 = topics.values().sum();
    write(
        out,
        format!(
            "{}: {total} partitions of {} to {}",
            strategy.name(),
            plural(topics.len(), "topic"),
            plural(members.len(), "member")
        ),
    )?;
    let width = members
        .iter()
        .map(|m| m.member_id.len())
        .max()
        .unwrap_or(6)
        .max(6);
    write(
        out,
        format!(
            "{:width$}  {:>5}  {:>4}  partitions",
            "member", "count", "kept"
        ),
    )?;
    for m in members {
        let list = &outcome.assignment[&m.member_id];
        let kept = list.iter().filter(|tp| m.owned.contains(tp)).count();
        let names: Vec<String> = list.iter().map(ToString::to_string).collect();
        let line = format!(
            "{:width$}  {:>5}  {:>4}  {}",
            m.member_id,
            list.len(),
            kept,
            names.join(" ")
        );
        write(out, line.trim_end().to_string())?;
    }
    if !outcome.withheld.is_empty() {
        write(
            out,
            "held back until their current owner revokes them (cooperative, next rebalance):"
                .to_string(),
        )?;
        for (tp, member) in &outcome.withheld {
            write(out, format!("  {tp} -> {member}"))?;
        }
    }
    Ok(())
}
