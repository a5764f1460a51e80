//! Every sentence the terminal UI shows, one table per language: a `Strings` value has a
//! field for each, so a language without one of them does not compile. Chinese follows
//! ../shared/reference/glossary-zh.md. The narrated events come from the simulation
//! (`kafkasim_sim::narrate`), which says the same sentences in `kafkasim run`, `--json`
//! and here.

use kafkasim_sim::lang::Lang;

pub struct Strings {
    pub app: &'static str,
    pub playing: &'static str,
    pub paused: &'static str,
    pub at_end: &'static str,
    pub rewound: &'static str,
    pub waiting: &'static str,
    /// `(seed 5)` after the title.
    pub seed: fn(u64) -> String,

    pub brokers: &'static str,
    pub partitions: &'static str,
    pub partitions_short: &'static str,
    pub groups: &'static str,
    pub events: &'static str,
    pub in_flight: &'static str,
    pub space_time: &'static str,
    pub help: &'static str,
    /// A lesson's caption in the bottom bar.
    pub lesson: fn(&str) -> String,

    pub up: &'static str,
    pub down: &'static str,
    pub paused_node: &'static str,
    pub controller: &'static str,
    pub unregistered: &'static str,
    pub zookeeper: &'static str,
    pub cut_off_from: &'static str,

    pub leader: &'static str,
    pub epoch: &'static str,
    pub isr: &'static str,
    pub osr: &'static str,
    pub offline: &'static str,
    pub under_replicated: &'static str,
    pub no_replica: &'static str,
    /// Acknowledged writes of a partition lost by now: how many, the first and last
    /// offsets they were acknowledged at, and their values.
    pub lost: fn(usize, i64, i64, &str, &str) -> String,
    /// A down broker's replica: the LEO its disk holds and its last HW checkpoint.
    pub on_disk: fn(i64, Option<i64>) -> String,
    /// A follower last caught up `ago` seconds back, with replica.lag.time.max.ms in s.
    pub caught_up: fn(f64, i64) -> String,
    pub never_caught_up: &'static str,
    pub no_partitions: &'static str,

    pub no_groups: &'static str,
    pub generation: &'static str,
    pub coordinator: &'static str,
    pub lag: &'static str,
    pub no_members: &'static str,
    pub member_legend: &'static str,

    pub nothing_in_flight: &'static str,
    /// A message in flight: when it was sent and when it arrives.
    pub sent_due: fn(&str, &str) -> String,
    /// What the timeline's marks mean.
    pub legend: &'static str,

    pub saved: fn(&str) -> String,
    pub save_failed: fn(&str) -> String,
    pub forked: fn(f64) -> String,
    pub injected: fn(&str) -> String,
    pub select_first: fn(&str) -> String,
    pub no_consumer: &'static str,
    pub cannot_add: fn(&str) -> String,
    pub no_record_template: &'static str,
    pub no_consumer_template: &'static str,
    pub simulation_failed: fn(&str) -> String,
    pub language_switched: &'static str,
    pub no_terminal: &'static str,
}

pub const EN: Strings = Strings {
    app: "kafkasim",
    playing: "playing",
    paused: "paused",
    at_end: "end of scenario",
    rewound: "rewound",
    waiting: "simulating…",
    seed: |seed| format!(" (seed {seed})"),

    brokers: "Brokers and network",
    partitions: "Partitions: each replica's log (░ deleted, █ below its HW, ▒ above, LEO at the end; ✖ a down broker's disk, ▓ to its HW checkpoint)",
    partitions_short: "Partitions",
    groups: "Consumer groups",
    events: "What happened",
    in_flight: "Messages in flight",
    space_time: "Messages between nodes, newest last (m: all)",
    help: "Keys",
    lesson: |caption| format!("LESSON: {caption}"),

    up: "up",
    down: "down",
    paused_node: "paused",
    controller: "controller",
    unregistered: "not registered",
    zookeeper: "ZooKeeper",
    cut_off_from: "cannot reach",

    leader: "leader",
    epoch: "epoch",
    isr: "ISR",
    osr: "OSR",
    offline: "OFFLINE: no leader",
    under_replicated: "under-replicated",
    no_replica: "down: no replica to show",
    lost: |n, from, to, first, last| match n {
        1 => format!("✗ LOST: {first}, acknowledged at offset {from}, is gone"),
        _ => format!(
            "✗ LOST: {n} acknowledged records ({first}…{last}, offsets {from}..{to}) are gone"
        ),
    },
    on_disk: |leo, hw| match hw {
        Some(hw) => format!("down: its disk holds LEO {leo}, HW checkpoint {hw}"),
        None => format!("down: its disk holds LEO {leo}"),
    },
    caught_up: |ago, max| format!("caught up {ago:.1}s ago (max {max}s)"),
    never_caught_up: "never caught up",
    no_partitions: "No topics yet.",

    no_groups: "No consumer groups.",
    generation: "generation",
    coordinator: "coordinator",
    lag: "lag",
    no_members: "no members",
    member_legend: "each member: partition @committed offset +lag",

    nothing_in_flight: "nothing in flight",
    sent_due: |sent, due| format!("sent {sent}, due {due}"),
    legend: "(▼ fault ◆ lesson ✖ violation █ on screen ┃ now)",

    saved: |path| format!("saved the session as {path}: kafkasim run {path} replays it"),
    save_failed: |why| format!("could not save the session: {why}"),
    forked: |at_s| {
        format!(
            "forked the timeline at {at_s:.3}s: the future is simulated again with the new fault"
        )
    },
    injected: |what| format!("injected: {what}"),
    select_first: |what| format!("{what}: select a broker first (keys 1-9)"),
    no_consumer: "no consumer to act on: this scenario starts none (a adds one if it has a [[consumers]] table)",
    cannot_add: |why| format!("cannot start the client: {why}"),
    no_record_template: "cannot add a record: the scenario has no table to copy it from",
    no_consumer_template: "cannot add a consumer: the scenario has no table to copy it from",
    simulation_failed: |why| format!("the simulation stopped: {why}"),
    language_switched: "English (L: 中文)",
    no_terminal: "kafkasim: no terminal here (output is not a TTY); running the lesson headless instead.\n",
};

// glossary-zh.md: Latin for Kafka's terms (broker, leader, epoch, ISR, HW, LEO, lag…),
// no space between Han characters and Latin or digits, 挂起 for a node, 暂停 for playback.
pub const ZH_CN: Strings = Strings {
    app: "kafkasim",
    playing: "播放中",
    paused: "已暂停",
    at_end: "场景结束",
    rewound: "已回退",
    waiting: "模拟中…",
    seed: |seed| format!("（种子{seed}）"),

    brokers: "broker与网络",
    partitions: "分区：每个副本的日志（░ 已删除，█ HW以下，▒ HW以上，末端为LEO；✖ 宕机broker的磁盘，▓ 到其HW checkpoint）",
    partitions_short: "分区",
    groups: "消费组",
    events: "发生了什么",
    in_flight: "传输中的网络消息",
    space_time: "节点间的网络消息，最新的在最后（m：全部）",
    help: "按键",
    lesson: |caption| format!("【讲解】{caption}"),

    up: "在线",
    down: "宕机",
    paused_node: "已挂起",
    controller: "controller",
    unregistered: "未注册",
    zookeeper: "ZooKeeper",
    cut_off_from: "无法连通",

    leader: "leader",
    epoch: "epoch",
    isr: "ISR",
    osr: "OSR",
    offline: "离线：无leader",
    under_replicated: "副本不足",
    no_replica: "宕机：无副本可显示",
    lost: |n, from, to, first, last| match n {
        1 => format!("✗ 丢失：在offset {from}确认的{first}已不在"),
        _ => format!("✗ 丢失：{n}条已确认的消息（{first}…{last}，offset {from}..{to}）已不在"),
    },
    on_disk: |leo, hw| match hw {
        Some(hw) => format!("宕机：磁盘上LEO {leo}，HW checkpoint {hw}"),
        None => format!("宕机：磁盘上LEO {leo}"),
    },
    caught_up: |ago, max| format!("{ago:.1}s前追上（上限{max}s）"),
    never_caught_up: "从未追上",
    no_partitions: "还没有topic。",

    no_groups: "还没有消费组。",
    generation: "generation",
    coordinator: "协调者",
    lag: "lag",
    no_members: "没有成员",
    member_legend: "每个成员：分区 @已提交的offset +lag",

    nothing_in_flight: "没有传输中的网络消息",
    sent_due: |sent, due| format!("{sent}发出，{due}到达"),
    legend: "（▼ 故障 ◆ 讲解 ✖ 不变量被破坏 █ 当前画面 ┃ 现在）",

    saved: |path| format!("会话已保存为{path}：kafkasim run {path}可重放"),
    save_failed: |why| format!("无法保存会话：{why}"),
    forked: |at_s| format!("已在{at_s:.3}s处分叉时间线：带着新故障重新模拟之后的过程"),
    injected: |what| format!("已注入：{what}"),
    select_first: |what| format!("{what}：请先选择一个broker（按键1-9）"),
    no_consumer: "没有可操作的消费者：该场景没有启动消费者（若它有[[consumers]]表，按a可添加一个）",
    cannot_add: |why| format!("无法启动客户端：{why}"),
    no_record_template: "无法写入消息：场景中没有可复制的生产者表",
    no_consumer_template: "无法添加消费者：场景中没有可复制的消费者表",
    simulation_failed: |why| format!("模拟已停止：{why}"),
    language_switched: "中文（L：English）",
    no_terminal: "kafkasim：这里没有终端（输出不是TTY），改为无界面运行本课。\n",
};

pub fn of(lang: Lang) -> &'static Strings {
    match lang {
        Lang::En => &EN,
        Lang::ZhCn => &ZH_CN,
    }
}
