//! `/healthz`: 200 only when Viaduc is up and every configured back-end answers. Results are cached for a
//! couple of seconds so a load balancer's probes do not turn into a stream of back-end connections.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{Response, StatusCode};

use super::{Body, Gateway, text};
use crate::backend::{dav, imap, sieve, smtp, tls};
use crate::config::Config;
use crate::error::{Backend, Result};

pub struct Health {
    last: Mutex<Option<(Instant, bool, String)>>,
    smtp_tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    sieve_tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

const CACHE_FOR: Duration = Duration::from_secs(2);

impl Health {
    pub fn new(config: &Config) -> Result<Health> {
        let smtp_tls = match &config.smtp {
            Some(c) => Some(tls::client_config(Backend::Smtp, c.ca_file.as_deref())?),
            None => None,
        };
        let sieve_tls = match &config.sieve {
            Some(c) => Some(tls::client_config(Backend::Sieve, c.ca_file.as_deref())?),
            None => None,
        };
        Ok(Health { last: Mutex::new(None), smtp_tls, sieve_tls })
    }

    pub async fn respond(&self, gw: &Gateway) -> Response<Body> {
        if let Ok(last) = self.last.lock()
            && let Some((at, ok, report)) = last.as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return answer(*ok, report.clone());
        }
        let (ok, report) = self.probe(gw).await;
        if let Ok(mut last) = self.last.lock() {
            *last = Some((Instant::now(), ok, report.clone()));
        }
        answer(ok, report)
    }

    async fn probe(&self, gw: &Gateway) -> (bool, String) {
        let c = &gw.config;
        let imap = async { imap::connect(&c.imap, &gw.imap_tls).await.map(|_| ()) };
        let dav = async {
            match &c.dav {
                Some(d) => dav::probe(d, None).await.map(|_| ()),
                None => Ok(()),
            }
        };
        let smtp = async {
            match (&c.smtp, &self.smtp_tls) {
                (Some(s), Some(t)) => smtp::probe(s, t).await.map(|_| ()),
                _ => Ok(()),
            }
        };
        let sieve = async {
            match (&c.sieve, &self.sieve_tls) {
                (Some(s), Some(t)) => sieve::probe(s, t).await.map(|_| ()),
                _ => Ok(()),
            }
        };
        let ldap = async {
            match &gw.directory {
                Some(d) => d.probe().await.map(|_| ()),
                None => Ok(()),
            }
        };
        let (a, b, s, v, l) = tokio::join!(imap, dav, smtp, sieve, ldap);
        let mut ok = true;
        let mut report = String::new();
        for (name, r) in [("imap", a), ("dav", b), ("smtp", s), ("sieve", v), ("ldap", l)] {
            match r {
                Ok(()) => report.push_str(&format!("{name}: ok\n")),
                Err(e) => {
                    ok = false;
                    gw.metrics.backend_error(name);
                    report.push_str(&format!("{name}: {}\n", e.message));
                }
            }
        }
        (ok, report)
    }
}

fn answer(ok: bool, report: String) -> Response<Body> {
    if ok {
        text(StatusCode::OK, format!("ok\n{report}"))
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, format!("unavailable\n{report}"))
    }
}
