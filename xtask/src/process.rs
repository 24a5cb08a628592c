//! Running commands as named steps that say how to reproduce a failure.

use anyhow::{Result, bail};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// A `cargo` command in the workspace root, using the cargo that runs this xtask.
pub(crate) fn cargo(root: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root);
    command
}

/// Announces `name`, runs `command` with inherited output, and fails with the command line to
/// reproduce it (environment included) when it does not succeed.
pub(crate) fn step(name: &str, command: &mut Command) -> Result<()> {
    eprintln!("\n==> {name}\n    $ {}", command_line(command));
    let status = command.status();
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => bail!(
            "step `{name}` failed ({status}); reproduce with:\n    {}",
            command_line(command)
        ),
        Err(error) => bail!(
            "step `{name}` could not start ({error}): {}",
            command_line(command)
        ),
    }
}

/// The command as a shell line: environment overrides, program and arguments.
pub(crate) fn command_line(command: &Command) -> String {
    let mut words: Vec<String> = command
        .get_envs()
        .filter_map(|(key, value)| Some(format!("{}={}", key.to_string_lossy(), quote(value?))))
        .collect();
    let program = Path::new(command.get_program());
    let program = if program.is_absolute() && program.file_stem() == Some(OsStr::new("cargo")) {
        OsStr::new("cargo")
    } else {
        program.as_os_str()
    };
    words.push(quote(program));
    words.extend(command.get_args().map(quote));
    words.join(" ")
}

fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:@,".contains(c))
    {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The first line a command prints, or `None` if it cannot run.
pub(crate) fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    output
        .status
        .success()
        .then(|| text.lines().next().unwrap_or("").trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_shows_environment_and_quotes() {
        let mut command = Command::new("/usr/local/bin/cargo");
        command
            .env("RUSTFLAGS", "--cfg stanchion_loom")
            .args(["test", "-p", "a b"]);
        assert_eq!(
            command_line(&command),
            "RUSTFLAGS='--cfg stanchion_loom' cargo test -p 'a b'"
        );
    }
}
