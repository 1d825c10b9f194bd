//! The idempotency window: a command repeated with the same key gets the first reply and has no
//! second effect. Bounded in entries and in time; the node answers a repeat in the format it is
//! asked in, so the window keeps the reply itself, not its bytes.

use std::collections::VecDeque;
use std::time::Duration;

use switchboard_core::Timestamp;
use switchboard_wire::Reply;

/// Keys come from outside, so the default, randomly keyed hasher.
type Map<K, V> = std::collections::HashMap<K, V>;

/// Replies by idempotency key, oldest first out.
#[derive(Debug)]
pub(crate) struct Window {
    replies: Map<String, Reply>,
    /// Every key in `replies`, with when its reply was made, oldest first.
    order: VecDeque<(Timestamp, String)>,
    entries_max: usize,
    window: Duration,
}

impl Window {
    pub(crate) fn new(entries_max: usize, window: Duration) -> Self {
        Self {
            replies: Map::new(),
            order: VecDeque::new(),
            entries_max: entries_max.max(1),
            window,
        }
    }

    /// The first reply given under `key`, if it is still remembered at `now`.
    pub(crate) fn get(&mut self, key: &str, now: Timestamp) -> Option<&Reply> {
        self.expire(now);
        self.replies.get(key)
    }

    /// Remembers the reply made under `key` at `at`, unless one is remembered already: the
    /// first reply is the one repeats get. Past the bound, the oldest is forgotten.
    pub(crate) fn insert(&mut self, key: String, reply: Reply, at: Timestamp) {
        self.expire(at);
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
            self.order.push_back((at, key));
        }
    }

    /// Forgets every reply made a whole window before `now` or earlier.
    fn expire(&mut self, now: Timestamp) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_since(*at) < self.window {
                break;
            }
            if let Some((_, key)) = self.order.pop_front() {
                self.replies.remove(&key);
            }
        }
    }

    /// How many replies are remembered.
    pub(crate) fn len(&self) -> usize {
        self.replies.len()
    }
}

#[cfg(test)]
mod tests {
    use switchboard_wire::ReplyBody;

    use super::*;

    fn reply(seq: u64) -> Reply {
        Reply::Ok(ReplyBody {
            seq,
            ..ReplyBody::default()
        })
    }

    #[test]
    fn remembers_within_the_window_and_the_bound() {
        let start = Timestamp::from_millis(1_000_000);
        let mut window = Window::new(2, Duration::from_secs(60));
        window.insert("a".into(), reply(1), start);
        window.insert("b".into(), reply(2), start);
        assert_eq!(window.get("a", start), Some(&reply(1)));
        window.insert("c".into(), reply(3), start);
        assert_eq!(
            window.get("a", start),
            None,
            "the oldest goes first when full"
        );
        assert_eq!(window.len(), 2);
        assert_eq!(
            window.get("c", start + Duration::from_secs(59)),
            Some(&reply(3)),
            "within the window"
        );
        assert_eq!(
            window.get("c", start + Duration::from_secs(60)),
            None,
            "expired"
        );
        assert_eq!(window.len(), 0);
    }

    #[test]
    fn the_first_reply_stays() {
        let start = Timestamp::from_millis(1_000_000);
        let mut window = Window::new(4, Duration::from_secs(60));
        window.insert("a".into(), reply(1), start);
        window.insert("a".into(), reply(2), start);
        assert_eq!(window.get("a", start), Some(&reply(1)));
        assert_eq!(window.len(), 1);
    }
}
