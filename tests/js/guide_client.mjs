// The socket.io "Private messaging" guide's client flow (parts I–III), with the official
// socket.io-client 4, against a running natter-server.
//
//   node guide_client.mjs URL default|websocket
//
// Prints one JSON line per step and exits 0 when every check passed, 1 otherwise.
import { io } from "socket.io-client";

const [url, mode] = process.argv.slice(2);
const transports = mode === "websocket" ? ["websocket"] : ["polling", "websocket"];
const TIMEOUT_MS = 10000;

function fail(msg) {
  console.log(JSON.stringify({ ok: false, error: msg }));
  process.exit(1);
}
function step(name, data = {}) {
  console.log(JSON.stringify({ ok: true, step: name, ...data }));
}
function once(socket, event) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "${event}" within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    socket.once(event, (...args) => { clearTimeout(t); resolve(args[0]); });
  });
}

// As in the guide: autoConnect off, auth set just before connect(). Over https the server's
// certificate is self-signed: Node must be told to accept it (a browser would ask the person).
function guideSocket() {
  return io(url, { autoConnect: false, transports, reconnection: false, rejectUnauthorized: false });
}

async function login(username) {
  const socket = guideSocket();
  socket.auth = { username };
  const session = once(socket, "session");
  const users = once(socket, "users");
  // The transport the engine opened with (before any upgrade).
  socket.io.once("open", () => { socket.firstTransport = socket.io.engine.transport.name; });
  socket.connect();
  const s = await session;
  socket.auth = { sessionID: s.sessionID };
  socket.userID = s.userID;
  return { socket, session: s, users: await users };
}

try {
  // A refused handshake comes back as connect_error "invalid username".
  const refused = guideSocket();
  refused.auth = { username: "" };
  const err = once(refused, "connect_error");
  refused.connect();
  const e = await err;
  if (e.message !== "invalid username") fail(`refusal message: ${e.message}`);
  refused.close();
  step("refused", { message: e.message });

  const alice = await login("alice");
  const announced = once(alice.socket, "user connected");
  const bob = await login("bob");
  const seen = await announced;
  if (seen.userID !== bob.session.userID || seen.username !== "bob" || seen.connected !== true)
    fail(`user connected: ${JSON.stringify(seen)}`);
  step("login", { transport: alice.socket.firstTransport });

  // Part I/III: a private message, as the guide emits it (no ack)...
  const incoming = once(bob.socket, "private message");
  alice.socket.emit("private message", { content: "hello from the guide", to: bob.session.userID });
  const m = await incoming;
  if (m.from !== alice.session.userID || m.to !== bob.session.userID || m.content !== "hello from the guide")
    fail(`private message: ${JSON.stringify(m)}`);
  // ...and with our additive ack.
  const ack = await alice.socket.timeout(TIMEOUT_MS).emitWithAck("private message", {
    content: "with ack", to: bob.session.userID,
  });
  if (typeof ack.id !== "number" || ack.content !== "with ack" || ack.from !== alice.session.userID)
    fail(`ack: ${JSON.stringify(ack)}`);
  // With the default transports the connection starts on polling and upgrades to websocket.
  const engine = alice.socket.io.engine;
  if (engine.transport.name !== "websocket") await once(engine, "upgrade");
  step("message", { id: ack.id, upgraded: engine.transport.name });

  // Part II: the stored sessionID brings back the same user, with history (part III).
  const gone = once(bob.socket, "user disconnected");
  alice.socket.disconnect();
  const goneId = await gone;
  if (goneId !== alice.session.userID) fail(`user disconnected: ${JSON.stringify(goneId)}`);
  const session = once(alice.socket, "session");
  const users = once(alice.socket, "users");
  alice.socket.connect();
  const s2 = await session;
  if (s2.userID !== alice.session.userID || s2.sessionID !== alice.session.sessionID)
    fail(`resume: ${JSON.stringify(s2)}`);
  const list = await users;
  const withBob = list.find((u) => u.userID === bob.session.userID);
  if (!withBob || withBob.messages.map((x) => x.content).join("|") !== "hello from the guide|with ack")
    fail(`history: ${JSON.stringify(withBob)}`);
  step("resume", { users: list.length });

  alice.socket.close();
  bob.socket.close();
  process.exit(0);
} catch (e) {
  fail(String(e && e.stack || e));
}
