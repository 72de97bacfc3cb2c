//! `http` gates measured from inside a Swarm network (`network=` and `image=`), as the checker
//! reads them: both settings or neither, neither empty, and no credential, each problem at the
//! text that causes it.

use plans::gates::{FromNetwork, GateKind};
use plans::{Checked, Inputs, SourceFile};

/// `gate` inside a plan whose one step uses it.
fn check(gate: &str) -> Checked {
    let text = format!("plan p {{\n    stack s\n    gate g {{ {gate}; }}\n    check c {{ gates g; }}\n}}\n");
    plans::check(SourceFile::new("plan.kdl", text), &Inputs::default())
}

/// Each diagnostic as `code: message @ the text its primary label points at`.
fn said(gate: &str) -> Vec<String> {
    let checked = check(gate);
    let text = checked.file.text.clone();
    checked
        .diagnostics
        .iter()
        .map(|d| {
            let at =
                d.labels.iter().find(|l| l.primary).map_or("", |l| &text[l.span.offset..l.span.offset + l.span.len]);
            format!("{}: {} @ {at}", d.code, d.message)
        })
        .collect()
}

fn from(gate: &str) -> Option<FromNetwork> {
    let checked = check(gate);
    let plan = checked.plan.unwrap_or_else(|| panic!("{:#?}", checked.diagnostics));
    match &plan.gates[0].kind {
        GateKind::Http(h) => h.from.clone(),
        GateKind::Prometheus(_) | GateKind::Swarm(_) | GateKind::Command(_) => panic!("not an http gate"),
    }
}

#[test]
fn network_and_image_read_as_where_the_request_is_sent_from() {
    assert_eq!(
        from(r#"http "http://shop_api:8080/health" network="shop_backend" image="busybox:1.36""#),
        Some(FromNetwork { network: "shop_backend".into(), image: "busybox:1.36".into(), every_task: false })
    );
    assert_eq!(
        from("http \"http://shop_api:8080/health\" {\n network shop_backend\n image \"busybox:1.36\"\n }"),
        Some(FromNetwork { network: "shop_backend".into(), image: "busybox:1.36".into(), every_task: false })
    );
    assert_eq!(from(r#"http "http://127.0.0.1:8080/health""#), None, "from this machine");
}

#[test]
fn a_network_needs_an_image_and_an_image_a_network() {
    assert_eq!(
        said(r#"http "http://shop_api:8080/health" network="shop_backend""#),
        ["planrun::missing-field: an `http` gate measured from network `shop_backend` needs the image its probe \
             runs @ \"shop_backend\""]
    );
    assert_eq!(
        said(r#"http "http://shop_api:8080/health" image="busybox:1.36""#),
        [
            "planrun::bad-value: `image` only means something on an `http` gate measured from a network @ \"busybox:1.36\""
        ]
    );
}

#[test]
fn an_empty_network_or_image_is_named_at_its_value() {
    assert_eq!(
        said(r#"http "http://shop_api:8080/health" network="" image="busybox:1.36""#),
        ["planrun::bad-value: `network` is empty @ \"\""]
    );
    assert_eq!(
        said(r#"http "http://shop_api:8080/health" network=" " image="""#),
        ["planrun::bad-value: `network` is empty @ \" \"", "planrun::bad-value: `image` is empty @ \"\""]
    );
}

#[test]
fn no_credential_is_sent_from_a_network() {
    let refused = |setting: &str| {
        format!("planrun::bad-value: `{setting}` cannot be sent by an `http` gate measured from a network")
    };
    assert_eq!(
        said(r#"http "http://shop_api:8080/health" network="n" image="i" bearer-token-env=TOKEN"#),
        [format!("{} @ bearer-token-env", refused("bearer-token-env"))]
    );
    assert_eq!(
        said("http \"http://shop_api:8080/health\" network=n image=i {\n header \"Accept\" value=\"text/plain\"\n }"),
        [format!("{} @ header", refused("header"))]
    );
    let userinfo = said(r#"http "http://u:p@shop_api:8080/health" network="n" image="i""#);
    assert!(
        userinfo.contains(&format!("{} @ \"http://u:p@shop_api:8080/health\"", refused("user:password@"))),
        "{userinfo:#?}"
    );
    let query = said(r#"http "http://shop_api:8080/health?token=abc" network="n" image="i""#);
    assert!(query.contains(&format!("{} @ \"http://shop_api:8080/health?token=abc\"", refused("token"))), "{query:#?}");
    // From this machine, the same credentials are fine.
    assert_eq!(said(r#"http "http://shop_api:8080/health" bearer-token-env=TOKEN"#), Vec::<String>::new());
}

#[test]
fn head_is_not_sent_from_a_network() {
    assert_eq!(
        said(r#"http "http://shop_api:8080/health" method=HEAD network="n" image="i""#),
        ["planrun::bad-value: an `http` gate measured from a network sends GET or POST, not HEAD @ HEAD"]
    );
    assert_eq!(
        from(r#"http "http://shop_api:8080/" method=POST network="n" image="i""#).map(|f| f.network),
        Some("n".into())
    );
}

#[test]
fn every_task_asks_each_task_of_a_service_named_in_the_url() {
    assert_eq!(
        from(r#"http "http://shop_api:8080/health" network="shop_backend" image="busybox:1.36" every-task=#true"#),
        Some(FromNetwork { network: "shop_backend".into(), image: "busybox:1.36".into(), every_task: true })
    );
    assert_eq!(
        from(r#"http "http://shop_api:8080/health" network="shop_backend" image="busybox:1.36" every-task=#false"#)
            .map(|f| f.every_task),
        Some(false)
    );
    assert_eq!(
        said(r#"http "http://shop_api:8080/health" every-task=#true"#),
        ["planrun::bad-value: `every-task` only means something on an `http` gate measured from a network @ #true"]
    );
    assert_eq!(
        said(r#"http "http://10.0.1.5:8080/health" network="shop_backend" image="busybox:1.36" every-task=#true"#),
        ["planrun::bad-value: `every-task` asks every task of a service, and `10.0.1.5` is an address, not a service \
          @ \"http://10.0.1.5:8080/health\""]
    );
    assert_eq!(
        said(r#"http "http://[fd00::5]:8080/" network="shop_backend" image="busybox:1.36" every-task=#true"#).len(),
        1
    );
    let quoted = said(r#"http "http://shop_api/" network="n" image="i" every-task="true""#);
    assert!(quoted.len() == 1 && quoted[0].contains("every-task") && quoted[0].ends_with("@ \"true\""), "{quoted:?}");
}

#[test]
fn the_host_of_a_url() {
    use plans::gates::http::url_host;
    assert_eq!(url_host("http://shop_api:8080/health"), Some("shop_api"));
    assert_eq!(url_host("https://shop_api/x?y#z"), Some("shop_api"));
    assert_eq!(url_host("http://u:p@shop_api:1/"), Some("shop_api"));
    assert_eq!(url_host("http://[fd00::5]:8080/"), Some("[fd00::5]"));
    assert_eq!(url_host("http:///x"), None);
    assert_eq!(url_host("ftp://x/"), None);
    use plans::gates::http::{UrlParts, url_parts};
    let parts = url_parts("http://u:p@shop_api:8080/health?x#y").unwrap();
    assert_eq!(
        parts,
        UrlParts { scheme: "http://", userinfo: Some("u:p"), host: "shop_api", port: ":8080", rest: "/health?x#y" }
    );
    assert_eq!(parts.host_and_port(), "shop_api:8080");
    let v6 = url_parts("http://[fd00::5]:8080").unwrap();
    assert_eq!((v6.host, v6.port, v6.rest), ("[fd00::5]", ":8080", ""));
    assert_eq!(url_parts("shop_api:8080/health"), None);
}
