//! The `voip-appliance` daemon.
#![deny(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "voip-appliance", version, about = "Office VoIP appliance")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the appliance daemon.
    Run {
        /// Bootstrap configuration file.
        #[arg(long, default_value = "/etc/voip-appliance/appliance.toml")]
        config: PathBuf,
        /// Site configuration file (overrides the one named in the bootstrap file).
        #[arg(long)]
        site: Option<PathBuf>,
    },
    /// Run the built-in checks (no network, no root) and exit non-zero on failure.
    SelfTest,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::SelfTest => {
            let mut failed = 0usize;
            for check in voip_appliance::selftest::run() {
                match check.result {
                    Ok(detail) => println!("ok   {:<12} {detail}", check.name),
                    Err(reason) => {
                        failed += 1;
                        println!("FAIL {:<12} {reason}", check.name);
                    }
                }
            }
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Run { config, site } => {
            eprintln!(
                "voip-appliance: `run` is not implemented yet (config {}, site {:?})",
                config.display(),
                site
            );
            ExitCode::FAILURE
        }
    }
}
