//! The terminal: raw mode and the alternate screen, restored on every exit (a panic
//! included), and the loop that turns keys and ticks into messages.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyEventKind};

use kafkasim_sim::scenario::Scenario;

use super::keymap::action_for;
use super::view::view;
use super::{App, Msg, TICK_WALL_MS, strings};
use kafkasim_sim::lang::Lang;

/// Opens the UI on `scenario`, or, without a terminal, says so and returns false so the
/// caller runs it headless.
pub fn run_tui(
    scenario: &Scenario,
    name: &str,
    text: &str,
    seed: u64,
    lang: Lang,
) -> Result<bool, String> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        eprint!("{}", strings::of(lang).no_terminal);
        return Ok(false);
    }
    let mut app = App::start(scenario, name, text, seed);
    app.model.lang = lang;
    app.settle();
    // ratatui::init sets a panic hook that restores the terminal before the message.
    let mut terminal = ratatui::init();
    let result = event_loop(&mut app, &mut terminal);
    ratatui::restore();
    result.map(|()| true)
}

fn event_loop(app: &mut App, terminal: &mut ratatui::DefaultTerminal) -> Result<(), String> {
    let tick = Duration::from_millis(TICK_WALL_MS as u64);
    let mut last_tick = Instant::now();
    while !app.model.quit {
        app.poll_reports();
        terminal
            .draw(|frame| view(&app.model, frame))
            .map_err(|e| e.to_string())?;
        let timeout = tick.saturating_sub(last_tick.elapsed());
        if event::poll(timeout).map_err(|e| e.to_string())?
            && let Event::Key(key) = event::read().map_err(|e| e.to_string())?
            && key.kind == KeyEventKind::Press
            && let Some(action) = action_for(key)
        {
            app.handle(Msg::Key(action));
        }
        if last_tick.elapsed() >= tick {
            app.handle(Msg::Tick);
            last_tick = Instant::now();
        }
    }
    Ok(())
}
