// Groups and search with the official socket.io-client 4, against a running natter-server:
// every rule of the wire, as a third-party client would see it.
//
//   node groups_client.mjs URL
//
// Prints one JSON line per step and exits 0 when every check passed, 1 otherwise.
import { io } from "socket.io-client";

const [url] = process.argv.slice(2);
const TIMEOUT_MS = 10000;
const QUIET_MS = 400;

function fail(msg) {
  console.log(JSON.stringify({ ok: false, error: msg }));
  process.exit(1);
}
function step(name, data = {}) {
  console.log(JSON.stringify({ ok: true, step: name, ...data }));
}
function check(cond, msg) {
  if (!cond) fail(msg);
}
function once(socket, event) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "${event}" within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    socket.once(event, (...args) => { clearTimeout(t); resolve(args[0]); });
  });
}
// Resolves with the events of that name that arrive within QUIET_MS.
function collect(socket, event) {
  const seen = [];
  const handler = (v) => seen.push(v);
  socket.on(event, handler);
  return new Promise((resolve) => setTimeout(() => { socket.off(event, handler); resolve(seen); }, QUIET_MS));
}
const ack = (socket, event, payload) => socket.timeout(TIMEOUT_MS).emitWithAck(event, payload);

async function connect(auth) {
  const socket = io(url, { autoConnect: false, reconnection: false, rejectUnauthorized: false, transports: ["websocket"] });
  socket.auth = auth;
  const session = once(socket, "session");
  const users = once(socket, "users");
  const groups = once(socket, "groups");
  socket.connect();
  const s = await session;
  return { socket, session: s, id: s.userID, users: await users, groups: await groups };
}

try {
  const alice = await connect({ username: "alice" });
  const alice2 = await connect({ sessionID: alice.session.sessionID });
  const bob = await connect({ username: "bob" });
  const carol = await connect({ username: "carol" });
  const dave = await connect({ username: "dave" });
  check(Array.isArray(alice.groups) && alice.groups.length === 0, `groups at first login: ${JSON.stringify(alice.groups)}`);

  // create group: ack to the creator, `group` to every member's sockets, nobody else.
  const toBob = once(bob.socket, "group");
  const toAlice2 = once(alice2.socket, "group");
  const notDave = collect(dave.socket, "group");
  const created = await ack(alice.socket, "create group", { name: "  Lunch crew ", members: [bob.id, carol.id, bob.id] });
  check(typeof created.groupID === "string" && created.name === "Lunch crew", `create ack: ${JSON.stringify(created)}`);
  check(JSON.stringify(created.members) === JSON.stringify([alice.id, bob.id, carol.id]), `members: ${JSON.stringify(created.members)}`);
  check(created.createdBy === alice.id, "createdBy");
  const g = created.groupID;
  const bobSaw = await toBob;
  check(bobSaw.groupID === g && bobSaw.name === "Lunch crew" && bobSaw.members.length === 3, `group to bob: ${JSON.stringify(bobSaw)}`);
  check((await toAlice2).groupID === g, "group to the creator's other socket");
  check((await notDave).length === 0, "dave is not told");
  step("create group", { groupID: g });

  // Bad groups change nothing.
  for (const [payload, code] of [
    [{ name: "   ", members: [bob.id] }, "invalid_name"],
    [{ name: "x".repeat(65), members: [] }, "invalid_name"],
    [{ name: "ok", members: ["nobody"] }, "unknown_user"],
    [{ name: "ok", members: "bob" }, "invalid_payload"],
  ]) {
    const r = await ack(alice.socket, "create group", payload);
    check(r.code === code, `create ${JSON.stringify(payload)}: ${JSON.stringify(r)}`);
  }
  step("bad groups refused");

  // group message: stored, acked, to every member's sockets but the sending one.
  const toCarol = once(carol.socket, "group message");
  const toAlice2m = once(alice2.socket, "group message");
  const notAlice = collect(alice.socket, "group message");
  const notDaveM = collect(dave.socket, "group message");
  const sent = await ack(alice.socket, "group message", { to: g, content: "pizza at noon?", clientId: "c1" });
  check(typeof sent.id === "number" && sent.to === g && sent.from === alice.id && sent.content === "pizza at noon?", `ack: ${JSON.stringify(sent)}`);
  const carolGot = await toCarol;
  check(carolGot.id === sent.id && carolGot.to === g, `to carol: ${JSON.stringify(carolGot)}`);
  check((await toAlice2m).id === sent.id, "to the sender's other socket");
  check((await notAlice).length === 0, "not echoed to the sending socket");
  check((await notDaveM).length === 0, "not to a non-member");
  // A retry with the same clientId is the same message, delivered once.
  const bobRetry = collect(bob.socket, "group message");
  const again = await ack(alice.socket, "group message", { to: g, content: "pizza at noon?", clientId: "c1" });
  check(again.id === sent.id, "idempotent retry");
  const bobSawRetry = await bobRetry;
  check(bobSawRetry.length === 0, `the retry was delivered again (${bobSawRetry.length} copies)`);
  step("group message", { id: sent.id });

  // A non-member: refused, nothing stored or sent.
  const quiet = collect(bob.socket, "group message");
  const refused = await ack(dave.socket, "group message", { to: g, content: "let me in" });
  check(refused.code === "not_member", `non-member: ${JSON.stringify(refused)}`);
  check((await ack(dave.socket, "group message", { to: "g-0000000000000000", content: "x" })).code === "not_member", "unknown group");
  check((await ack(dave.socket, "private message", { to: g, content: "x" })).code === "unknown_user", "a group is not a user");
  check((await ack(dave.socket, "fetch messages", { with: g })).code === "not_member", "non-member fetch");
  check((await ack(dave.socket, "add members", { groupID: g, members: [dave.id] })).code === "not_member", "non-member add");
  check((await quiet).length === 0, "nothing delivered");
  const page = await ack(bob.socket, "fetch messages", { with: g });
  check(page.messages.length === 1 && page.messages[0].content === "pizza at noon?", `stored: ${JSON.stringify(page)}`);
  step("non-member refused");

  // add members: dave gets the group, then its messages.
  const daveGets = once(dave.socket, "group");
  const carolUpdate = once(carol.socket, "group");
  const added = await ack(bob.socket, "add members", { groupID: g, members: [dave.id] });
  check(added.members.length === 4 && added.members[3] === dave.id, `added: ${JSON.stringify(added)}`);
  check((await daveGets).members.includes(dave.id), "dave told");
  check((await carolUpdate).members.length === 4, "members told");
  const daveMsg = once(dave.socket, "group message");
  await ack(carol.socket, "group message", { to: g, content: "yes! 🍕" });
  check((await daveMsg).content === "yes! 🍕", "new member receives");
  step("add members");

  // leave group: the leaver's sockets and the remaining members hear it; no more messages.
  const carolLeft = once(carol.socket, "group");
  const bobSeesLeave = once(bob.socket, "group");
  check((await ack(carol.socket, "leave group", { groupID: g })).ok === true, "leave ack");
  check(!(await carolLeft).members.includes(carol.id), "the leaver's socket hears it");
  check((await bobSeesLeave).members.length === 3, "members hear it");
  const carolQuiet = collect(carol.socket, "group message");
  await ack(bob.socket, "group message", { to: g, content: "carol left" });
  check((await carolQuiet).length === 0, "a former member gets nothing");
  check((await ack(carol.socket, "group message", { to: g, content: "x" })).code === "not_member", "a former member cannot send");
  step("leave group");

  // Read markers in a group: unread at login, cleared by a marker, synced to own sockets only.
  const bob2 = await connect({ sessionID: bob.session.sessionID });
  const entry = bob2.groups.find((x) => x.groupID === g);
  check(entry && entry.name === "Lunch crew" && entry.messages.length === 3, `groups at login: ${JSON.stringify(bob2.groups)}`);
  check(entry.unread === 2, `bob's unread: ${entry.unread}`);
  const last = entry.messages[entry.messages.length - 1];
  const bobSync = once(bob2.socket, "read");
  const aliceQuiet = collect(alice.socket, "read");
  check((await ack(bob.socket, "read", { with: g, upTo: last.id })).ok === true, "read ack");
  check((await bobSync).to === g, "own socket synced");
  check((await aliceQuiet).length === 0, "group markers stay private");
  const bob3 = await connect({ sessionID: bob.session.sessionID });
  check(!bob3.groups.find((x) => x.groupID === g).unread, "unread cleared");
  check((await ack(dave.socket, "read", { with: g, upTo: sent.id })).ok === true, "a member marks");
  check((await ack(carol.socket, "read", { with: g, upTo: sent.id })).code === "not_member", "a former member cannot");
  step("group read markers");

  // Search: own conversations only, newest first, in one conversation with `with`.
  await ack(alice.socket, "private message", { to: bob.id, content: "the PIZZA place on 5th" });
  await ack(carol.socket, "private message", { to: dave.id, content: "secret pizza plans" });
  const found = await ack(alice.socket, "search messages", { q: "pizza" });
  check(found.messages.length === 2, `alice finds ${JSON.stringify(found)}`);
  check(found.messages[0].content === "the PIZZA place on 5th" && found.messages[1].content === "pizza at noon?", "newest first");
  const inGroup = await ack(alice.socket, "search messages", { q: "pizza", with: g });
  check(inGroup.messages.length === 1 && inGroup.messages[0].to === g, `with: ${JSON.stringify(inGroup)}`);
  const part = await ack(bob.socket, "search messages", { q: "izz" });
  check(part.messages.length === 2, `word parts: ${JSON.stringify(part)}`);
  const emoji = await ack(bob.socket, "search messages", { q: "yes! 🍕" });
  check(emoji.messages.length === 1, `non-Latin text: ${JSON.stringify(emoji)}`);
  const carols = await ack(carol.socket, "search messages", { q: "pizza" });
  check(carols.messages.length === 1 && carols.messages[0].content === "secret pizza plans", `a former member: ${JSON.stringify(carols)}`);
  for (const [payload, code] of [
    [{ q: "pi" }, "invalid_query"],
    [{ q: "x".repeat(300) }, "invalid_query"],
    [{ q: "pizza", with: g }, "not_member"],
    [{ q: 42 }, "invalid_payload"],
  ]) {
    const r = await ack(carol.socket, "search messages", payload);
    check(r.code === code, `search ${JSON.stringify(payload).slice(0, 60)}: ${JSON.stringify(r)}`);
  }
  const quoted = await ack(alice.socket, "search messages", { q: '" OR 1 -- NEAR(' });
  check(Array.isArray(quoted.messages) && quoted.messages.length === 0, `query syntax is text: ${JSON.stringify(quoted)}`);
  step("search");

  for (const c of [alice, alice2, bob, bob2, bob3, carol, dave]) c.socket.close();
  step("done");
  process.exit(0);
} catch (e) {
  fail(String(e && e.stack || e));
}
