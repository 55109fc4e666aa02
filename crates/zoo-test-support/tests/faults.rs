//! Every fault, observed on the wire and in the log.

mod common;

use std::time::{Duration, Instant};

use common::{Conn, cdn_path, get, send};
use zoo_test_support::{Fault, FaultKind, FixtureRepo, HubServer, fixture_bytes};

const LEN: usize = 200_000;

fn hub() -> (HubServer, String) {
    let hub = HubServer::start(vec![
        FixtureRepo::new("org/f")
            .lfs_file("model.onnx", fixture_bytes(9, LEN))
            .text_file("config.json", "{\"k\": true}"),
    ]);
    let r = send(
        &hub.endpoint(),
        "HEAD",
        "/org/f/resolve/main/model.onnx",
        &[],
    );
    let cdn = cdn_path(r.header("Location").unwrap());
    hub.clear_log();
    (hub, cdn)
}

#[test]
fn cut_after_closes_mid_body_once() {
    let (hub, cdn) = hub();
    hub.set_faults(vec![Fault::cut_after(1000).on("model.onnx").times(1)]);
    // The redirect is not a file body, so it does not use the fault up.
    assert_eq!(
        get(&hub.endpoint(), "/org/f/resolve/main/model.onnx").status,
        302
    );

    // Nor does a 1-byte probe, which the cut would not change.
    let probe = send(&hub.endpoint(), "GET", &cdn, &[("Range", "bytes=0-0")]);
    assert_eq!((probe.status, probe.body.len()), (206, 1));

    let mut conn = Conn::open(&hub.endpoint());
    let r = conn.send("GET", &cdn, &[]);
    assert_eq!((r.status, r.content_length()), (200, LEN as u64));
    assert_eq!(r.body, fixture_bytes(9, 1000));
    assert!(!r.complete);
    assert!(conn.is_closed());
    let rec = hub.log().pop().unwrap();
    assert!(rec.cut);
    assert_eq!(rec.body_bytes, 1000);
    assert_eq!(rec.file.as_deref(), Some("org/f/model.onnx"));
    assert_eq!(rec.faults, [FaultKind::CutAfter(1000)]);

    let r = get(&hub.endpoint(), &cdn);
    assert!(r.complete);
    assert_eq!(r.body, fixture_bytes(9, LEN));
    assert_eq!(hub.bytes_served("model.onnx"), 1 + 1000 + LEN as u64);
}

#[test]
fn status_faults_replace_any_response() {
    let (hub, cdn) = hub();
    hub.set_faults(vec![
        Fault::status(503).on("config.json").times(1),
        Fault::status(500).on("/api/").times(1),
        Fault::too_many_requests(7).on("model.onnx").times(2),
    ]);
    let r = get(&hub.endpoint(), "/org/f/resolve/main/config.json");
    assert_eq!(r.status, 503);
    assert!(!r.body.is_empty());
    assert_eq!(
        get(&hub.endpoint(), "/org/f/resolve/main/config.json").status,
        200
    );

    assert_eq!(get(&hub.endpoint(), "/api/models/org/f").status, 500);
    assert_eq!(get(&hub.endpoint(), "/api/models/org/f").status, 200);

    let head = send(
        &hub.endpoint(),
        "HEAD",
        "/org/f/resolve/main/model.onnx",
        &[],
    );
    assert_eq!(head.status, 429);
    assert_eq!(head.header("Retry-After"), Some("7"));
    // The CDN request names the file through the blob, so the scope matches.
    assert_eq!(get(&hub.endpoint(), &cdn).status, 429);
    assert_eq!(get(&hub.endpoint(), &cdn).status, 200);
}

#[test]
fn corrupt_flips_one_byte_keeping_length() {
    let (hub, cdn) = hub();
    hub.set_faults(vec![Fault::corrupt_at(12_345).times(1)]);
    let r = get(&hub.endpoint(), &cdn);
    let good = fixture_bytes(9, LEN);
    assert!(r.complete);
    assert_eq!(r.body.len(), LEN);
    let diff: Vec<usize> = (0..LEN).filter(|&i| r.body[i] != good[i]).collect();
    assert_eq!(diff, [12_345]);
    assert_eq!(get(&hub.endpoint(), &cdn).body, good);
}

#[test]
fn stall_pauses_then_finishes() {
    let (hub, cdn) = hub();
    hub.set_faults(vec![
        Fault::stall(5000, Duration::from_millis(600)).times(1),
    ]);
    let started = Instant::now();
    let r = get(&hub.endpoint(), &cdn);
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert!(r.complete);
    assert_eq!(r.body, fixture_bytes(9, LEN));
}

#[test]
fn stall_forever_until_the_client_gives_up() {
    let (hub, cdn) = hub();
    hub.set_faults(vec![Fault::stall_forever(100).times(1)]);
    let mut conn = Conn::open(&hub.endpoint());
    conn.set_read_timeout(Duration::from_millis(500));
    let r = conn.send("GET", &cdn, &[]);
    assert_eq!(r.body.len(), 100);
    assert!(!r.complete);
    drop(conn);
    // The server notices the hang-up within a poll interval or two.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !hub.log().last().unwrap().cut {
        assert!(
            Instant::now() < deadline,
            "server never noticed the client left"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(hub.log().last().unwrap().body_bytes, 100);
}

#[test]
fn wrong_content_length_overstates_then_closes() {
    let (hub, _) = hub();
    hub.set_faults(vec![
        Fault::wrong_content_length(10).on("config.json").times(1),
    ]);
    let mut conn = Conn::open(&hub.endpoint());
    let r = conn.send("GET", "/org/f/resolve/main/config.json", &[]);
    assert_eq!(r.content_length(), 11 + 10);
    assert_eq!(r.body, b"{\"k\": true}");
    assert!(!r.complete);
    assert!(conn.is_closed());
    assert!(hub.log().last().unwrap().cut);
}

#[test]
fn throttle_limits_rate_and_notices_a_killed_client() {
    let (hub, cdn) = hub();
    hub.set_faults(vec![Fault::throttle(100_000)]);
    let started = Instant::now();
    let r = send(&hub.endpoint(), "GET", &cdn, &[("Range", "bytes=0-49999")]);
    let took = started.elapsed();
    assert_eq!(r.body.len(), 50_000);
    assert!(took >= Duration::from_millis(450), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");

    // A client that dies mid-download leaves a cut, partial record.
    let mut conn = Conn::open(&hub.endpoint());
    let r = conn.get_partial(&cdn, 20_000);
    assert!(!r.complete);
    drop(conn);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !hub.log().last().unwrap().cut {
        assert!(
            Instant::now() < deadline,
            "server never noticed the client left"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let rec = hub.log().pop().unwrap();
    assert!(rec.body_bytes > 0 && rec.body_bytes < LEN as u64, "{rec:?}");
}

#[test]
fn unscoped_body_faults_skip_json_and_head() {
    let (hub, cdn) = hub();
    hub.set_faults(vec![Fault::cut_after(3).times(1)]);
    assert!(get(&hub.endpoint(), "/api/models/org/f").complete);
    assert_eq!(send(&hub.endpoint(), "HEAD", &cdn, &[]).status, 200);
    let r = get(&hub.endpoint(), &cdn);
    assert_eq!(r.body.len(), 3);
    hub.clear_faults();
    assert!(get(&hub.endpoint(), &cdn).complete);
}
