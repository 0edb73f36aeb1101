//! GPU utilisation, memory, temperature and power (NVML); without an NVIDIA GPU, one line
//! saying so, with CPU utilisation and this process's memory. GPUs are named as the runs name
//! them (`cuda:N` under this process's `CUDA_VISIBLE_DEVICES`, NVML's index beside it), with
//! the runs on each and each process's GPU memory.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;

use crate::app::{App, RunStatus};
use crate::sampler::NvidiaSample;

/// Who is on a GPU: this lab's active runs on its CUDA ordinal, other processes' runs by the
/// pids NVML lists on it, and each process's memory.
fn occupants(app: &App, g: &NvidiaSample) -> String {
    let me = std::process::id();
    let mut names: Vec<String> = Vec::new();
    if let Some(n) = g.cuda {
        let device = format!("cuda:{n}");
        names.extend(
            app.runs
                .iter()
                .filter(|r| r.status.is_active())
                .filter(|r| r.info.as_ref().is_some_and(|i| i.device == device))
                .map(|r| r.short_name().0.to_string()),
        );
    }
    let mut memory: Vec<String> = Vec::new();
    for p in &g.processes {
        let theirs: Vec<String> = app
            .runs
            .iter()
            .filter(
                |r| matches!(r.status, RunStatus::Elsewhere { pid: Some(pid), .. } if pid == p.pid),
            )
            .map(|r| r.short_name().0.to_string())
            .collect();
        let who = if p.pid == me {
            "this lab".to_string()
        } else if theirs.is_empty() {
            format!("pid {}", p.pid)
        } else {
            format!("pid {} ({})", p.pid, theirs.join(", "))
        };
        names.extend(theirs);
        memory.push(match p.memory {
            Some(bytes) => format!("{who} {} GiB", gib(bytes)),
            None => format!("{who} n/a"),
        });
    }
    let mut text = String::new();
    if !names.is_empty() {
        text += &format!("  runs: {}", names.join(", "));
    }
    if !memory.is_empty() {
        text += &format!("  [{}]", memory.join("; "));
    }
    text
}

fn gib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1u64 << 30) as f64)
}

fn opt<T: std::fmt::Display>(v: Option<T>, unit: &str) -> String {
    v.map(|x| format!("{x}{unit}"))
        .unwrap_or_else(|| "n/a".into())
}

/// One line of the pane, as text: what `render_system` draws, computed from `&App`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SystemLine {
    /// No sample yet.
    Sampling,
    Gpu {
        label: String,
        name: String,
        utilization: String,
        memory: String,
        temperature: String,
        power: String,
        occupants: String,
    },
    /// No NVIDIA GPU: the CPU and this process's memory, and why there is no GPU reading.
    NoGpu {
        cpu: String,
        memory: String,
        reason: String,
    },
}

/// The system pane's view: its lines and the utilisation sparkline (GPU, else CPU).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SystemView {
    pub lines: Vec<SystemLine>,
    pub spark_label: &'static str,
    pub utilization: Vec<u64>,
}

impl SystemView {
    pub(crate) fn build(app: &App) -> SystemView {
        let lines = match &app.system {
            None => vec![SystemLine::Sampling],
            Some(s) if !s.gpus.is_empty() => s.gpus.iter().map(|g| gpu_line(app, g)).collect(),
            Some(s) => vec![SystemLine::NoGpu {
                cpu: format!("{:.0}% of {} cores", s.host.cpu_percent, s.host.cores),
                memory: format!(
                    "{}/{} GiB",
                    gib(s.host.process_memory),
                    gib(s.host.total_memory)
                ),
                reason: s
                    .no_gpu_reason
                    .clone()
                    .unwrap_or_else(|| "no driver".into()),
            }],
        };
        let on_gpu = app.system.as_ref().is_some_and(|s| !s.gpus.is_empty());
        SystemView {
            lines,
            spark_label: if on_gpu { " GPU util" } else { " CPU util" },
            utilization: app.utilization.iter().copied().collect(),
        }
    }
}

fn gpu_line(app: &App, g: &NvidiaSample) -> SystemLine {
    let memory = match (g.memory_used, g.memory_total) {
        (Some(u), Some(t)) => format!("{}/{} GiB", gib(u), gib(t)),
        _ => "n/a".into(),
    };
    let power = match (g.power_mw, g.power_limit_mw) {
        (Some(p), Some(l)) => format!("{:.0}/{:.0} W", p as f64 / 1000.0, l as f64 / 1000.0),
        (Some(p), None) => format!("{:.0} W", p as f64 / 1000.0),
        _ => "n/a".into(),
    };
    let label = match g.cuda {
        Some(n) if n as u32 == g.index => format!(" cuda:{n} "),
        Some(n) => format!(" cuda:{n} (GPU{}) ", g.index),
        None => format!(" GPU{} (not visible here) ", g.index),
    };
    SystemLine::Gpu {
        label,
        name: g.name.clone(),
        utilization: g
            .utilization
            .map(|u| format!("{u:>3}%"))
            .unwrap_or_else(|| "n/a (MIG?)".into()),
        memory,
        temperature: opt(g.temperature, " C"),
        power,
        occupants: occupants(app, g),
    }
}

pub(crate) fn render_system(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let view = SystemView::build(app);
    let lines: Vec<Line> = view
        .lines
        .iter()
        .map(|line| match line {
            SystemLine::Sampling => Line::from(Span::styled(" sampling GPU / CPU...", theme.dim())),
            SystemLine::Gpu {
                label,
                name,
                utilization,
                memory,
                temperature,
                power,
                occupants,
            } => Line::from(vec![
                Span::styled(label.clone(), theme.accent()),
                Span::styled(format!("{name}  "), theme.dim()),
                Span::styled("util ", theme.dim()),
                Span::styled(utilization.clone(), theme.base()),
                Span::styled("  mem ", theme.dim()),
                Span::styled(memory.clone(), theme.base()),
                Span::styled("  temp ", theme.dim()),
                Span::styled(temperature.clone(), theme.base()),
                Span::styled("  power ", theme.dim()),
                Span::styled(power.clone(), theme.base()),
                Span::styled(occupants.clone(), theme.dim()),
            ]),
            SystemLine::NoGpu {
                cpu,
                memory,
                reason,
            } => Line::from(vec![
                Span::styled(" no NVIDIA GPU", Style::default().fg(theme.colors.warn)),
                Span::styled("  CPU ", theme.dim()),
                Span::styled(cpu.clone(), theme.base()),
                Span::styled("  invlab mem ", theme.dim()),
                Span::styled(memory.clone(), theme.base()),
                Span::styled(format!("  ({reason})"), theme.dim()),
            ]),
        })
        .collect();
    if area.height <= 1 {
        frame.render_widget(
            Paragraph::new(lines.into_iter().next().unwrap_or_default()),
            area,
        );
        return;
    }
    let [text, spark] = Layout::vertical([
        Constraint::Length(lines.len().min(area.height as usize - 1) as u16),
        Constraint::Min(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(lines), text);
    let start = view
        .utilization
        .len()
        .saturating_sub(spark.width.saturating_sub(13) as usize);
    let [label, bars] =
        Layout::horizontal([Constraint::Length(13), Constraint::Min(1)]).areas(spark);
    frame.render_widget(
        Paragraph::new(Span::styled(view.spark_label, theme.dim())),
        label,
    );
    frame.render_widget(
        Sparkline::default()
            .data(&view.utilization[start..])
            .max(100)
            .style(Style::default().fg(theme.colors.accent)),
        bars,
    );
}
