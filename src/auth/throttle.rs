//! Slows down repeated authentication failures, per user and per client address. Only failures are delayed:
//! the delay is computed after a password was found wrong.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::config::AuthConfig;

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
}

pub struct Throttle {
    by_user: Mutex<LruCache<String, Failures>>,
    by_address: Mutex<LruCache<IpAddr, Failures>>,
    threshold: u32,
    base: Duration,
    max: Duration,
    window: Duration,
}

impl Throttle {
    pub fn new(config: &AuthConfig) -> Throttle {
        let cap = NonZeroUsize::new(100_000).unwrap_or(NonZeroUsize::MIN);
        Throttle {
            by_user: Mutex::new(LruCache::new(cap)),
            by_address: Mutex::new(LruCache::new(cap)),
            threshold: config.failures_before_delay,
            base: Duration::from_millis(config.base_delay_ms),
            max: Duration::from_millis(config.max_delay_ms),
            window: Duration::from_secs(config.failure_window_secs.max(1)),
        }
    }

    /// Records a failure and returns how long its answer should wait.
    pub fn failure(&self, user: &str, address: IpAddr) -> Duration {
        let now = Instant::now();
        let u = self.by_user.lock().map(|mut m| bump(&mut m, user.to_string(), now, self.window)).unwrap_or(0);
        let a = self.by_address.lock().map(|mut m| bump(&mut m, address, now, self.window)).unwrap_or(0);
        self.delay_for(u.max(a))
    }

    /// Clears a user's failures after a success (the address keeps its count: other users may share it).
    pub fn forget(&self, user: &str) {
        if let Ok(mut m) = self.by_user.lock() {
            m.pop(user);
        }
    }

    fn delay_for(&self, failures: u32) -> Duration {
        if failures <= self.threshold {
            return Duration::ZERO;
        }
        let steps = (failures - self.threshold - 1).min(16);
        (self.base * 2u32.pow(steps)).min(self.max)
    }
}

fn bump<K: std::hash::Hash + Eq>(map: &mut LruCache<K, Failures>, key: K, now: Instant, window: Duration) -> u32 {
    let entry = map.get_or_insert_mut(key, || Failures { count: 0, since: now });
    if now.duration_since(entry.since) > window {
        *entry = Failures { count: 0, since: now };
    }
    entry.count = entry.count.saturating_add(1);
    entry.count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_threshold_and_cap() {
        let cfg = AuthConfig { failures_before_delay: 2, base_delay_ms: 100, max_delay_ms: 350, ..Default::default() };
        let t = Throttle::new(&cfg);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(t.failure("bob", ip), Duration::ZERO);
        assert_eq!(t.failure("bob", ip), Duration::ZERO);
        assert_eq!(t.failure("bob", ip), Duration::from_millis(100));
        assert_eq!(t.failure("bob", ip), Duration::from_millis(200));
        assert_eq!(t.failure("bob", ip), Duration::from_millis(350));
        t.forget("bob");
        // The address still remembers its failures, so another user from it is slowed as well.
        assert_eq!(t.failure("carol", ip), Duration::from_millis(350));
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(t.failure("dave", other), Duration::ZERO);
    }
}
