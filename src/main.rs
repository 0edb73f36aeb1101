//! The `invlab` binary: parse the command line, then hand over to a front end.

use clap::Parser;
use invlab::cli::{Cli, Command};
use invlab::{batch, paths};

fn main() {
    if let Err(e) = color_eyre::install() {
        eprintln!("invlab: {e}");
    }
    let cli = Cli::parse();
    // Load CUDA (when installed) before libtorch is first used, so `auto` can find a GPU.
    invlab::device::load_cuda_backend();
    let code = match &cli.command {
        Some(Command::Data { root }) => {
            eprintln!("invlab data: real dataset readers are not built into this version yet (root {root:?})");
            batch::EXIT_USAGE
        }
        None => {
            let Some(runs_dir) = cli.out.clone().or_else(paths::runs_dir) else {
                eprintln!("invlab: no data directory is known on this system; pass --out DIR");
                std::process::exit(batch::EXIT_USAGE);
            };
            // Until the interactive lab lands, no-argument runs use the default config headless.
            let mut cli = cli;
            if !cli.batch && cli.configs.is_empty() && cli.resume.is_none() {
                cli.configs.push("configs/default.toml".into());
            }
            batch::main(&cli, &runs_dir)
        }
    };
    std::process::exit(code);
}
