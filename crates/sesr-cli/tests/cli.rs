//! The `sesr-cli` binary as a user runs it.

mod common;

use common::sesr_cli;

#[test]
fn info_prints_the_papers_figures() {
    let (ok, out, err) = sesr_cli(&[
        "info",
        "--preset",
        "m5",
        "--scale",
        "2",
        "--lr-size",
        "360x640",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("13.520 K  (13520)"), "{out}");
    assert!(
        out.contains("360x640 -> 720x1280") && out.contains("(3115008000)"),
        "{out}"
    );
    assert!(out.contains("41.775 G") && out.contains("1.843 G"), "{out}");
    let (ok, out, _) = sesr_cli(&["info", "--preset", "xl"]);
    assert!(ok && out.contains("105.376 K"), "{out}");
}

#[test]
fn info_rejects_bad_flags_with_a_clear_message() {
    for (args, message) in [
        (vec!["info", "--scale", "3"], "scale must be 2 or 4, got 3"),
        (
            vec!["info", "--m", "0"],
            "m (number of 3x3 blocks) must be at least 1",
        ),
        (vec!["info", "--preset", "m9"], "unknown preset `m9`"),
        (vec!["info", "--lr-size", "360"], "is not HEIGHTxWIDTH"),
        (vec!["info", "--lr-size", "0x640"], "positive integers"),
    ] {
        let (ok, _, err) = sesr_cli(&args);
        assert!(!ok, "{args:?} should fail");
        assert!(err.contains(message), "{args:?}: `{err}` lacks `{message}`");
        assert!(!err.contains("panicked"), "{err}");
    }
}
