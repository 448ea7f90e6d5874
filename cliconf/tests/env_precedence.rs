//! The environment between flags and the file. One test in this binary:
//! it sets variables, which must not race with other tests' threads.

mod common;

use std::time::Duration;

use cliconf::parse_from;
use common::{Opts, arg, write};

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let path = write(
        "env",
        "level = 2\nwindow = \"2m\"\nport = [5080]\nnode = \"from-file\"\n",
    );
    // SAFETY: the only test of this binary, so no other thread reads the
    // environment while it changes.
    unsafe {
        std::env::set_var("CLICONF_TEST_LEVEL", "3");
        std::env::set_var("CLICONF_TEST_WINDOW", "45");
        std::env::set_var("CLICONF_TEST_CONFIG", &path);
    }
    let o: Opts = parse_from(["opts", "--level", "4"]).expect("parse");
    assert_eq!(o.level, 4, "flag over env and file");
    assert_eq!(o.window, Duration::from_secs(45), "env over file");
    assert_eq!(
        o.port,
        [5080],
        "file over default (the file named by the env)"
    );
    assert_eq!(o.node.as_deref(), Some("from-file"));
    assert!(o.label, "default where nothing else says");
    let o: Opts = parse_from(["opts", "--config", arg(&write("env-flag", "level = 8\n"))])
        .expect("flag names the file");
    assert_eq!(o.level, 3, "env over the file named by the flag");
    assert_eq!(o.port, [5060], "the flag's file replaces the env's");
}
