//! Rendering snapshots of every pane at 80x24 (one pane at a time) and 200x50 (all panes).

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::tui::app::{App, AppSetup, Pane, Prompt};
use crate::tui::command::Command;
use crate::tui::fixtures::demo_app;
use crate::tui::gpu::{GpuSample, HostSample, NvidiaSample};

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| super::draw(f, app)).unwrap();
    t
}

fn narrow(focus: Pane) -> Terminal<TestBackend> {
    let mut app = demo_app(20);
    app.focus = focus;
    render(&app, 80, 24)
}

#[test]
fn setup_80x24() {
    insta::assert_snapshot!(narrow(Pane::Setup).backend());
}

#[test]
fn runs_80x24() {
    insta::assert_snapshot!(narrow(Pane::Runs).backend());
}

#[test]
fn curves_80x24() {
    insta::assert_snapshot!(narrow(Pane::Curves).backend());
}

#[test]
fn classes_80x24() {
    insta::assert_snapshot!(narrow(Pane::Classes).backend());
}

#[test]
fn invariance_80x24() {
    insta::assert_snapshot!(narrow(Pane::Invariance).backend());
}

#[test]
fn all_panes_200x50() {
    insta::assert_snapshot!(render(&demo_app(20), 200, 50).backend());
}

#[test]
fn compare_200x50() {
    let mut app = demo_app(20);
    app.runs[0].marked = true;
    app.runs[1].marked = true;
    app.apply(Command::Compare);
    assert!(app.compare);
    insta::assert_snapshot!(render(&app, 200, 50).backend());
}

#[test]
fn consistency_80x24() {
    let mut app = demo_app(20);
    app.focus = Pane::Invariance;
    app.apply(Command::ToggleMetric);
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn help_80x24_and_200x50() {
    let mut app = demo_app(20);
    app.apply(Command::ToggleHelp);
    insta::assert_snapshot!("help_80x24", render(&app, 80, 24).backend());
    insta::assert_snapshot!("help_200x50", render(&app, 200, 50).backend());
}

#[test]
fn stop_prompt_80x24() {
    let mut app = demo_app(20);
    app.prompt = Some(Prompt::ConfirmStop(1));
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn fresh_start_200x50() {
    // First start: no history, no sample yet.
    let app = App::new(AppSetup::plain("/tmp/none".into()));
    insta::assert_snapshot!(render(&app, 200, 50).backend());
}

#[test]
fn gpu_line_200x50() {
    let mut app = demo_app(20);
    app.on_event(crate::tui::event::AppEvent::Gpu(GpuSample {
        gpus: vec![NvidiaSample {
            index: 0,
            name: "NVIDIA H200".into(),
            utilization: Some(87),
            memory_used: Some(12 << 30),
            memory_total: Some(141 << 30),
            temperature: Some(54),
            power_mw: Some(412_000),
            power_limit_mw: Some(700_000),
        }],
        no_gpu_reason: None,
        host: HostSample {
            cpu_percent: 12.0,
            cores: 16,
            process_memory: 2 << 30,
            total_memory: 128 << 30,
        },
    }));
    let t = render(&app, 200, 50);
    let text = format!("{}", t.backend());
    let line = text
        .lines()
        .find(|l| l.contains("GPU0"))
        .expect("a GPU line");
    insta::assert_snapshot!(line.trim_end());
}

#[test]
fn tiny_terminal_does_not_panic() {
    let app = demo_app(3);
    for (w, h) in [(20, 5), (40, 10), (1, 1), (119, 29), (120, 30)] {
        render(&app, w, h);
    }
}

#[test]
fn light_theme_paints_every_cell() {
    let mut app = demo_app(20);
    app.theme = app
        .themes
        .iter()
        .position(|t| t.name == "light")
        .unwrap_or_else(|| {
            app.themes
                .push(crate::tui::theme::Theme::builtin("light").unwrap());
            app.themes.len() - 1
        });
    let bg = app.theme().colors.bg;
    for (w, h) in [(80, 24), (200, 50)] {
        let t = render(&app, w, h);
        let buf = t.backend().buffer();
        for y in 0..h {
            for x in 0..w {
                let cell = &buf[(x, y)];
                assert!(
                    cell.bg == bg || cell.bg != ratatui::style::Color::Reset,
                    "cell ({x},{y}) {:?} has no background at {w}x{h}",
                    cell.symbol()
                );
            }
        }
    }
}
