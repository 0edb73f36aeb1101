//! Minimal entry point until the full command line lands: `invlab` opens the TUI.
//! Options: `--theme NAME`, `--config FILE`, `--runs-dir DIR`.

fn main() -> color_eyre::Result<()> {
    let mut options = invlab::tui::TuiOptions::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| color_eyre::eyre::eyre!("{name} needs a value"))
        };
        match arg.as_str() {
            "--theme" => options.theme = Some(value("--theme")?),
            "--config" => options.config = Some(value("--config")?.into()),
            "--runs-dir" => options.runs_dir = value("--runs-dir")?.into(),
            "-h" | "--help" => {
                println!("usage: invlab [--theme NAME] [--config FILE] [--runs-dir DIR]");
                return Ok(());
            }
            other => color_eyre::eyre::bail!("unknown argument {other:?} (try --help)"),
        }
    }
    invlab::tui::run(options)
}
