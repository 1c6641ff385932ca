//! Message ids: the writer gives them, in order, and never one given before, even when the
//! newest messages were deleted (`message_id_floor`, migration 011, remembers the highest id
//! deleted). Read markers and every "up to id" cursor rely on that.

use rusqlite::Connection;

/// The id the next message gets.
pub(super) fn first_free(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT max((SELECT coalesce(max(id), 0) FROM messages), \
                    (SELECT id FROM message_id_floor)) + 1",
        [],
        |r| r.get(0),
    )
}
