//! Files, flags and defaults (no environment: see `env_precedence.rs`).

mod common;

use std::time::Duration;

use cliconf::{ConfigError, parse_from};
use common::{Mode, Opts, RunArgs, Tool, ToolCommand, arg, write};

fn run_args(tool: Tool) -> RunArgs {
    match tool.command {
        ToolCommand::Run(args) => *args,
        ToolCommand::Other { .. } => panic!("not run"),
    }
}

#[test]
fn without_a_file_the_defaults_and_flags_apply() {
    let o: Opts = parse_from(["opts", "--level", "4"]).expect("parse");
    assert_eq!(o.level, 4);
    assert_eq!(o.window, Duration::from_secs(30));
    assert_eq!(o.port, [5060]);
    assert!(!o.xdp);
    assert!(o.label);
    assert_eq!(o.mode, Mode::Auto);
    assert_eq!(o.node, None);
}

#[test]
fn the_file_beats_defaults_and_flags_beat_the_file() {
    let path = write(
        "flags",
        "level = 7\nwindow = \"2m\"\nmode = \"manual\"\nnode = \"n1\"\n",
    );
    let o: Opts = parse_from(["opts", "--config", arg(&path), "--level", "9"]).expect("parse");
    assert_eq!(o.level, 9, "the flag wins over the file");
    assert_eq!(
        o.window,
        Duration::from_secs(120),
        "the file wins over the default"
    );
    assert_eq!(o.mode, Mode::Manual);
    assert_eq!(o.node.as_deref(), Some("n1"));
    assert_eq!(
        o.port,
        [5060],
        "keys the file leaves out keep their defaults"
    );
}

#[test]
fn durations_in_every_form() {
    for (text, want) in [
        ("30", Duration::from_secs(30)),
        ("\"30\"", Duration::from_secs(30)),
        ("\"30s\"", Duration::from_secs(30)),
        ("\"1m\"", Duration::from_secs(60)),
        ("\"800ms\"", Duration::from_millis(800)),
    ] {
        let path = write("dur", &format!("window = {text}\n"));
        let o: Opts = parse_from(["opts", "--config", arg(&path)]).expect(text);
        assert_eq!(o.window, want, "file {text}");
    }
    for (text, want) in [
        ("30", Duration::from_secs(30)),
        ("30s", Duration::from_secs(30)),
        ("1m", Duration::from_secs(60)),
        ("800ms", Duration::from_millis(800)),
    ] {
        let o: Opts = parse_from(["opts", "--window", text]).expect(text);
        assert_eq!(o.window, want, "flag {text}");
    }
}

#[test]
fn lists_from_the_file() {
    let path = write("list", "port = [5080, 5081]\n");
    let o: Opts = parse_from(["opts", "--config", arg(&path)]).expect("array");
    assert_eq!(o.port, [5080, 5081]);
    let path = write("list-joined", "port = \"5082,5083\"\n");
    let o: Opts = parse_from(["opts", "--config", arg(&path)]).expect("joined");
    assert_eq!(
        o.port,
        [5082, 5083],
        "a string splits on the flag's delimiter"
    );
    let o: Opts = parse_from(["opts", "--config", arg(&path), "--port", "1"]).expect("flag");
    assert_eq!(
        o.port,
        [1],
        "a flag replaces the file's list, not appends to it"
    );
    let path = write("list-bad", "port = [5080, \"x\"]\n");
    let err = parse_from::<Opts, _, _>(["opts", "--config", arg(&path)]).expect_err("bad");
    assert!(
        matches!(&err, ConfigError::Value { key, .. } if key == "port"),
        "{err}"
    );
}

#[test]
fn bools_from_the_file() {
    let path = write("bool", "xdp = true\nlabel = false\n");
    let o: Opts = parse_from(["opts", "--config", arg(&path)]).expect("parse");
    assert!(o.xdp, "a flag set by the file");
    assert!(!o.label, "a bool with a value set by the file");
    let o: Opts = parse_from(["opts", "--config", arg(&path), "--label", "true"]).expect("flag");
    assert!(o.label, "the flag wins");
    let path = write("bool-bad", "xdp = \"yes\"\n");
    let err = parse_from::<Opts, _, _>(["opts", "--config", arg(&path)]).expect_err("bad");
    assert!(
        matches!(&err, ConfigError::Value { key, .. } if key == "xdp"),
        "{err}"
    );
}

#[test]
fn unknown_keys_are_errors_naming_file_and_key() {
    for (text, key) in [
        ("levle = 3\n", "levle"),
        ("sip_port = 3\n", "sip_port"),
        ("config = \"other.toml\"\n", "config"),
        ("help = true\n", "help"),
        ("[section]\nlevel = 3\n", "section"),
    ] {
        let path = write("unknown", text);
        let err = parse_from::<Opts, _, _>(["opts", "--config", arg(&path)]).expect_err(text);
        assert!(
            matches!(&err, ConfigError::UnknownKey { key: k, path: p } if k == key && *p == path),
            "{err}"
        );
        let shown = err.to_string();
        assert!(shown.contains(key) && shown.contains(arg(&path)), "{shown}");
    }
}

#[test]
fn bad_values_are_errors_naming_file_and_key() {
    for (text, key) in [
        ("window = \"5 parsecs\"\n", "window"),
        ("level = -1\n", "level"),
        ("level = \"many\"\n", "level"),
        ("mode = \"sometimes\"\n", "mode"),
        ("node = [\"a\", \"b\"]\n", "node"),
        ("level = 1979-05-27\n", "level"),
    ] {
        let path = write("value", text);
        let err = parse_from::<Opts, _, _>(["opts", "--config", arg(&path)]).expect_err(text);
        assert!(
            matches!(&err, ConfigError::Value { key: k, path: p, .. } if k == key && *p == path),
            "{text}: {err}"
        );
        let shown = err.to_string();
        assert!(shown.contains(key) && shown.contains(arg(&path)), "{shown}");
    }
    let path = write("value-overridden", "level = \"many\"\n");
    let err = parse_from::<Opts, _, _>(["opts", "--config", arg(&path), "--level", "2"])
        .expect_err("a bad file is bad even where a flag wins");
    assert!(matches!(err, ConfigError::Value { .. }), "{err}");
}

#[test]
fn unreadable_and_malformed_files_are_errors() {
    let err = parse_from::<Opts, _, _>(["opts", "--config", "/nonexistent/cliconf.toml"])
        .expect_err("missing");
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    let path = write("syntax", "level = = 3\n");
    let err = parse_from::<Opts, _, _>(["opts", "--config", arg(&path)]).expect_err("syntax");
    assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
}

#[test]
fn a_subcommand_flattened_args_read_the_file() {
    let path = write(
        "sub",
        "interval = \"5s\"\nagents = [\"http://a\", \"http://b\"]\nmax-replicas = 7\n",
    );
    let run = run_args(
        parse_from(["tool", "run", "--config", arg(&path), "--max-replicas", "3"]).expect("run"),
    );
    assert_eq!(run.interval, Duration::from_secs(5));
    assert_eq!(run.agents, ["http://a", "http://b"]);
    assert_eq!(run.max_replicas, 3, "the flag wins over the file");
    let run = run_args(parse_from(["tool", "run"]).expect("no file"));
    assert_eq!(run.interval, Duration::from_secs(15));
    assert!(run.agents.is_empty());
    let path = write("sub-unknown", "count = 1\n");
    let err = parse_from::<Tool, _, _>(["tool", "run", "--config", arg(&path)])
        .expect_err("another subcommand's option");
    assert!(
        matches!(&err, ConfigError::UnknownKey { key, .. } if key == "count"),
        "{err}"
    );
}

#[test]
fn help_and_usage_errors_are_clap_errors() {
    let err = parse_from::<Tool, _, _>(["tool", "run", "--help"]).expect_err("help");
    assert!(
        matches!(&err, ConfigError::Cli(e) if e.kind() == clap::error::ErrorKind::DisplayHelp),
        "{err}"
    );
    let help = match err {
        ConfigError::Cli(e) => e.render().to_string(),
        other => panic!("{other}"),
    };
    assert!(help.contains("[default: 15s]"), "{help}");
    let err = parse_from::<Opts, _, _>(["opts", "--window", "3d"]).expect_err("bad flag");
    assert!(matches!(err, ConfigError::Cli(_)), "{err}");
}
