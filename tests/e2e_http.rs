//! GraphQL over HTTP as the SDKs send it, through a real session and daemon: the Go SDK's
//! requests (genqlient always sends `"operationName": ""`), GET, `application/graphql`, JSON with a
//! charset, null and absent fields, `extensions`, batches, and the errors for malformed bodies.

mod common;

use common::{BUSYBOX, Session, lit};
use serde_json::{Value, json};

/// Posts `body` with `content_type`; returns the status and the parsed answer.
fn post(s: &Session, content_type: &str, body: &str) -> (u16, Value) {
    let answer = ureq::post(&s.url())
        .set("Authorization", &s.auth())
        .set("Content-Type", content_type)
        .send_string(body);
    let (status, response) = match answer {
        Ok(r) => (r.status(), r),
        Err(ureq::Error::Status(code, r)) => (code, r),
        Err(e) => panic!("request failed: {e}"),
    };
    let text = response.into_string().unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    (status, value)
}

/// Posts a request the way the Go SDK (v0.7.4, genqlient) does.
fn go_sdk(s: &Session, query: &str, variables: Value) -> Value {
    let body = json!({ "query": query, "operationName": "", "variables": variables });
    let (status, value) = post(s, "application/json", &body.to_string());
    assert_eq!(status, 200, "{value}");
    value
}

#[test]
fn the_go_sdk_request_shape_runs_pipelines() -> common::TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("a.txt"), "from the host")?;
    std::fs::write(dir.path().join("b.txt"), "b")?;
    let s = Session::start_with(&["--workdir", &dir.path().to_string_lossy()], &[]);
    let marker = common::unique();

    // An exec, with the image and the text as variables.
    let v = go_sdk(
        &s,
        "query Echo($image: String!, $text: String!) { container { from(address: $image) { withExec(args: [\"echo\", $text]) { stdout } } } }",
        json!({ "image": BUSYBOX, "text": marker }),
    );
    assert_eq!(
        v["data"]["container"]["from"]["withExec"]["stdout"],
        format!("{marker}\n"),
        "{v}"
    );

    // A host directory's entries and a file's contents.
    let v = go_sdk(
        &s,
        "query { host { directory(path: \".\") { entries file(path: \"a.txt\") { contents } } } }",
        json!({}),
    );
    assert_eq!(
        v["data"]["host"]["directory"]["entries"],
        json!(["a.txt", "b.txt"]),
        "{v}"
    );
    assert_eq!(
        v["data"]["host"]["directory"]["file"]["contents"],
        "from the host"
    );

    // A failing exec answers the ExecError shape with its exit code.
    let v = go_sdk(
        &s,
        &format!(
            "{{ container {{ from(address: {}) {{ withExec(args: [\"sh\", \"-c\", \"echo out; echo err >&2; exit 7\"]) {{ stdout }} }} }} }}",
            lit(BUSYBOX)
        ),
        Value::Null,
    );
    let e = &v["errors"][0];
    assert_eq!(e["extensions"]["_type"], "EXEC_ERROR", "{v}");
    assert_eq!(e["extensions"]["exitCode"], 7, "{v}");
    assert_eq!(e["extensions"]["stdout"], "out\n", "{v}");
    assert_eq!(e["extensions"]["stderr"], "err\n", "{v}");
    Ok(())
}

#[test]
fn operation_names_pick_the_operation_or_say_what_is_wrong() {
    let s = Session::start();
    let two = "query A { defaultPlatform } query B { __typename }";
    for name in [json!(""), Value::Null] {
        let (_, v) = post(
            &s,
            "application/json",
            &json!({ "query": "{ defaultPlatform }", "operationName": name }).to_string(),
        );
        assert!(v["data"]["defaultPlatform"].is_string(), "{name}: {v}");
    }
    let (_, v) = post(
        &s,
        "application/json",
        &json!({ "query": two, "operationName": "B" }).to_string(),
    );
    assert_eq!(v["data"], json!({ "__typename": "Query" }), "{v}");
    let (_, v) = post(
        &s,
        "application/json",
        &json!({ "query": two, "operationName": "" }).to_string(),
    );
    let message = common::message(&v["errors"][0]);
    assert!(message.contains("Operation name required"), "{v}");
    let (_, v) = post(
        &s,
        "application/json",
        &json!({ "query": two, "operationName": "Missing" }).to_string(),
    );
    let message = common::message(&v["errors"][0]);
    assert!(message.contains("\"Missing\""), "{v}");
}

#[test]
fn every_request_form_answers() {
    let s = Session::start();
    let expect_platform = |what: &str, v: &Value| {
        assert!(
            v["data"]["defaultPlatform"]
                .as_str()
                .is_some_and(|p| p.starts_with("linux/")),
            "{what}: {v}"
        );
    };
    let (_, v) = post(
        &s,
        "application/json; charset=utf-8",
        r#"{"query": "{ defaultPlatform }", "variables": null, "extensions": {"persistedQuery": null}}"#,
    );
    expect_platform("JSON with a charset", &v);
    let (_, v) = post(&s, "application/graphql", "{ defaultPlatform }");
    expect_platform("application/graphql", &v);
    let get = ureq::get(&s.url())
        .set("Authorization", &s.auth())
        .query(
            "query",
            "query P($n: String!) { defaultPlatform pipeline(name: $n) { defaultPlatform } }",
        )
        .query("variables", r#"{"n": "x"}"#)
        .query("operationName", "")
        .call()
        .unwrap_or_else(|e| panic!("GET: {e}"))
        .into_json::<Value>()
        .unwrap_or_else(|e| panic!("GET answer: {e}"));
    expect_platform("GET", &get);

    // A batch: one result per request, in order.
    let (status, v) = post(
        &s,
        "application/json",
        r#"[{"query": "{ defaultPlatform }"}, {"query": "{ __typename }", "operationName": ""}]"#,
    );
    assert_eq!(status, 200, "{v}");
    expect_platform("batch item 0", &v[0]);
    assert_eq!(v[1]["data"]["__typename"], "Query", "{v}");
}

#[test]
fn malformed_bodies_are_refused_with_what_is_wrong() {
    let s = Session::start();
    for (body, expected) in [
        (
            r#"{"query": 5}"#,
            "\"query\" must be a string, not a number",
        ),
        (
            r#"{"query": "{ defaultPlatform }", "operationName": 1}"#,
            "\"operationName\" must be a string or null",
        ),
        (
            r#"{"query": "{ defaultPlatform }", "variables": "x"}"#,
            "\"variables\" must be an object or null, not a string",
        ),
        (r#"[]"#, "empty array"),
        (r#"[{"query": "{ a }"}, "b"]"#, "request 1 of the batch"),
        (r#"{"variables": {}}"#, "no \"query\""),
        ("{", "not JSON"),
    ] {
        let (status, v) = post(&s, "application/json", body);
        assert_eq!(status, 400, "{body}: {v}");
        let message = common::message(&v["errors"][0]);
        assert!(message.contains(expected), "{body}: {message:?}");
    }
    // The session still answers afterwards.
    let (_, v) = post(&s, "application/json", r#"{"query": "{ __typename }"}"#);
    assert_eq!(v["data"]["__typename"], "Query");
}
