//! Rendering snapshots of every pane at 80x24 (one pane at a time) and 200x50 (all panes).

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::app::{App, AppSetup, Pane, Prompt};
use crate::command::Command;
use crate::demo::demo_app;
use crate::sampler::{HostSample, NvidiaSample, SystemSample};

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| super::draw(f, app)).unwrap();
    t
}

/// Every cell's symbol of a drawn screen, row after row.
fn screen_text(t: &Terminal<TestBackend>) -> String {
    t.backend()
        .buffer()
        .content
        .iter()
        .map(|c| c.symbol())
        .collect()
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
    use crate::sampler::GpuProcess;
    let mut app = demo_app(20);
    let gpu = |index: u32, cuda: Option<usize>, processes: Vec<GpuProcess>| NvidiaSample {
        index,
        cuda,
        uuid: Some(format!("GPU-000{index}")),
        processes,
        name: "NVIDIA H200".into(),
        utilization: Some(87),
        memory_used: Some(12 << 30),
        memory_total: Some(141 << 30),
        temperature: Some(54),
        power_mw: Some(412_000),
        power_limit_mw: Some(700_000),
    };
    // As under Slurm with CUDA_VISIBLE_DEVICES=1: NVML's GPU1 is this process's cuda:0.
    app.on_event(crate::event::AppEvent::System(SystemSample {
        gpus: vec![
            gpu(0, None, Vec::new()),
            gpu(
                1,
                Some(0),
                vec![
                    GpuProcess {
                        pid: std::process::id(),
                        memory: Some(3 << 30),
                    },
                    GpuProcess {
                        pid: 4242,
                        memory: Some(1 << 30),
                    },
                ],
            ),
        ],
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
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("NVIDIA H200"))
        .map(str::trim_end)
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("GPU0 (not visible here)"), "{}", lines[0]);
    assert!(lines[1].contains("cuda:0 (GPU1)"), "{}", lines[1]);
    assert!(
        lines[1].contains("[this lab 3.0 GiB; pid 4242 1.0 GiB]"),
        "{}",
        lines[1]
    );
    insta::assert_snapshot!(lines.join("\n"));
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
                .push(crate::theme::Theme::builtin("light").unwrap());
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

pub(super) fn with_preview(app: &mut App) {
    let key = invlab_engine::data_preview::preview_key(&app.form.config);
    let preview = crate::demo::demo_preview(&app.form.config);
    app.on_event(crate::event::AppEvent::Preview {
        key,
        result: Ok(std::sync::Arc::new(preview)),
    });
}

#[test]
fn data_pane_80x24_and_200x50() {
    let mut app = demo_app(20);
    app.apply(Command::Focus(Pane::Data));
    with_preview(&mut app);
    insta::assert_snapshot!("data_80x24", render(&app, 80, 24).backend());
    // Wide: the data pane takes the live panes' place.
    insta::assert_snapshot!("data_200x50", render(&app, 200, 50).backend());
}

#[test]
fn data_pane_says_what_is_missing() {
    let mut app = demo_app(20);
    app.apply(Command::Focus(Pane::Data));
    let text = format!("{}", render(&app, 80, 24).backend());
    assert!(text.contains("preparing glyphs"), "{text}");
    let key = invlab_engine::data_preview::preview_key(&app.form.config);
    app.on_event(crate::event::AppEvent::Preview {
        key,
        result: Err(crate::error::LabError::from(
            invlab_engine::data_preview::PreviewError::Data(invlab_engine::data::DataError::new(
                "/data/cifar-10",
                "no cifar-10 files found",
            )),
        )),
    });
    let text = format!("{}", render(&app, 80, 24).backend());
    assert!(text.contains("cannot show glyphs"), "{text}");
    assert!(
        text.contains("/data/cifar-10: no cifar-10 files found"),
        "{text}"
    );
}

#[test]
fn data_pane_pictures_are_halfblocks() {
    let mut app = demo_app(20);
    app.apply(Command::Focus(Pane::Data));
    with_preview(&mut app);
    let t = render(&app, 200, 50);
    let buf = t.backend().buffer();
    let blocks = buf.content.iter().filter(|c| c.symbol() == "▀").count();
    // 3 + 3 classes of up to 6 pictures, 8 variants and the size profile, in half-blocks.
    assert!(blocks > 2000, "{blocks} half-block cells");
    let white = buf
        .content
        .iter()
        .filter(|c| {
            c.symbol() == "▀" && matches!(c.fg, ratatui::style::Color::Rgb(r, _, _) if r > 150)
        })
        .count();
    assert!(white > 20, "the pictures' ink shows: {white}");
}

fn click(app: &App, w: u16, h: u16, x: u16, y: u16) -> Vec<Command> {
    use ratatui::crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    app.mouse_commands(
        ratatui::layout::Rect::new(0, 0, w, h),
        MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        },
    )
}

#[test]
fn clicks_focus_panes_and_select_runs() {
    let app = demo_app(20);
    let text = format!("{}", render(&app, 200, 50).backend());
    // The run list's rows (wide layout): find "k49rot-ldam" and click it.
    let row = text
        .lines()
        .position(|l| l.contains("k49rot-ldam ") && l.contains("queued"))
        .unwrap() as u16;
    assert_eq!(
        click(&app, 200, 50, 10, row),
        vec![Command::Focus(Pane::Runs), Command::SelectRun(2)]
    );
    // The header row of the table selects nothing.
    let header = text.lines().position(|l| l.contains("status")).unwrap() as u16;
    assert_eq!(
        click(&app, 200, 50, 10, header),
        vec![Command::Focus(Pane::Runs)]
    );
    // A form field.
    assert_eq!(
        click(&app, 200, 50, 5, 4),
        vec![Command::Focus(Pane::Setup), Command::SelectField(2)]
    );
    // The eKLD pane (bottom right).
    assert_eq!(
        click(&app, 200, 50, 150, 40),
        vec![Command::Focus(Pane::Invariance)]
    );
    // Narrow: the header's tabs switch panes.
    let narrow = format!("{}", render(&app, 80, 24).backend());
    let first = narrow.lines().next().unwrap();
    let x = first.find("Curves").unwrap() as u16 + 1;
    assert_eq!(
        click(&app, 80, 24, x, 0),
        vec![Command::Focus(Pane::Curves)]
    );
    // Nothing while a question is open.
    let mut asking = demo_app(20);
    asking.prompt = Some(Prompt::ConfirmQuit);
    assert!(click(&asking, 200, 50, 10, row).is_empty());
}

#[test]
fn the_wheel_scrolls_the_list_under_it() {
    use ratatui::crossterm::event::{KeyModifiers, MouseEvent, MouseEventKind};
    let app = demo_app(20);
    let wheel = |kind, x, y| {
        app.mouse_commands(
            ratatui::layout::Rect::new(0, 0, 200, 50),
            MouseEvent {
                kind,
                column: x,
                row: y,
                modifiers: KeyModifiers::NONE,
            },
        )
    };
    assert_eq!(
        wheel(MouseEventKind::ScrollDown, 10, 30),
        vec![Command::Focus(Pane::Runs), Command::Down]
    );
    assert_eq!(
        wheel(MouseEventKind::ScrollUp, 10, 5),
        vec![Command::Focus(Pane::Setup), Command::Up]
    );
}

#[test]
fn the_class_cursor_shows_one_class_figures() {
    let mut app = demo_app(20);
    app.focus = Pane::Invariance;
    app.class_cursor = 48;
    let text = format!("{}", render(&app, 200, 50).backend());
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("#49/49"))
        .expect("the cursor's line");
    // The figures may wrap onto a second line.
    let info = format!("{} {}", lines[at], lines[at + 1]);
    assert!(
        info.contains("eKLD 1.656 +- 0.020") && info.contains("accuracy"),
        "{info}"
    );
    assert!(info.contains("g48 (c48) 5 images, few"), "{info}");
}

/// Run 1 in GIT's generator phase: 60 of 200 iterations trained, losses and a sample grid seen.
fn generator_app() -> App {
    use crate::event::AppEvent;
    use invlab_core::generator::Losses;
    use invlab_core::generator::{SampleGrid, SampleRow};
    use invlab_engine::{Event, GeneratorProgress, Phase};
    let mut app = demo_app(0);
    let send = |app: &mut App, event: Event| {
        app.on_event(AppEvent::Run { slot: 1, event });
    };
    send(&mut app, Event::Phase(Phase::Generator));
    let size = 8;
    let grid = SampleGrid {
        channels: 1,
        size,
        rows: (0..3)
            .map(|r| SampleRow {
                label: format!("g{r:02}"),
                images: (0..4)
                    .map(|k| {
                        (0..size * size)
                            .map(|i| {
                                if (i / size + i % size + r + k) % 3 == 0 {
                                    255
                                } else {
                                    20
                                }
                            })
                            .collect()
                    })
                    .collect(),
            })
            .collect(),
    };
    for it in (10..=60).step_by(10) {
        let t = it as f64 / 60.0;
        send(
            &mut app,
            Event::Generator(Box::new(GeneratorProgress {
                key: "demo".into(),
                iteration: it,
                iterations: 200,
                losses: Some(Losses {
                    iteration: it,
                    dis: 0.5 - 0.1 * t,
                    gan: 0.4 + 0.1 * t,
                    recon_x: 0.9 - 0.5 * t,
                    recon_s: 0.6 - 0.3 * t,
                    recon_c: 0.3 - 0.1 * t,
                    ..Default::default()
                }),
                seconds: it as f64 * 0.5,
                started_at: 0,
                from_cache: false,
                samples: (it == 60).then(|| grid.clone()),
            })),
        );
    }
    app.focus = Pane::Curves;
    app
}

#[test]
fn generator_phase_80x24_and_200x50() {
    let app = generator_app();
    let run = &app.runs[1];
    assert_eq!(run.generator_losses.len(), 6);
    assert!(run.generator_samples.is_some());
    let narrow = render(&app, 80, 24);
    let text = screen_text(&narrow);
    assert!(text.contains("iteration 60/200 (30%)  ETA 1:10"), "{text}");
    // One pane at a time: the samples under the losses, in the curves pane.
    assert!(
        text.contains("real, then 3 random styles; rows: g00, g02, g01"),
        "{text}"
    );
    assert!(!text.contains("GIT generator samples"), "{text}");
    insta::assert_snapshot!("generator_80x24", narrow.backend());
    // Every pane: the samples take the eKLD pane's room (no eKLD before epoch 5), the curves
    // pane keeps the losses.
    let wide = render(&app, 200, 50);
    let text = screen_text(&wide);
    assert!(
        text.contains("GIT generator samples: k49rot-drs (eKLD from epoch 5)"),
        "{text}"
    );
    assert_eq!(text.matches("random styles").count(), 1, "{text}");
    insta::assert_snapshot!("generator_200x50", wide.backend());
}

#[test]
fn g_brings_back_the_generator_view_after_the_generator_phase() {
    use crate::command::Command;
    use invlab_engine::Phase;
    let mut app = generator_app();
    app.selected = 1;
    // The classifier phase has begun: its curves take the pane.
    let epoch = app.runs[0].epochs[0].clone();
    app.runs[1].phase = Some(Phase::Training);
    app.runs[1].epochs.push(epoch);
    let text = |app: &App| screen_text(&render(app, 200, 50));
    assert!(!text(&app).contains("generator: iteration"));
    app.apply(Command::ToggleGenerator);
    assert!(text(&app).contains("generator: iteration 60/200"));
    app.apply(Command::ToggleGenerator);
    assert!(!text(&app).contains("generator: iteration"));
}

#[test]
fn a_finished_generator_without_a_stored_grid_points_to_its_png() {
    let mut app = generator_app();
    app.selected = 1;
    let run = &mut app.runs[1];
    run.generator_samples = None;
    let progress = run.generator.as_mut().unwrap();
    progress.iteration = progress.iterations;
    let text = screen_text(&render(&app, 200, 50));
    assert!(text.contains("generator-samples.png"), "{text}");
    assert!(!text.contains("samples appear after"));
}

/// Under NO_COLOR every colour is the terminal's own and the selected run row still shows:
/// reverse video on each of its cells.
#[test]
fn without_color_the_selected_row_shows_in_reverse_video() {
    use ratatui::style::{Color, Modifier};
    assert!(crate::theme::no_color_requested(Some(
        std::ffi::OsStr::new("1")
    )));
    assert!(!crate::theme::no_color_requested(Some(
        std::ffi::OsStr::new("")
    )));
    assert!(!crate::theme::no_color_requested(None));
    let mut app = demo_app(20);
    app.themes = app
        .themes
        .drain(..)
        .map(crate::theme::Theme::without_color)
        .collect();
    app.focus = Pane::Runs;
    let t = render(&app, 80, 24);
    let buf = t.backend().buffer();
    let colored = buf
        .content
        .iter()
        .filter(|c| !matches!(c.fg, Color::Reset) || !matches!(c.bg, Color::Reset))
        .count();
    // Only the hard-coded black-on-colour bar values may carry a colour.
    assert!(colored < 40, "{colored} coloured cells");
    let selected = app.runs[app.selected].name.clone();
    // Below the header (which names the selected run too, beside a reversed tab).
    let row = (1..24)
        .find(|&y| {
            let line: String = (0..80).map(|x| buf[(x, y)].symbol().to_string()).collect();
            line.contains(&selected)
                && (0..80).any(|x| buf[(x, y)].modifier.contains(Modifier::REVERSED))
        })
        .expect("the selected run's row in reverse video");
    let reversed = (0..80)
        .filter(|&x| buf[(x, row)].modifier.contains(Modifier::REVERSED))
        .count();
    assert!(reversed > selected.len(), "{reversed} cells");
}
