use super::*;

fn toml(text: &str) -> Result<Endpoint, String> {
    let value: toml::Table = text.parse().unwrap();
    Endpoint::from_toml(&value["e"])
}

#[test]
fn a_url_alone_is_an_endpoint_with_the_default_timeout() {
    let endpoint = Endpoint::from_text("http://vm:8428/api/v1/write").unwrap();
    assert_eq!(endpoint.url, "http://vm:8428/api/v1/write");
    assert_eq!(endpoint.timeout, DEFAULT_TIMEOUT);
    assert_eq!(toml(r#"e = "http://vm:8428/api/v1/write""#), Ok(endpoint));
}

#[test]
fn urls_must_be_http_with_a_host() {
    for bad in ["vm:8428", "/api/v1/write", "ftp://vm/", "not a url"] {
        assert!(Endpoint::from_text(bad).is_err(), "{bad}");
    }
    let https = Endpoint::from_text("https://vm/api/v1/write").unwrap_err();
    assert!(https.contains("https is not supported"), "{https}");
}

#[test]
fn a_table_gives_every_field_and_prints_back() {
    let endpoint = toml(
        r#"[e]
        url = "http://m:9009/api/v1/push"
        headers = { "X-Scope-OrgID" = "t1" }
        basic_auth = { username = "u", password_file = "/p" }
        timeout = "2s"
        labels = { dc = "eu" }"#,
    )
    .unwrap();
    assert_eq!(endpoint.headers, [("X-Scope-OrgID".into(), "t1".into())]);
    assert_eq!(
        endpoint.basic_auth,
        Some(BasicAuth {
            username: "u".into(),
            password_file: "/p".into()
        })
    );
    assert_eq!(endpoint.timeout, Duration::from_secs(2));
    assert_eq!(endpoint.labels, HostLabels::parse(&["dc=eu"]).unwrap());
    assert_eq!(Endpoint::from_toml(&endpoint.to_toml()), Ok(endpoint));
}

#[test]
fn tables_are_checked() {
    let refused = |text: &str| toml(text).unwrap_err();
    assert!(
        refused(r#"e = { url = "http://a/", colour = "red" }"#).contains("unknown field `colour`")
    );
    assert!(refused(r#"e = { urls = "http://a/" }"#).contains("unknown field"));
    assert!(refused(r#"e = { timeout = 1 }"#).contains("url"));
    assert!(refused(r#"e = { url = "http://a/", timeout = 0 }"#).contains("more than 0"));
    assert!(
        refused(r#"e = { url = "http://a/", headers = { "a b" = "c" } }"#).contains("header name")
    );
    assert!(refused(r#"e = { url = "http://a/", labels = { le = "1" } }"#).contains("labels"));
    assert!(
        refused(r#"e = { url = "http://a/", basic_auth = { username = "u" } }"#)
            .contains("password_file")
    );
    assert!(refused(
        r#"e = { url = "http://a/", basic_auth = { username = "u", password_file = "/p" }, bearer_token_file = "/t" }"#
    )
    .contains("one or the other"));
    assert!(refused("e = 3").contains("a URL or a table"));
}

fn config(toml_text: &str) -> Result<crate::Config, String> {
    let mut layers = crate::config::layers();
    layers
        .toml(toml_text, std::path::Path::new("test.toml"))
        .map_err(|e| e.to_string())?;
    crate::Config::try_from(layers.resolve().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

#[test]
fn a_file_lists_endpoints_as_tables_and_the_timers_carry_buckets() {
    let c = config(
        r#"
label = ["host=web1", "dc=eu"]
otlp = ["http://collector:4318/v1/metrics"]

[http]
listen = "off"

[[remote_write]]
url = "http://vm:8428/api/v1/write"
labels = { dc = "us" }

[[remote_write]]
url = "http://mimir:9009/api/v1/push"
"#,
    )
    .unwrap();
    assert_eq!(c.push.remote_write.len(), 2);
    assert_eq!(c.push.otlp.len(), 1);
    assert_eq!(
        c.push.labels,
        HostLabels::parse(&["host=web1", "dc=eu"]).unwrap()
    );
    // Without the HTTP server, pushing is what asks for the buckets.
    assert!(!c.aggregation.buckets.is_empty());
    let without = config("[http]\nlisten = \"off\"\n").unwrap();
    assert!(without.aggregation.buckets.is_empty());
}

#[test]
fn pushing_needs_whole_second_flushes_and_valid_labels() {
    let url = "remote_write = [\"http://vm/api/v1/write\"]\n";
    let error = config(&format!("flush_interval = 0.5\n{url}")).unwrap_err();
    assert!(error.contains("at least 1 second"), "{error}");
    assert!(config("flush_interval = 0.5\n").is_ok());
    let error = config("label = [\"__name__=x\"]\n").unwrap_err();
    assert!(error.contains("label"), "{error}");
}
