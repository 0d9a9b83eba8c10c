//! Whole messages already read from the IMAP server, kept in memory so that reading one again (GetItem with
//! MimeContent after a preview, GetAttachment after GetItem, a second client of the same user) asks the server
//! only for the message's flags and mod-sequence, not for its body.
//!
//! This is safe to cache because a message's content never changes under its UID: RFC 3501 2.3.1.1 makes the
//! pair (UIDVALIDITY, UID) name one message for good, and a changed message is a new message with a new UID.
//! What can change — flags, keywords, the mod-sequence, the message being expunged — is always read from the
//! server, so the cache never answers for a message that is gone. Entries are keyed by the IMAP login as well
//! (a user only gets back what their own session read), bounded by total bytes with the least recently used
//! dropped first, and each instance has its own: it is a cache that rebuilds itself, never shared state.

use std::sync::Mutex;

use bytes::Bytes;

/// Largest message kept (bigger ones are read from the server every time).
pub const MAX_ENTRY: usize = 1024 * 1024;

/// What identifies one message for good: the login that read it, the mailbox, UIDVALIDITY and UID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageKey {
    pub login: String,
    pub mailbox: String,
    pub uid_validity: u32,
    pub uid: u32,
}

/// A cached message: its bytes and what its structure told about it (both fixed with the content).
#[derive(Debug, Clone)]
pub struct CachedMessage {
    pub raw: Bytes,
    pub has_attachments: bool,
    /// The iTIP method of its calendar part, as [`super::store::bodystructure_calendar_method`] gives it.
    pub calendar_method: Option<String>,
}

struct Inner {
    entries: lru::LruCache<MessageKey, CachedMessage>,
    bytes: usize,
}

/// A byte-bounded LRU of [`CachedMessage`]s (thread-safe; every operation is a short critical section).
pub struct MessageCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl MessageCache {
    /// A cache holding at most `capacity` bytes of messages; 0 keeps nothing.
    pub fn new(capacity: usize) -> MessageCache {
        MessageCache { capacity, inner: Mutex::new(Inner { entries: lru::LruCache::unbounded(), bytes: 0 }) }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The message, when kept (it becomes the most recently used).
    pub fn get(&self, key: &MessageKey) -> Option<CachedMessage> {
        if !self.enabled() {
            return None;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.entries.get(key).cloned()
    }

    /// Keeps `message` (not when it is larger than [`MAX_ENTRY`] or the whole cache), dropping the least
    /// recently used messages until the total fits.
    pub fn put(&self, key: MessageKey, message: CachedMessage) {
        let size = message.raw.len() + key.login.len() + key.mailbox.len();
        if !self.enabled() || message.raw.len() > MAX_ENTRY || size > self.capacity {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = inner.entries.put(key.clone(), message) {
            inner.bytes -= old.raw.len() + key.login.len() + key.mailbox.len();
        }
        inner.bytes += size;
        while inner.bytes > self.capacity {
            match inner.entries.pop_lru() {
                Some((k, v)) => inner.bytes -= v.raw.len() + k.login.len() + k.mailbox.len(),
                None => {
                    inner.bytes = 0;
                    break;
                }
            }
        }
    }

    /// Bytes held (messages and their keys' names).
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(uid: u32) -> MessageKey {
        MessageKey { login: "alice".into(), mailbox: "INBOX".into(), uid_validity: 7, uid }
    }

    fn message(len: usize) -> CachedMessage {
        CachedMessage { raw: Bytes::from(vec![b'x'; len]), has_attachments: false, calendar_method: None }
    }

    #[test]
    fn keeps_by_identity_and_drops_least_recently_used() {
        let cache = MessageCache::new(3 * 110);
        for uid in 1..=3 {
            cache.put(key(uid), message(100));
        }
        assert_eq!(cache.bytes(), 3 * 110);
        // Reading 1 makes 2 the least recently used: adding 4 drops 2.
        assert!(cache.get(&key(1)).is_some());
        cache.put(key(4), message(100));
        assert!(cache.get(&key(2)).is_none());
        assert!(cache.get(&key(1)).is_some() && cache.get(&key(3)).is_some() && cache.get(&key(4)).is_some());
        assert_eq!(cache.bytes(), 3 * 110);
        // Another login, mailbox or UIDVALIDITY is another message.
        let mut other = key(1);
        other.login = "bob".into();
        assert!(cache.get(&other).is_none());
        let mut other = key(1);
        other.uid_validity = 8;
        assert!(cache.get(&other).is_none());
        let mut other = key(1);
        other.mailbox = "Archive".into();
        assert!(cache.get(&other).is_none());
    }

    #[test]
    fn refuses_what_does_not_fit_and_can_be_off() {
        let cache = MessageCache::new(10 * 1024 * 1024);
        cache.put(key(1), message(MAX_ENTRY + 1));
        assert!(cache.get(&key(1)).is_none());
        assert_eq!(cache.bytes(), 0);
        let small = MessageCache::new(50);
        small.put(key(1), message(100));
        assert!(small.get(&key(1)).is_none());
        let off = MessageCache::new(0);
        off.put(key(1), message(10));
        assert!(!off.enabled() && off.get(&key(1)).is_none());
        // Replacing an entry does not count it twice.
        cache.put(key(2), message(100));
        cache.put(key(2), message(200));
        assert_eq!(cache.bytes(), 210);
    }
}
