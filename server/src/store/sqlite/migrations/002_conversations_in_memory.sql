-- Who talks with whom is kept in memory and read back from the messages index at startup:
-- with the table, a message to a new peer cost two more random page writes per commit.
DROP TABLE conversations;
