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
    /// Call recordings.
    Recording {
        #[command(subcommand)]
        command: RecordingCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RecordingCommand {
    /// Decrypt an encrypted recording (`*.enc`) into the Ogg/Opus or WAV file
    /// it holds; fails, writing nothing, if the file was altered or cut.
    Decrypt {
        /// Secrets file holding `[recording] key`.
        #[arg(long, default_value = "/etc/voip-appliance/secrets.toml")]
        secrets: PathBuf,
        /// The encrypted recording.
        input: PathBuf,
        /// The file to write (must not exist).
        output: PathBuf,
    },
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
        Command::Run { config, site } => run(&config, site.as_deref()),
        Command::Recording {
            command:
                RecordingCommand::Decrypt {
                    secrets,
                    input,
                    output,
                },
        } => decrypt(&secrets, &input, &output),
    }
}

fn decrypt(
    secrets: &std::path::Path,
    input: &std::path::Path,
    output: &std::path::Path,
) -> ExitCode {
    use voip_appliance::recording::{decrypt::decrypt_file, seal::RecordingKey};
    let secrets = match voip_appliance::secrets::load(secrets) {
        Ok(s) => s,
        Err(error) => {
            eprintln!("voip-appliance: {error}");
            return ExitCode::FAILURE;
        }
    };
    let Some(key) = secrets
        .recording_key()
        .and_then(|k| RecordingKey::from_hex(k).ok())
    else {
        eprintln!(
            "voip-appliance: the secrets file has no valid [recording] key (64 hexadecimal digits)"
        );
        return ExitCode::FAILURE;
    };
    match decrypt_file(&key, input, output) {
        Ok(format) => {
            println!(
                "decrypted {} ({format:?}) to {}",
                input.display(),
                output.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("voip-appliance: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: &std::path::Path, site: Option<&std::path::Path>) -> ExitCode {
    let loaded = match voip_appliance::daemon::load(config, site) {
        Ok(loaded) => loaded,
        Err(error) => {
            report_start_error(&error);
            return ExitCode::FAILURE;
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(loaded.bootstrap.log_level.as_str())
    });
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("voip-appliance: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(voip_appliance::daemon::run(loaded, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report_start_error(&error);
            ExitCode::FAILURE
        }
    }
}

/// Prints a start error in English, listing every configuration problem.
fn report_start_error(error: &voip_appliance::daemon::StartError) {
    use voip_appliance::config::LoadError;
    use voip_appliance::daemon::StartError;
    eprintln!("voip-appliance: {error}");
    let problems = match error {
        StartError::SiteInvalid { source, .. }
        | StartError::Bootstrap(LoadError::Invalid { source, .. }) => &source.problems,
        _ => return,
    };
    for problem in problems {
        eprintln!("  {}: {}", problem.path, problem.message_en);
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown requested");
}
