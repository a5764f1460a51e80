//! The pure view: the same model always draws the same frame. Widgets are built from the
//! simulation's snapshots and narration; nothing here decides anything about Kafka.

use std::collections::BTreeSet;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use kafkasim_core::group::storage::OFFSETS_TOPIC;
use kafkasim_sim::narrate::node_name_in;
use kafkasim_sim::snapshot::{ClusterSnapshot, PartitionSnapshot};
use kafkasim_sim::trace::TraceEntry;

use super::keymap::{KEYMAP, hints};
use super::strings::{self, Strings};
use super::{Model, SPEEDS_MS, Shot, Theme};
use kafkasim_sim::lang::Lang;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Colours of one theme.
struct Palette {
    base: Style,
    dim: Style,
    title: Style,
    good: Style,
    warn: Style,
    bad: Style,
    caption: Style,
    selected: Style,
    /// The UI's language and its words.
    lang: Lang,
    words: &'static Strings,
}

fn palette(theme: Theme, lang: Lang) -> Palette {
    let words = strings::of(lang);
    match theme {
        Theme::Dark => Palette {
            base: Style::new().fg(Color::Gray).bg(Color::Black),
            dim: Style::new().fg(Color::DarkGray),
            title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            good: Style::new().fg(Color::Green),
            warn: Style::new().fg(Color::Yellow),
            bad: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            caption: Style::new().fg(Color::Black).bg(Color::Yellow),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            lang,
            words,
        },
        Theme::Light => Palette {
            base: Style::new().fg(Color::Black).bg(Color::White),
            dim: Style::new().fg(Color::DarkGray),
            title: Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
            good: Style::new().fg(Color::Green),
            warn: Style::new().fg(Color::Magenta),
            bad: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            caption: Style::new().fg(Color::White).bg(Color::Blue),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            lang,
            words,
        },
    }
}

/// Draws the whole UI.
pub fn view(model: &Model, frame: &mut Frame) {
    let p = palette(model.theme, model.lang);
    let area = frame.area();
    frame.render_widget(Block::new().style(p.base), area);
    let banner = banner(model, area.width.saturating_sub(2) as usize);
    let [header, body, banner_area, timeline] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(4),
        Constraint::Length(banner.len() as u16),
        Constraint::Length(2),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header_lines(model, &p)), header);
    let banner_style = if model.caption.is_some() {
        p.caption
    } else {
        p.warn
    };
    frame.render_widget(
        Paragraph::new(banner.into_iter().map(Line::from).collect::<Vec<_>>()).style(banner_style),
        banner_area,
    );
    frame.render_widget(
        Paragraph::new(timeline_lines(model, timeline.width as usize, &p)),
        timeline,
    );

    let Some(shot) = model.shot() else {
        frame.render_widget(Paragraph::new(p.words.waiting), body);
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    let broker_lines = brokers_lines(model, &shot.snapshot, &p);
    let inner_width = left.width.saturating_sub(2) as usize;
    let partition_lines = partition_lines(model, &shot.snapshot, inner_width, &p);
    // Tall enough: a space-time view of the messages under the partitions; else the few
    // messages in flight beside the brokers.
    let wanted = broker_lines.len() + partition_lines.len() + 4;
    let space_time = left.height as usize >= wanted + 8;
    let flight = if space_time {
        Vec::new()
    } else {
        in_flight_lines(&shot.snapshot, &p, 3)
    };
    let [brokers_area, partitions_area, messages_area] = Layout::vertical([
        Constraint::Length((broker_lines.len() + flight.len() + 2) as u16),
        if space_time {
            Constraint::Length(partition_lines.len() as u16 + 2)
        } else {
            Constraint::Min(3)
        },
        Constraint::Fill(1),
    ])
    .areas(left);
    let mut top = broker_lines;
    top.extend(flight);
    frame.render_widget(
        Paragraph::new(top).block(panel(p.words.brokers, &p)),
        brokers_area,
    );
    let title = if partitions_area.width > 80 {
        p.words.partitions
    } else {
        p.words.partitions_short
    };
    frame.render_widget(
        Paragraph::new(partition_lines).block(panel(title, &p)),
        partitions_area,
    );
    if space_time {
        let inner = messages_area.inner(ratatui::layout::Margin::new(1, 1));
        let lines = space_time_lines(
            model,
            &shot.snapshot,
            inner.width as usize,
            inner.height as usize,
            &p,
        );
        frame.render_widget(
            Paragraph::new(lines).block(panel(p.words.space_time, &p)),
            messages_area,
        );
    }
    let group_lines = group_lines(&shot.snapshot, right.width.saturating_sub(2) as usize, &p);
    let group_height = (group_lines.len() as u16 + 2)
        .min(right.height * 3 / 5)
        .max(3);
    let [groups_area, events_area] =
        Layout::vertical([Constraint::Length(group_height), Constraint::Min(3)]).areas(right);
    frame.render_widget(
        Paragraph::new(group_lines).block(panel(p.words.groups, &p)),
        groups_area,
    );
    let width = events_area.width.saturating_sub(2) as usize;
    let height = events_area.height.saturating_sub(2) as usize;
    frame.render_widget(
        Paragraph::new(event_lines(model, shot, width, height, &p))
            .block(panel(p.words.events, &p)),
        events_area,
    );
    if model.help {
        help(frame, area, &p);
    }
}

fn panel<'a>(title: &'a str, p: &Palette) -> Block<'a> {
    Block::bordered()
        .title(Span::styled(format!(" {title} "), p.title))
        .border_style(p.dim)
}

fn seconds(ms: i64) -> String {
    format!("{:.3}s", ms as f64 / 1000.0)
}

/// The title, then the clock and the keys that matter.
fn header_lines<'a>(model: &'a Model, p: &Palette) -> Vec<Line<'a>> {
    let t = model.shot().map_or(0, |s| s.time_ms);
    let state = if model.cursor.is_some() {
        p.words.rewound
    } else if model.at_end() {
        p.words.at_end
    } else if model.playing {
        p.words.playing
    } else {
        p.words.paused
    };
    let speed = SPEEDS_MS[model.speed] as f64 / 1000.0;
    vec![
        Line::from(vec![
            Span::styled(format!(" {} ", p.words.app), p.title),
            Span::raw(format!(
                "{}{}",
                model.title_in(model.lang),
                (p.words.seed)(model.seed)
            )),
        ]),
        Line::from(vec![
            Span::styled(
                format!(
                    " {} / {}  {state}  ×{speed}  ",
                    seconds(t),
                    seconds(model.duration_ms)
                ),
                p.warn,
            ),
            Span::styled(format!("│ {}", hints(model.lang)), p.dim),
        ]),
    ]
}

/// The caption of the last lesson beat, or the answer to the last key, wrapped.
fn banner(model: &Model, width: usize) -> Vec<String> {
    let text = match (model.caption_text(), &model.status) {
        (Some(caption), _) => (strings::of(model.lang).lesson)(caption),
        (None, Some(status)) => status.clone(),
        (None, None) => return Vec::new(),
    };
    let mut lines = wrap(&text, width.max(10));
    lines.truncate(4);
    lines
}

fn brokers_lines<'a>(model: &Model, s: &ClusterSnapshot, p: &Palette) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    for (id, b) in &s.brokers {
        let (mark, state, style) = if !b.up {
            ("✖", p.words.down, p.bad)
        } else if b.paused {
            ("‖", p.words.paused_node, p.warn)
        } else if !b.registered {
            ("○", p.words.unregistered, p.warn)
        } else {
            ("●", p.words.up, p.good)
        };
        let mut spans = vec![
            Span::styled(format!(" {mark} broker {id} "), style),
            Span::raw(state.to_string()),
        ];
        if s.controller.map(|(c, _)| c) == Some(*id) {
            let epoch = s.controller.map_or(0, |(_, e)| e);
            spans.push(Span::styled(
                format!("  {} ({} {epoch})", p.words.controller, p.words.epoch),
                p.title,
            ));
        }
        let unreachable: BTreeSet<String> = s
            .network
            .blocked
            .iter()
            .filter(|(from, _)| from == id)
            .map(|(_, to)| node_name_in(*to, p.lang))
            .collect();
        if !unreachable.is_empty() {
            let names: Vec<String> = unreachable.into_iter().collect();
            spans.push(Span::styled(
                format!("  {} {}", p.words.cut_off_from, names.join(", ")),
                p.bad,
            ));
        }
        let line = Line::from(spans);
        lines.push(if model.selected_broker == Some(*id) {
            line.style(p.selected)
        } else {
            line
        });
    }
    lines.push(Line::styled(format!(" ● {}", p.words.zookeeper), p.dim));
    lines
}

fn in_flight_lines<'a>(s: &ClusterSnapshot, p: &Palette, max: usize) -> Vec<Line<'a>> {
    let mut messages: Vec<_> = s.network.in_flight.iter().collect();
    messages.sort_by_key(|m| (m.sent_ms, m.id));
    let mut lines = vec![Line::styled(format!(" {}", p.words.in_flight), p.title)];
    if messages.is_empty() {
        lines.push(Line::styled(
            format!("   {}", p.words.nothing_in_flight),
            p.dim,
        ));
    }
    for m in messages.iter().rev().take(max) {
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "   {} → {} ",
                    node_name_in(m.from, p.lang),
                    node_name_in(m.to, p.lang)
                ),
                p.dim,
            ),
            Span::raw(m.kind.to_string()),
            Span::styled(
                format!(
                    "  {}",
                    (p.words.sent_due)(&seconds(m.sent_ms), &seconds(m.deliver_ms))
                ),
                p.dim,
            ),
        ]));
    }
    lines
}

fn partition_lines<'a>(
    model: &Model,
    s: &ClusterSnapshot,
    width: usize,
    p: &Palette,
) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    for (tp, part) in &s.partitions {
        if tp.topic == OFFSETS_TOPIC && !model.show_internal {
            continue;
        }
        let isr: Vec<String> = part.isr.iter().map(|b| b.to_string()).collect();
        let osr: Vec<String> = part.out_of_sync().iter().map(|b| b.to_string()).collect();
        let mut head = vec![
            Span::styled(format!("{tp}"), p.title),
            Span::raw(match part.leader {
                Some(l) => format!(
                    "  {} {l}  {} {}",
                    p.words.leader, p.words.epoch, part.leader_epoch
                ),
                None => String::new(),
            }),
            Span::styled(format!("  {} [{}]", p.words.isr, isr.join(",")), p.good),
        ];
        if !osr.is_empty() {
            head.push(Span::styled(
                format!(" {} [{}]", p.words.osr, osr.join(",")),
                p.warn,
            ));
        }
        if part.leader.is_none() {
            head.push(Span::styled(format!("  {}", p.words.offline), p.bad));
        } else if part.isr.len() < part.replicas.len() {
            head.push(Span::styled(
                format!("  {}", p.words.under_replicated),
                p.warn,
            ));
        }
        lines.push(Line::from(head));
        lines.extend(replica_lines(s, part, width, p));
        // The punchline of a lesson that loses writes: which acknowledged records of
        // this partition are gone, live.
        let lost: Vec<&kafkasim_sim::check::LostWrite> = model
            .shot()
            .map(|shot| shot.lost.iter().filter(|l| &l.tp == tp).collect())
            .unwrap_or_default();
        if let (Some(first), Some(last)) = (lost.first(), lost.last()) {
            let text = (p.words.lost)(
                lost.len(),
                first.offset,
                last.offset,
                &first.value,
                &last.value,
            );
            lines.push(Line::styled(
                format!("  {}", fit(&text, width.saturating_sub(2))),
                p.bad,
            ));
        }
    }
    if lines.is_empty() {
        lines.push(Line::styled(p.words.no_partitions, p.dim));
    }
    lines
}

/// Each replica's log as a strip of offsets: below its HW (committed), from the HW to
/// the LEO (not yet known committed), and the LEO where it ends.
fn replica_lines<'a>(
    s: &ClusterSnapshot,
    part: &PartitionSnapshot,
    width: usize,
    p: &Palette,
) -> Vec<Line<'a>> {
    let leader_state = part.leader.and_then(|l| part.replica_states.get(&l));
    let longest = part
        .replica_states
        .values()
        .map(|r| r.log_end_offset)
        .chain(part.on_disk.values().map(|d| d.log_end_offset))
        .max()
        .unwrap_or(0)
        .max(1);
    let strip_width = width.saturating_sub(52).clamp(4, 40) as i64;
    let cells = |offset: i64| (offset.max(0) * strip_width + longest - 1) / longest;
    let mut lines = Vec::new();
    for b in &part.replicas {
        let Some(r) = part.replica_states.get(b) else {
            // A down broker keeps its strip, greyed: what its disk holds, the tail above
            // its last HW checkpoint (what it alone may have) marked.
            let Some(d) = part.on_disk.get(b) else {
                lines.push(Line::styled(
                    format!("  b{b}   {}", p.words.no_replica),
                    p.dim,
                ));
                continue;
            };
            let end = cells(d.log_end_offset);
            let start = cells(d.log_start_offset).min(end);
            let hw = cells(
                d.checkpointed_high_watermark
                    .unwrap_or(0)
                    .min(d.log_end_offset),
            )
            .clamp(start, end);
            lines.push(Line::from(vec![
                Span::styled(format!("  b{b} ✖ "), p.bad),
                Span::styled("░".repeat(start as usize), p.dim),
                Span::styled("▓".repeat((hw - start) as usize), p.dim),
                Span::styled("▒".repeat((end - hw) as usize), p.dim),
                Span::styled("·".repeat((strip_width - end).max(0) as usize), p.dim),
                Span::styled(
                    format!(
                        " {}",
                        (p.words.on_disk)(d.log_end_offset, d.checkpointed_high_watermark)
                    ),
                    p.dim,
                ),
            ]));
            continue;
        };
        let role = if r.is_leader { "L" } else { "F" };
        // Each replica's own HW: a follower learns the leader's a fetch later.
        let committed = cells(r.high_watermark.min(r.log_end_offset));
        let written = cells(r.log_end_offset);
        // Offsets retention deleted (below the log start offset) are gone from the disk.
        let deleted = cells(r.log_start_offset).min(committed);
        let mut spans = vec![Span::raw(format!("  b{b} {role} "))];
        spans.push(Span::styled("░".repeat(deleted as usize), p.dim));
        spans.push(Span::styled(
            "█".repeat((committed - deleted) as usize),
            p.good,
        ));
        spans.push(Span::styled(
            "▒".repeat((written - committed).max(0) as usize),
            p.warn,
        ));
        spans.push(Span::styled(
            "·".repeat((strip_width - written).max(0) as usize),
            p.dim,
        ));
        spans.push(Span::raw(format!(
            " LEO {} HW {}",
            r.log_end_offset, r.high_watermark
        )));
        if let Some(f) = leader_state.and_then(|l| l.followers.get(b)) {
            let since = match f.last_caught_up_time_ms {
                Some(t) => format!(
                    "  {}",
                    (p.words.caught_up)(
                        (s.time_ms - t) as f64 / 1000.0,
                        leader_state.map_or(0, |l| l.replica_lag_time_max_ms) / 1000
                    )
                ),
                None => format!("  {}", p.words.never_caught_up),
            };
            let style = if part.isr.contains(b) { p.dim } else { p.warn };
            spans.push(Span::styled(since, style));
        }
        lines.push(Line::from(spans));
    }
    lines
}

fn group_lines<'a>(s: &ClusterSnapshot, width: usize, p: &Palette) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    for (name, g) in &s.groups {
        let lag = g.lag(&s.partitions);
        let total: i64 = lag.values().sum();
        lines.push(Line::from(vec![
            Span::styled(name.clone(), p.title),
            Span::raw(format!(
                "  {} {}  {} b{}  {} {total}",
                p.words.generation, g.generation, p.words.coordinator, g.coordinator, p.words.lag
            )),
        ]));
        let state_style = if g.state == kafkasim_core::group::coordinator::GroupState::Stable {
            p.good
        } else {
            p.warn
        };
        let state = format!(
            "{}: {}",
            g.state,
            kafkasim_sim::narrate::group_state_meaning(g.state, p.lang)
        );
        for (i, line) in wrap(&state, width.saturating_sub(2).max(10))
            .into_iter()
            .enumerate()
        {
            let style = if i == 0 { state_style } else { p.dim };
            lines.push(Line::styled(format!("  {line}"), style));
        }
        if g.members.is_empty() {
            lines.push(Line::styled(format!("  {}", p.words.no_members), p.dim));
        } else {
            lines.push(Line::styled(format!("  {}", p.words.member_legend), p.dim));
        }
        for (member, owned) in &g.members {
            // Its name (client.id), then the start of the UUID Kafka appends to make the
            // member id.
            let name = g
                .client_ids
                .get(member)
                .map_or(member.as_str(), String::as_str);
            let uuid = member
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('-'))
                .unwrap_or("");
            let shown = match uuid.get(..8) {
                Some(start) => format!("{name} ({start}…)"),
                None => name.to_string(),
            };
            lines.push(Line::raw(fit(&format!("  {shown}"), width)));
            let parts: Vec<String> = owned
                .iter()
                .map(|tp| {
                    let committed = g.committed.get(tp).map_or("-".to_string(), i64::to_string);
                    let lag = lag.get(tp).map_or("-".to_string(), i64::to_string);
                    format!("{tp} @{committed} +{lag}")
                })
                .collect();
            // Whole entries per line: a partition and its numbers stay together.
            let mut line = String::new();
            for part in parts {
                if !line.is_empty() && line.width() + 3 + part.width() + 4 > width {
                    lines.push(Line::styled(
                        format!("    {}", std::mem::take(&mut line)),
                        p.good,
                    ));
                }
                if !line.is_empty() {
                    line.push_str("   ");
                }
                line.push_str(&part);
            }
            if !line.is_empty() {
                lines.push(Line::styled(format!("    {line}"), p.good));
            }
        }
    }
    if lines.is_empty() {
        lines.push(Line::styled(p.words.no_groups, p.dim));
    }
    lines
}

/// A node's short name for the space-time columns.
fn short_name(node: kafkasim_core::protocol::NodeId) -> String {
    if node == kafkasim_core::protocol::ZOOKEEPER {
        "zk".to_string()
    } else if node >= kafkasim_core::protocol::FIRST_CLIENT {
        format!("c{node}")
    } else {
        format!("b{node}")
    }
}

/// A space-time (Lamport) diagram of the last messages delivered: one column per node,
/// one row per message from its sender's column to its receiver's, with what it carries
/// (a follower's fetch asks from its LEO; the answer brings the leader's HW back).
fn space_time_lines<'a>(
    model: &Model,
    s: &ClusterSnapshot,
    width: usize,
    height: usize,
    p: &Palette,
) -> Vec<Line<'a>> {
    let noisy = |kind: &str| matches!(kind, "ZkPing" | "Heartbeat" | "HeartbeatResponse");
    let shown: Vec<_> = s
        .network
        .recent
        .iter()
        .filter(|m| model.all_messages || !noisy(m.kind))
        .collect();
    let mut nodes: BTreeSet<kafkasim_core::protocol::NodeId> = s.brokers.keys().copied().collect();
    nodes.extend(shown.iter().flat_map(|m| [m.from, m.to]));
    let nodes: Vec<_> = nodes.into_iter().collect();
    let stamp = 9;
    let lanes = width.saturating_sub(stamp).max(nodes.len());
    let step = (lanes / nodes.len().max(1)).max(1);
    let column = |n| nodes.iter().position(|x| *x == n).unwrap_or(0) * step + step / 2;
    let mut header = " ".repeat(stamp);
    for n in &nodes {
        let name: String = short_name(*n)
            .chars()
            .take(step.saturating_sub(1).max(1))
            .collect();
        let pad = (step / 2).saturating_sub(name.chars().count() / 2);
        let cell = format!("{}{name}", " ".repeat(pad));
        header.push_str(&format!("{cell:<step$}"));
    }
    let mut lines = vec![Line::styled(header, p.title)];
    let rows = height.saturating_sub(1);
    for m in shown.iter().skip(shown.len().saturating_sub(rows)) {
        let mut cells: Vec<char> = vec![' '; lanes];
        for n in &nodes {
            if let Some(c) = cells.get_mut(column(*n)) {
                *c = '│';
            }
        }
        let (from, to) = (column(m.from), column(m.to));
        let (lo, hi) = (from.min(to), from.max(to));
        for c in cells.iter_mut().take(hi).skip(lo) {
            *c = '─';
        }
        if let Some(c) = cells.get_mut(from) {
            *c = '●';
        }
        if let Some(c) = cells.get_mut(to) {
            *c = if to > from { '▶' } else { '◀' };
        }
        let label = if m.detail.is_empty() {
            m.kind.to_string()
        } else {
            format!("{} {}", m.kind, m.detail)
        };
        // The label sits on the arrow when it fits, else past its right end.
        let len = label.chars().count();
        let at = if len + 2 <= hi.saturating_sub(lo + 1) {
            lo + 2
        } else if hi + 2 + len <= lanes {
            hi + 2
        } else if lo >= len + 2 {
            lo - len - 2
        } else {
            lo + 2
        };
        for (i, ch) in label.chars().enumerate() {
            if let Some(c) = cells.get_mut(at + i) {
                *c = ch;
            }
        }
        let text: String = cells.into_iter().collect();
        lines.push(Line::from(vec![
            Span::styled(format!("{:>8} ", seconds(m.deliver_ms)), p.dim),
            Span::raw(text),
        ]));
    }
    lines
}

/// The narration up to the moment on screen, newest at the bottom, wrapped to `width`.
fn event_lines<'a>(
    model: &Model,
    shot: &Shot,
    width: usize,
    height: usize,
    p: &Palette,
) -> Vec<Line<'a>> {
    let entries = &model.trace[..shot.trace_len.min(model.trace.len())];
    let mut lines: Vec<Line> = Vec::new();
    for entry in entries.iter().rev() {
        if lines.len() >= height {
            break;
        }
        use kafkasim_sim::events::Kind;
        if matches!(entry.kind(), Kind::HwAdvance | Kind::HwLower) {
            continue;
        }
        let text = entry.explain_in(model.lang);
        let style = match entry {
            TraceEntry::Caption { .. } => p.caption,
            TraceEntry::Fault { .. } => p.bad,
            TraceEntry::Violation { .. } => p.bad,
            TraceEntry::Note { .. } => p.warn,
            TraceEntry::Event(_) => p.base,
        };
        let stamped = format!("{:>8} {text}", seconds(entry.time_ms()));
        let wrapped = wrap(&stamped, width.max(10));
        for line in wrapped.into_iter().rev() {
            lines.push(Line::styled(line, style));
        }
    }
    lines.truncate(height);
    lines.reverse();
    lines
}

/// Two lines: the run as a bar with faults (▼), lesson beats (◆), violations (✖), the
/// moment on screen (█) and the present (┃); then the scale.
fn timeline_lines<'a>(model: &Model, width: usize, p: &Palette) -> Vec<Line<'a>> {
    let width = width.max(12);
    let duration = model.duration_ms.max(1);
    let column = |t: i64| ((t.clamp(0, duration) * (width as i64 - 1)) / duration) as usize;
    let mut marks: Vec<(char, Style)> = vec![('─', p.dim); width];
    for entry in &model.trace {
        let (mark, style) = match entry {
            TraceEntry::Fault { .. } => ('▼', p.bad),
            TraceEntry::Caption { .. } => ('◆', p.warn),
            TraceEntry::Violation { .. } => ('✖', p.bad),
            TraceEntry::Event(_) | TraceEntry::Note { .. } => continue,
        };
        marks[column(entry.time_ms())] = (mark, style);
    }
    marks[column(model.live_ms())] = ('┃', p.title);
    if let Some(shot) = model.shot() {
        marks[column(shot.time_ms)] = ('█', p.title);
    }
    let bar = Line::from(
        marks
            .into_iter()
            .map(|(c, s)| Span::styled(c.to_string(), s))
            .collect::<Vec<_>>(),
    );
    let end = seconds(duration);
    let used = 2 + end.len() + 2 + p.words.legend.width();
    let legend = format!(
        "0s{}{end}  {}",
        " ".repeat(width.saturating_sub(used)),
        p.words.legend
    );
    vec![bar, Line::styled(fit(&legend, width), p.dim)]
}

/// The keymap in a box, in two columns when one does not fit the height.
fn help(frame: &mut Frame, area: Rect, p: &Palette) {
    let rows = area.height.saturating_sub(2).max(1) as usize;
    let columns = KEYMAP.len().div_ceil(rows).max(1);
    let per_column = KEYMAP.len().div_ceil(columns);
    let column_width = 36;
    let width = (column_width * columns as u16 + 2).min(area.width);
    let height = (per_column as u16 + 2).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let lines: Vec<Line> = (0..per_column)
        .map(|row| {
            let mut spans = Vec::new();
            for column in 0..columns {
                if let Some(b) = KEYMAP.get(column * per_column + row) {
                    let label = b.label(p.lang);
                    let left = " ".repeat(5usize.saturating_sub(label.width()));
                    spans.push(Span::styled(format!(" {left}{label} "), p.title));
                    spans.push(Span::raw(pad(b.desc(p.lang), column_width as usize - 7)));
                }
            }
            Line::from(spans)
        })
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .style(p.base)
            .block(panel(p.words.help, p)),
        popup,
    );
}

/// Greedy wrap to `width` display columns (a CJK character takes two): lines break at
/// spaces, and between wide characters, which need none; a word longer than a line is
/// cut. Every character but the spaces a line breaks at is kept.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(2);
    let mut lines = Vec::new();
    let mut line = String::new();
    // Where the line's last token starts, for a closing mark to take it along.
    let mut last_start = 0;
    let flush = |line: &mut String, lines: &mut Vec<String>| {
        let kept = line.trim_end().to_string();
        if !kept.is_empty() {
            lines.push(kept);
        }
        line.clear();
    };
    for token in tokens(text) {
        if token == " " {
            let used = line.width();
            if used > 0 && used < width {
                line.push(' ');
            }
            continue;
        }
        let token_width = token.width();
        if !line.is_empty() && line.width() + token_width > width {
            // Chinese typesetting: a closing mark (，。：）) never starts a line, so the
            // token before it moves down with it, when that leaves something behind.
            let carried = if no_line_start(token) && last_start > 0 {
                line.split_off(last_start)
            } else {
                String::new()
            };
            flush(&mut line, &mut lines);
            line = carried;
        }
        if line.width() + token_width <= width {
            last_start = line.len();
            line.push_str(token);
            continue;
        }
        for ch in token.chars() {
            if line.width() + ch.width().unwrap_or(0) > width {
                flush(&mut line, &mut lines);
            }
            line.push(ch);
        }
        last_start = 0;
    }
    flush(&mut line, &mut lines);
    lines
}

/// Whether a line may not start with this token: full-width closing punctuation.
fn no_line_start(token: &str) -> bool {
    matches!(
        token,
        "，" | "。" | "：" | "；" | "、" | "！" | "？" | "）" | "」" | "”" | "』" | "】" | "…"
    )
}

/// The units a line may break between: a space, one wide character, or a run of
/// narrow ones (a Latin word, `orders-0`, `[1,2]`).
fn tokens(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (i, ch) in text.char_indices() {
        // Wide characters, and the narrow marks of Chinese text (” …), break alone.
        let wide = ch.width().unwrap_or(0) > 1 || matches!(ch, '”' | '“' | '…');
        if ch == ' ' || wide {
            if let Some(s) = start.take() {
                tokens.push(&text[s..i]);
            }
            tokens.push(&text[i..i + ch.len_utf8()]);
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        tokens.push(&text[s..]);
    }
    tokens
}

/// `text` cut to at most `width` display columns.
fn fit(text: &str, width: usize) -> String {
    pad(text, width).trim_end().to_string()
}

/// `text` padded with spaces to `width` display columns (cut to fit if longer).
fn pad(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w > width {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push_str(&" ".repeat(width - used));
    out
}
