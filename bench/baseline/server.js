// The baseline: a Node.js + socket.io 4 server that does what the "Private messaging" guide's
// part III server does (sessions and messages kept in memory, nothing persisted), written for
// this benchmark. Usage: PORT=0 node server.js → prints "listening on http://127.0.0.1:PORT".
const http = require("http");
const crypto = require("crypto");
const { Server } = require("socket.io");

const newId = () => crypto.randomBytes(8).toString("hex");

// sessionID -> { userID, username, connected }
const sessions = new Map();
// every message, in order: { content, from, to }
const messages = [];

const httpServer = http.createServer();
const io = new Server(httpServer, { cors: { origin: "*" } });

io.use((socket, next) => {
  const { sessionID, username } = socket.handshake.auth || {};
  const known = sessionID && sessions.get(sessionID);
  if (known) {
    Object.assign(socket, { sessionID, userID: known.userID, username: known.username });
    return next();
  }
  if (!username) return next(new Error("invalid username"));
  Object.assign(socket, { sessionID: newId(), userID: newId(), username });
  next();
});

io.on("connection", (socket) => {
  sessions.set(socket.sessionID, { userID: socket.userID, username: socket.username, connected: true });
  socket.emit("session", { sessionID: socket.sessionID, userID: socket.userID });
  socket.join(socket.userID);

  // As in the guide: the user's messages, grouped by the other user, then every session.
  const byPeer = new Map();
  for (const m of messages) {
    if (m.from !== socket.userID && m.to !== socket.userID) continue;
    const peer = m.from === socket.userID ? m.to : m.from;
    if (!byPeer.has(peer)) byPeer.set(peer, []);
    byPeer.get(peer).push(m);
  }
  const users = [];
  for (const s of sessions.values()) {
    users.push({ userID: s.userID, username: s.username, connected: s.connected, messages: byPeer.get(s.userID) || [] });
  }
  socket.emit("users", users);
  socket.broadcast.emit("user connected", { userID: socket.userID, username: socket.username, connected: true, messages: [] });

  socket.on("private message", ({ content, to }) => {
    const message = { content, from: socket.userID, to };
    socket.to(to).to(socket.userID).emit("private message", message);
    messages.push(message);
  });

  socket.on("disconnect", async () => {
    const left = await io.in(socket.userID).allSockets();
    if (left.size === 0) {
      socket.broadcast.emit("user disconnected", socket.userID);
      const s = sessions.get(socket.sessionID);
      if (s) s.connected = false;
    }
  });
});

httpServer.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${httpServer.address().port}`);
});
