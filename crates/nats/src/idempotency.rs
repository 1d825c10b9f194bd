//! The idempotency cache: a command repeated with the same key gets the first reply and has no
//! second effect. Bounded in entries and in time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Keys come from outside, so the default, randomly keyed hasher.
type Map<K, V> = std::collections::HashMap<K, V>;

/// Replies by idempotency key, oldest first out.
#[derive(Debug)]
pub(crate) struct ReplyCache {
    replies: Map<String, Bytes>,
    order: VecDeque<(Instant, String)>,
    entries_max: usize,
    window: Duration,
}

impl ReplyCache {
    pub(crate) fn new(entries_max: usize, window: Duration) -> Self {
        Self {
            replies: Map::new(),
            order: VecDeque::new(),
            entries_max: entries_max.max(1),
            window,
        }
    }

    /// The first reply given under `key`, if it is still remembered.
    pub(crate) fn get(&mut self, key: &str, now: Instant) -> Option<Bytes> {
        self.expire(now);
        self.replies.get(key).cloned()
    }

    /// Remembers the reply given under `key`, unless one is remembered already: the first
    /// reply is the one repeats get.
    pub(crate) fn insert(&mut self, key: String, reply: Bytes, now: Instant) {
        self.expire(now);
        if self.replies.contains_key(&key) {
            return;
        }
        while self.replies.len() >= self.entries_max {
            match self.order.pop_front() {
                Some((_, oldest)) => {
                    self.replies.remove(&oldest);
                }
                None => break,
            }
        }
        if self.replies.insert(key.clone(), reply).is_none() {
            self.order.push_back((now, key));
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.duration_since(*at) < self.window {
                break;
            }
            if let Some((_, key)) = self.order.pop_front() {
                self.replies.remove(&key);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.replies.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_the_window_and_the_bound() {
        let start = Instant::now();
        let mut cache = ReplyCache::new(2, Duration::from_secs(60));
        cache.insert("a".into(), Bytes::from_static(b"1"), start);
        cache.insert("b".into(), Bytes::from_static(b"2"), start);
        assert_eq!(cache.get("a", start), Some(Bytes::from_static(b"1")));
        cache.insert("c".into(), Bytes::from_static(b"3"), start);
        assert_eq!(
            cache.get("a", start),
            None,
            "the oldest goes first when full"
        );
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.get("c", start + Duration::from_secs(61)),
            None,
            "expired"
        );
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_first_reply_stays() {
        let start = Instant::now();
        let mut cache = ReplyCache::new(4, Duration::from_secs(60));
        cache.insert("a".into(), Bytes::from_static(b"first"), start);
        cache.insert("a".into(), Bytes::from_static(b"second"), start);
        assert_eq!(cache.get("a", start), Some(Bytes::from_static(b"first")));
        assert_eq!(cache.len(), 1);
    }
}
