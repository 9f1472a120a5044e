//! What the end-to-end tests share: the `acrylic` binary under test,
//! running a command to completion and judging how it went ([`Ran`]), the
//! CLI signed in as the bootstrap owner, and finding the external clients
//! (skopeo, podman, ctr) that `ACRYLIC_REQUIRE_CLIENTS=1` makes mandatory.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use acrylic_testkit::spawned::SpawnedServer;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

pub fn acrylic_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_acrylic"))
}

/// What a finished command printed.
pub struct Ran {
    pub success: bool,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// The command line, for messages.
    pub what: String,
}

impl Ran {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Panics unless the command succeeded.
    pub fn ok(self) -> Ran {
        assert!(
            self.success,
            "`{}` failed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.stdout(),
            self.stderr
        );
        self
    }

    /// Panics unless the command failed; returns stdout + stderr.
    pub fn fails(self) -> String {
        assert!(
            !self.success,
            "`{}` succeeded but must fail\n{}{}",
            self.what,
            self.stdout(),
            self.stderr
        );
        format!("{}{}", self.stdout(), self.stderr)
    }

    /// Panics unless the CLI failed with an `ERROR: ` line in stderr;
    /// returns stderr.
    pub fn refused(self) -> String {
        assert!(
            !self.success,
            "`{}` succeeded but must fail:\n{}",
            self.what,
            self.stdout()
        );
        assert!(self.stderr.contains("ERROR: "), "{}", self.stderr);
        self.stderr
    }

    /// Panics unless the CLI failed with `needle` in stderr, which starts
    /// with `ERROR: `, and printed nothing on stdout.
    pub fn fails_with(self, needle: &str) -> Ran {
        assert!(
            !self.success,
            "`{}` succeeded but should fail:\n{}",
            self.what,
            self.stdout()
        );
        assert!(
            self.stderr.contains(needle),
            "`{}`: stderr does not contain {needle:?}:\n{}",
            self.what,
            self.stderr
        );
        assert!(self.stderr.starts_with("ERROR: "), "{}", self.stderr);
        assert!(self.stdout.is_empty(), "{}", self.stdout());
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("`{}` printed no JSON ({e}): {}", self.what, self.stdout()))
    }

    /// The JSON printed, or `null` when nothing was.
    pub fn json_or_null(&self) -> Value {
        if self.stdout().trim().is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }
}

/// Runs `cmd` to completion with `stdin` as its input (none: an empty
/// stdin), capturing its output.
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Ran {
    let what = format!("{cmd:?}").replace('"', "");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting `{what}`: {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A command that fails before reading stdin closes it: not an error.
        if let Err(e) = pipe.write_all(input.as_bytes())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            panic!("writing stdin of `{what}`: {e}");
        }
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for `{what}`: {e}"));
    Ran {
        success: out.status.success(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        what,
    }
}

/// `acrylic <args>` against `server`.
pub fn acrylic(server: &SpawnedServer, args: &[&str]) -> Ran {
    run(server.cli(args), None)
}

/// `acrylic login --username <username> --password-stdin`.
pub fn login(server: &SpawnedServer, username: &str, password: &str) -> Ran {
    run(
        server.cli(["login", "--username", username, "--password-stdin"]),
        Some(&format!("{password}\n")),
    )
}

/// Signs the bootstrap owner in with the CLI.
pub fn owner_login(server: &SpawnedServer) {
    login(
        server,
        &server.bootstrap_str("username"),
        &server.bootstrap_str("password"),
    )
    .ok();
}

/// A JWT's payload, unverified.
pub fn jwt_payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// Whether a missing client fails the test (`scripts/test` sets it).
pub fn clients_required() -> bool {
    std::env::var("ACRYLIC_REQUIRE_CLIENTS").is_ok_and(|v| v == "1")
}

/// The path of client `name`, or `None` (test skipped) when it is missing
/// and `ACRYLIC_REQUIRE_CLIENTS` is not `1`.
pub fn find_client(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if clients_required() {
            panic!(
                "{name} is not installed and ACRYLIC_REQUIRE_CLIENTS=1 (scripts/test installs it)"
            );
        }
        eprintln!(
            "skipped: {name} is not installed (scripts/test installs it; ACRYLIC_REQUIRE_CLIENTS=1 makes this fail)"
        );
    }
    found
}
