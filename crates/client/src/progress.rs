//! A progress bar and a spinner on stderr — drawn only when stderr is a
//! terminal, so a redirected run (a CI log, a pipe into a file) gets no
//! control characters. Plain text, no dependency.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WIDTH: usize = 28;
/// Redraws at most this often: a terminal is slower than the seeder.
const REDRAW: Duration = Duration::from_millis(80);
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

#[derive(Debug)]
struct State {
    phase: String,
    done: usize,
    total: usize,
    started: Instant,
    drawn: Option<Instant>,
}

/// Shared by the tasks that do the work; each `tick` is one step done.
#[derive(Clone, Debug)]
pub struct Progress {
    draw: bool,
    state: Arc<Mutex<State>>,
}

impl Progress {
    /// Drawn when stderr is a terminal.
    pub fn stderr() -> Progress {
        Progress::new(std::io::stderr().is_terminal())
    }

    /// Never drawn (tests, libraries).
    pub fn hidden() -> Progress {
        Progress::new(false)
    }

    fn new(draw: bool) -> Progress {
        Progress {
            draw,
            state: Arc::new(Mutex::new(State {
                phase: String::new(),
                done: 0,
                total: 0,
                started: Instant::now(),
                drawn: None,
            })),
        }
    }

    /// How many more steps the work has.
    pub fn add(&self, more: usize) {
        let mut s = self.state.lock().expect("progress lock");
        s.total += more;
        self.redraw(&mut s, false);
    }

    /// What is under way now.
    pub fn phase(&self, phase: &str) {
        let mut s = self.state.lock().expect("progress lock");
        s.phase = phase.to_string();
        self.redraw(&mut s, true);
    }

    pub fn tick(&self) {
        let mut s = self.state.lock().expect("progress lock");
        s.done += 1;
        self.redraw(&mut s, false);
    }

    /// A spinner's frame: `what` and the time since the start.
    pub fn spin(&self, what: &str) {
        if !self.draw {
            return;
        }
        let mut s = self.state.lock().expect("progress lock");
        let elapsed = s.started.elapsed();
        let frame = SPINNER[(elapsed.as_millis() / 100) as usize % SPINNER.len()];
        s.drawn = Some(Instant::now());
        eprint!("\r\x1b[2K{frame} {what} {:.1} s", elapsed.as_secs_f64());
        let _ = std::io::stderr().flush();
    }

    /// Clears the line, so what follows starts clean.
    pub fn finish(&self) {
        let s = self.state.lock().expect("progress lock");
        if self.draw && s.drawn.is_some() {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }

    fn redraw(&self, s: &mut State, force: bool) {
        if !self.draw {
            return;
        }
        let now = Instant::now();
        if !force && s.drawn.is_some_and(|d| now - d < REDRAW) && s.done < s.total {
            return;
        }
        s.drawn = Some(now);
        eprint!("\r\x1b[2K{}", bar(s.done, s.total, &s.phase));
        let _ = std::io::stderr().flush();
    }
}

/// `[##########----------]  50%  courses` — the share done, and the step.
pub fn bar(done: usize, total: usize, phase: &str) -> String {
    let total = total.max(1);
    let done = done.min(total);
    let filled = done * WIDTH / total;
    format!(
        "[{}{}] {:>3}%  {phase}",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        done * 100 / total
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_share_done() {
        assert_eq!(bar(0, 4, "x"), format!("[{}]   0%  x", "-".repeat(WIDTH)));
        assert_eq!(
            bar(2, 4, "courses"),
            format!("[{}{}]  50%  courses", "#".repeat(14), "-".repeat(14))
        );
        assert_eq!(bar(9, 4, "x"), format!("[{}] 100%  x", "#".repeat(WIDTH)));
        assert_eq!(bar(0, 0, "x"), format!("[{}]   0%  x", "-".repeat(WIDTH)));
    }
}
