//! Prometheus metrics, rendered in the text exposition format at `/metrics`: requests by endpoint and status,
//! request latency histograms by endpoint, and back-end errors by back-end.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; 12],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    backend_errors: BTreeMap<&'static str, u64>,
    auth_failures: u64,
}

/// The gateway's metrics registry.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Records one finished request.
    pub fn request(&self, endpoint: &'static str, status: u16, elapsed: Duration) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.requests.entry((endpoint, status)).or_default() += 1;
        let h = m.latency.entry(endpoint).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Records a failed call to a back-end (`imap`, `dav`, `smtp`, `sieve`, `ldap`).
    pub fn backend_error(&self, backend: &'static str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.backend_errors.entry(backend).or_default() += 1;
        }
    }

    /// Records a rejected authentication.
    pub fn auth_failure(&self) {
        if let Ok(mut m) = self.inner.lock() {
            m.auth_failures += 1;
        }
    }

    /// The Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let Ok(m) = self.inner.lock() else { return String::new() };
        let mut out = String::new();
        out.push_str("# HELP viaduc_requests_total HTTP requests by endpoint and status.\n");
        out.push_str("# TYPE viaduc_requests_total counter\n");
        for ((endpoint, status), n) in &m.requests {
            let _ = writeln!(out, "viaduc_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP viaduc_request_duration_seconds Time to answer a request, by endpoint.\n");
        out.push_str("# TYPE viaduc_request_duration_seconds histogram\n");
        for (endpoint, h) in &m.latency {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "viaduc_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "viaduc_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "viaduc_request_duration_seconds_sum{{endpoint=\"{endpoint}\"}} {}", h.sum);
            let _ = writeln!(out, "viaduc_request_duration_seconds_count{{endpoint=\"{endpoint}\"}} {}", h.count);
        }
        out.push_str("# HELP viaduc_backend_errors_total Failed calls to back-end servers.\n");
        out.push_str("# TYPE viaduc_backend_errors_total counter\n");
        for (backend, n) in &m.backend_errors {
            let _ = writeln!(out, "viaduc_backend_errors_total{{backend=\"{backend}\"}} {n}");
        }
        out.push_str("# HELP viaduc_auth_failures_total Rejected authentication attempts.\n");
        out.push_str("# TYPE viaduc_auth_failures_total counter\n");
        let _ = writeln!(out, "viaduc_auth_failures_total {}", m.auth_failures);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.request("ews", 200, Duration::from_millis(20));
        m.request("ews", 200, Duration::from_millis(700));
        m.request("ews", 401, Duration::from_millis(1));
        m.backend_error("imap");
        let text = m.render();
        assert!(text.contains("viaduc_requests_total{endpoint=\"ews\",status=\"200\"} 2"));
        assert!(text.contains("viaduc_requests_total{endpoint=\"ews\",status=\"401\"} 1"));
        assert!(text.contains("viaduc_request_duration_seconds_bucket{endpoint=\"ews\",le=\"0.025\"} 2"));
        assert!(text.contains("viaduc_request_duration_seconds_bucket{endpoint=\"ews\",le=\"+Inf\"} 3"));
        assert!(text.contains("viaduc_backend_errors_total{backend=\"imap\"} 1"));
    }
}
