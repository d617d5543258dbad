//! `hyperfleet completion bash|zsh|fish`: the shell's completion script for
//! every subcommand and option, generated from the command line's own
//! definition so it never falls behind.

use clap::ValueEnum;

/// The shells `completion` writes for.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Write the script for `shell` to stdout.
pub fn print(shell: Shell, mut command: clap::Command) {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let name = command.get_name().to_string();
    clap_complete::generate(shell, &mut command, name, &mut std::io::stdout());
}
