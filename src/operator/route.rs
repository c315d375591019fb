//! zuul-web's OpenShift `Route` (`route.openshift.io/v1`), made when that API is served and the
//! Zuul has a public address: `web.status_url` (the upstream CR has no exposure field, and
//! `status_url` is where Zuul says it is reached). The Route's host is that URL's host; an
//! `https` URL gets edge TLS (the router's certificate) with HTTP redirected to HTTPS.

use super::crd::ZuulSpec;
use super::names::Names;
use super::objects::object;
use serde_json::{Value, json};

/// The host and whether TLS is wanted, from an `http(s)://host[:port][/path]` URL.
fn public_host(url: &str) -> Option<(String, bool)> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next()?.to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    valid.then_some((host, tls))
}

/// The Route to `<zuul>-web`, or None without zuul-web replicas or a usable `web.status_url`.
pub fn web_route(names: &Names, spec: &ZuulSpec) -> Option<Value> {
    let web = spec.web.as_ref();
    if web.and_then(|w| w.count).unwrap_or(1) <= 0 {
        return None;
    }
    let (host, tls) = public_host(web?.status_url.as_deref()?)?;
    let service = names.child("web");
    let mut route_spec = json!({
        "host": host,
        "to": {"kind": "Service", "name": service, "weight": 100},
        "port": {"targetPort": "web"},
        "wildcardPolicy": "None",
    });
    if tls {
        route_spec["tls"] = json!({"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"});
    }
    Some(object(names, "route.openshift.io/v1", "Route", &service, "web", json!({"spec": route_spec})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(web: Value) -> ZuulSpec {
        serde_json::from_value(json!({"web": web})).expect("a spec")
    }

    #[test]
    fn an_https_status_url_gives_an_edge_route_to_the_web_service() {
        let names = Names::new("z", "ns");
        let route =
            web_route(&names, &spec(json!({"status_url": "https://Zuul.Example.org:443/t/main/"}))).expect("a Route");
        assert_eq!(route["apiVersion"], "route.openshift.io/v1");
        assert_eq!(route["kind"], "Route");
        assert_eq!(route["metadata"]["name"], "z-web");
        assert_eq!(route["metadata"]["namespace"], "ns");
        assert_eq!(
            route["spec"],
            json!({"host": "zuul.example.org", "to": {"kind": "Service", "name": "z-web", "weight": 100},
                   "port": {"targetPort": "web"}, "wildcardPolicy": "None",
                   "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}})
        );
    }

    #[test]
    fn http_has_no_tls_and_no_address_or_no_web_has_no_route() {
        let names = Names::new("z", "ns");
        let plain = web_route(&names, &spec(json!({"status_url": "http://zuul.example.org"}))).expect("a Route");
        assert_eq!(plain["spec"]["host"], "zuul.example.org");
        assert_eq!(plain["spec"].get("tls"), None);
        assert_eq!(web_route(&names, &spec(json!({}))), None);
        assert_eq!(web_route(&names, &spec(json!({"count": 0, "status_url": "https://zuul.example.org"}))), None);
        for bad in ["zuul.example.org", "ftp://zuul.example.org", "https://", "https://a..b/", "https://a b/"] {
            assert_eq!(web_route(&names, &spec(json!({"status_url": bad}))), None, "{bad}");
        }
    }
}
