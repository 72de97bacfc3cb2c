//! Gate credentials as the checker reads them: where each secret is (never what it is), one way
//! to authenticate per gate, well-formed names, and a warning for a secret written in a URL or a
//! header. The checker reads no secret file and asks for no variable.

use plans::gates::{Auth, Credentials, GateKind, Header, HeaderValue, Secret};
use plans::{Checked, Code, Inputs, SourceFile};

/// `gates` inside a plan whose one step uses every gate.
fn check(gates: &str, inputs: &Inputs) -> Checked {
    let names: Vec<&str> = gates
        .lines()
        .filter_map(|l| l.trim().strip_prefix("gate "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let text = format!("plan p {{\n    stack s\n{gates}\n    check c {{ gates {} }}\n}}\n", names.join(" "));
    plans::check(SourceFile::new("plan.kdl", text), inputs)
}

/// Each diagnostic as `code: message`.
fn said(gates: &str) -> Vec<String> {
    check(gates, &Inputs::default()).diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message)).collect()
}

fn credentials(checked: &Checked) -> Vec<Credentials> {
    let plan = checked.plan.as_ref().unwrap_or_else(|| panic!("{:#?}", checked.diagnostics));
    plan.gates
        .iter()
        .map(|g| match &g.kind {
            GateKind::Http(h) => h.credentials.clone(),
            GateKind::Prometheus(p) => p.credentials.clone(),
            GateKind::Swarm(_) | GateKind::Command(_) => Credentials::default(),
        })
        .collect()
}

#[test]
fn every_form_reads_as_where_the_secret_is() {
    let gates = r#"
    gate a { http "https://api/health" bearer-token-file="secrets/token"; }
    gate b {
        http "https://api/health" {
            bearer-token-env API_TOKEN
        }
    }
    gate c {
        http "https://api/health" {
            basic-auth user="monitor" password-file="secrets/password"
            header "X-Api-Key" value-env=API_KEY
            header "X-Tenant" value-file="tenant"
            header "Accept" value="application/json"
        }
    }
    gate d {
        prometheus {
            query "up"
            pass "result > 0"
            basic-auth user=monitor password-env=PROM_PASSWORD
        }
    }"#;
    // The files do not exist where the checker looks, and it does not look.
    let nowhere = Inputs { files: Some("/nonexistent-planrun-dir".into()), ..Inputs::default() };
    let checked = check(gates, &nowhere);
    assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
    let file = |p: &str| Secret::File(p.into());
    let env = |v: &str| Secret::Env(v.into());
    assert_eq!(
        credentials(&checked),
        [
            Credentials { auth: Some(Auth::Bearer(file("secrets/token"))), headers: vec![] },
            Credentials { auth: Some(Auth::Bearer(env("API_TOKEN"))), headers: vec![] },
            Credentials {
                auth: Some(Auth::Basic { user: "monitor".into(), password: file("secrets/password") }),
                headers: vec![
                    Header { name: "X-Api-Key".into(), value: HeaderValue::Secret(env("API_KEY")) },
                    Header { name: "X-Tenant".into(), value: HeaderValue::Secret(file("tenant")) },
                    Header { name: "Accept".into(), value: HeaderValue::Literal("application/json".into()) },
                ],
            },
            Credentials {
                auth: Some(Auth::Basic { user: "monitor".into(), password: env("PROM_PASSWORD") }),
                headers: vec![],
            },
        ]
    );
    let json = serde_json::to_string(&checked.plan).unwrap();
    assert!(json.contains(r#""credentials":{"auth":{"bearer":{"file":"secrets/token"}}}"#), "{json}");
    let plain = check(r#"    gate g { http "https://api/health"; }"#, &Inputs::default());
    let json = serde_json::to_string(&plain.plan).unwrap();
    assert!(!json.contains("credentials"), "a gate without them shows none: {json}");
}

#[test]
fn a_gate_authenticates_one_way() {
    assert_eq!(
        said(
            r#"
    gate g {
        http "https://api/health" {
            bearer-token-file "t"
            basic-auth user=u password-env=P
        }
    }"#
        ),
        ["planrun::duplicate-field: the `http` of gate `g` authenticates more than one way"]
    );
    assert_eq!(
        said(
            r#"
    gate g {
        http "https://u:p@api/health" {
            header "authorization" value-env=AUTH
        }
    }"#
        ),
        [
            "planrun::credentials-in-plan: this URL carries credentials: a user and password (`user:password@`)",
            "planrun::duplicate-field: the `http` of gate `g` authenticates more than one way",
        ]
    );
}

#[test]
fn names_and_values_are_checked() {
    assert_eq!(
        said(
            r#"
    gate g {
        http "https://api/health" {
            bearer-token-env "$TOKEN"
            header "X Api" value-env=K
            header "X-Key" value-env=K value-file=k
            header "X-Other"
            header value=v
            header "Accept" value="a\nb"
            header "x-tenant" value=t
            header "X-Tenant" value=u
        }
    }
    gate h {
        prometheus {
            query up
            pass "result > 0"
            basic-auth user="a:b"
        }
    }
    gate i { http "https://api/health" bearer-token-file=""; }"#
        ),
        [
            "planrun::bad-value: `$TOKEN` is not an environment variable name",
            "planrun::bad-value: `X Api` is not an HTTP header name",
            "planrun::duplicate-field: `header` takes its value from more than one place",
            "planrun::missing-field: `header` does not say where its value is",
            "planrun::missing-field: `header` has no name",
            "planrun::bad-value: a header value cannot hold a newline or another control character",
            "planrun::duplicate-field: header `X-Tenant` is set twice",
            "planrun::missing-field: `basic-auth` does not say where its value is",
            "planrun::bad-value: a basic-auth user cannot hold `:`",
            "planrun::bad-value: the path is empty",
        ]
    );
}

#[test]
fn a_secret_written_in_the_plan_is_warned_about_without_its_value() {
    let checked = check(
        r#"
    gate g { http "https://deploy:hunter2@api/health?access_token=s3cr3t"; }
    gate h {
        prometheus "https://prom:9090/?api_key=k3y" {
            query up
            pass "result > 0"
            header "X-Api-Key" value="l1t3ral"
        }
    }
    gate fine { http "https://api/health?verbose=1"; }"#,
        &Inputs::default(),
    );
    let warnings: Vec<String> = checked.diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message)).collect();
    assert_eq!(
        warnings,
        [
            "planrun::credentials-in-plan: this URL carries credentials: a user and password (`user:password@`) \
             and a `access_token` parameter",
            "planrun::credentials-in-plan: this URL carries credentials: a `api_key` parameter",
            "planrun::credentials-in-plan: header `X-Api-Key` looks like a credential, and its value is written \
             in the plan",
        ]
    );
    assert!(checked.diagnostics.iter().all(|d| !d.is_error()));
    for d in &checked.diagnostics {
        let words = format!("{} {:?} {:?}", d.message, d.help, d.labels);
        for secret in ["hunter2", "s3cr3t", "k3y", "l1t3ral"] {
            assert!(!words.contains(secret), "{words}");
        }
        assert!(d.help.as_deref().unwrap().contains("value-env"), "{:?}", d.help);
    }
    assert!(checked.plan.is_some(), "a warning leaves the plan valid");
    assert_eq!(Code::CredentialsInPlan.to_string(), "planrun::credentials-in-plan");
}
