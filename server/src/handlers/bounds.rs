//! Answers bounded in bytes, whatever is stored: a few people sending many large messages must
//! not make one answer too big to send or receive. The oldest messages give way; they stay
//! stored and come back by paging (`fetch messages`).

use std::collections::HashMap;

use natter_protocol::Message;

/// The most content bytes one `fetch messages` answer carries.
pub const MAX_PAGE_BYTES: usize = 1 << 20;

/// What a message costs on the wire besides its content (ids, names of fields, timestamp), for
/// byte budgets.
pub const MESSAGE_ENVELOPE_BYTES: usize = 120;

/// The most content bytes the login's `users` carries over all conversations.
pub const MAX_LOGIN_HISTORY_BYTES: usize = 4 << 20;

/// Drops the oldest of `messages` (oldest first) until their content fits in `budget` bytes;
/// the newest one is always kept. Whether any was dropped.
pub fn keep_newest_within(messages: &mut Vec<Message>, budget: usize) -> bool {
    let mut total = 0usize;
    let mut keep_from = messages.len();
    for (i, m) in messages.iter().enumerate().rev() {
        total += m.content.len();
        if total > budget && i + 1 < messages.len() {
            break;
        }
        keep_from = i;
    }
    messages.drain(..keep_from);
    keep_from > 0
}

/// Keeps the newest messages over all conversations within `budget` content bytes: each
/// conversation loses its oldest, none is cut in the middle.
pub fn trim_history(conversations: &mut HashMap<String, Vec<Message>>, budget: usize) {
    let total: usize = conversations
        .values()
        .flatten()
        .map(|m| m.content.len())
        .sum();
    if total <= budget {
        return;
    }
    let mut ids: Vec<(u64, usize)> = conversations
        .values()
        .flatten()
        .map(|m| (m.id, m.content.len()))
        .collect();
    ids.sort_unstable_by_key(|&(id, _)| std::cmp::Reverse(id));
    let (mut used, mut oldest_kept) = (0usize, u64::MAX);
    for (id, len) in ids {
        if used + len > budget {
            break;
        }
        used += len;
        oldest_kept = id;
    }
    for messages in conversations.values_mut() {
        messages.retain(|m| m.id >= oldest_kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: u64, len: usize) -> Message {
        Message {
            id,
            content: "x".repeat(len),
            from: "a".into(),
            to: "b".into(),
            ts: 0,
            client_id: None,
            attachment: None,
            ..Message::default()
        }
    }

    #[test]
    fn pages_keep_their_newest_messages_within_the_budget() {
        let mut page: Vec<_> = (1..=10).map(|i| msg(i, 100)).collect();
        assert!(keep_newest_within(&mut page, 350));
        assert_eq!(page.iter().map(|m| m.id).collect::<Vec<_>>(), [8, 9, 10]);
        let mut small: Vec<_> = (1..=3).map(|i| msg(i, 10)).collect();
        assert!(!keep_newest_within(&mut small, 350));
        assert_eq!(small.len(), 3);
        let mut huge = vec![msg(1, 10), msg(2, 1000)];
        assert!(
            keep_newest_within(&mut huge, 100),
            "the newest stays even alone over"
        );
        assert_eq!(huge.iter().map(|m| m.id).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn login_history_keeps_the_newest_over_all_conversations() {
        let mut convs = HashMap::new();
        convs.insert("p1".to_owned(), vec![msg(1, 100), msg(4, 100), msg(5, 100)]);
        convs.insert("p2".to_owned(), vec![msg(2, 100), msg(3, 100), msg(6, 100)]);
        trim_history(&mut convs, 350);
        let ids = |k: &str| convs[k].iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(ids("p1"), [4, 5]);
        assert_eq!(ids("p2"), [6]);
        let before = convs.clone();
        trim_history(&mut convs, 10_000);
        assert_eq!(convs, before, "within the budget nothing changes");
    }
}
