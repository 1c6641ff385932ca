// Everyday messaging with the official socket.io-client 4: edit, delete, reply, react,
// mentions and status, every rule of the wire, as a third-party client sees it.
//
//   node everyday_client.mjs URL [URL2]
//
// With URL2 (another node of the same cluster), the readers are there and the writers on URL:
// every change crosses nodes. Prints one JSON line per step; exits 0 when every check passed.
import { io } from "socket.io-client";

const [url, url2 = url] = process.argv.slice(2);
const TIMEOUT_MS = 10000;
const QUIET_MS = 500;

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
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
function once(socket, event) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "${event}" within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    socket.once(event, (...args) => { clearTimeout(t); resolve(args[0]); });
  });
}
// The events of that name that arrive within QUIET_MS.
function collect(socket, event) {
  const seen = [];
  const handler = (v) => seen.push(v);
  socket.on(event, handler);
  return new Promise((resolve) => setTimeout(() => { socket.off(event, handler); resolve(seen); }, QUIET_MS));
}
const ack = (socket, event, payload) => socket.timeout(TIMEOUT_MS).emitWithAck(event, payload);

async function connect(at, auth) {
  const socket = io(at, { autoConnect: false, reconnection: false, rejectUnauthorized: false, transports: ["websocket"] });
  socket.auth = auth;
  const session = once(socket, "session");
  const users = once(socket, "users");
  const groups = once(socket, "groups");
  socket.connect();
  const s = await session;
  return { socket, session: s, id: s.userID, users: await users, groups: await groups };
}
async function page(who, withId) {
  const p = await ack(who.socket, "fetch messages", { with: withId });
  check(Array.isArray(p.messages), `a page: ${JSON.stringify(p)}`);
  return p.messages;
}
async function refused(who, event, payload, code) {
  const r = await ack(who.socket, event, payload);
  check(r.code === code, `${event} ${JSON.stringify(payload)}: expected ${code}, got ${JSON.stringify(r)}`);
}

try {
  const alice = await connect(url, { username: "alice" });
  const alice2 = await connect(url2, { sessionID: alice.session.sessionID });
  const bob = await connect(url2, { username: "bob" });
  const carol = await connect(url2, { username: "carol" });

  // --- edit ------------------------------------------------------------------------------
  const typoIn = once(bob.socket, "private message");
  const typo = await ack(alice.socket, "private message", { to: bob.id, content: "teh report is due" });
  check(typeof typo.id === "number", `sent: ${JSON.stringify(typo)}`);
  await typoIn;
  await refused(bob, "edit message", { id: typo.id, content: "mine now" }, "not_author");
  await refused(carol, "edit message", { id: typo.id, content: "x" }, "unknown_message");
  await refused(alice, "edit message", { id: 999999, content: "x" }, "unknown_message");
  await refused(alice, "edit message", { id: typo.id, content: "a\u0007b" }, "invalid_content");
  await refused(alice, "edit message", { id: typo.id, content: "x".repeat(16 * 1024 + 1) }, "message_too_long");
  await refused(alice, "edit message", { id: typo.id, content: "   " }, "empty_message");
  await refused(alice, "edit message", { id: "one", content: "x" }, "invalid_payload");
  const toBob = once(bob.socket, "message edited");
  const toAlice2 = once(alice2.socket, "message edited");
  const notAlice = collect(alice.socket, "message edited");
  const notCarol = collect(carol.socket, "message edited");
  const edited = await ack(alice.socket, "edit message", { id: typo.id, content: "the report is due" });
  check(edited.ok === true && edited.message.content === "the report is due" && edited.message.editedTs >= typo.ts,
    `edit ack: ${JSON.stringify(edited)}`);
  const seen = await toBob;
  check(same(seen, { id: typo.id, from: alice.id, to: bob.id, content: "the report is due", editedTs: edited.message.editedTs }),
    `message edited: ${JSON.stringify(seen)}`);
  check((await toAlice2).id === typo.id, "the author's other socket hears it");
  check((await notAlice).length === 0, "the editing socket is not told");
  check((await notCarol).length === 0, "carol is not told");
  const afterEdit = (await page(bob, alice.id)).find((m) => m.id === typo.id);
  check(afterEdit.content === "the report is due" && afterEdit.editedTs === edited.message.editedTs, `history: ${JSON.stringify(afterEdit)}`);
  step("edit");

  // --- reply -----------------------------------------------------------------------------
  const elsewhere = await ack(carol.socket, "private message", { to: alice.id, content: "not yours" });
  await refused(bob, "private message", { to: alice.id, content: "re", replyTo: elsewhere.id }, "unknown_message");
  await refused(bob, "private message", { to: alice.id, content: "re", replyTo: 999999 }, "unknown_message");
  const replyIn = once(alice.socket, "private message");
  const reply = await ack(bob.socket, "private message", { to: alice.id, content: "when?", replyTo: typo.id });
  check(same(reply.replyTo, { id: typo.id, from: alice.id, excerpt: "the report is due" }), `reply: ${JSON.stringify(reply)}`);
  check(same((await replyIn).replyTo, reply.replyTo), "delivered with its quote");
  const long = await ack(alice.socket, "private message", { to: bob.id, content: "é".repeat(150) });
  const longReply = await ack(bob.socket, "private message", { to: alice.id, content: "ok", replyTo: long.id });
  check([...longReply.replyTo.excerpt].length === 100, `excerpt of 100 characters: ${longReply.replyTo.excerpt.length}`);
  const stored = (await page(alice, bob.id)).map((m) => m.id);
  check(!stored.includes(elsewhere.id), "a refused reply stored nothing");
  step("reply");

  // --- react -----------------------------------------------------------------------------
  for (const emoji of ["x", "👍👍", ":thumbsup:", "", "<b>"]) {
    await refused(bob, "react", { id: typo.id, emoji, on: true }, "invalid_emoji");
  }
  await refused(carol, "react", { id: typo.id, emoji: "👍", on: true }, "unknown_message");
  const reactionIn = once(alice.socket, "reaction");
  const r1 = await ack(bob.socket, "react", { id: typo.id, emoji: "👍", on: true });
  check(same(r1, { ok: true, reactions: [{ emoji: "👍", users: [bob.id] }] }), `react ack: ${JSON.stringify(r1)}`);
  check(same(await reactionIn, { id: typo.id, from: alice.id, to: bob.id, emoji: "👍", userID: bob.id, on: true }), "reaction event");
  const quiet = collect(alice.socket, "reaction");
  const again = await ack(bob.socket, "react", { id: typo.id, emoji: "👍", on: true });
  check(same(again.reactions, r1.reactions), "twice: the same");
  check((await quiet).length === 0, "twice: nothing sent");
  await ack(alice.socket, "react", { id: typo.id, emoji: "🎉", on: true });
  await ack(alice.socket, "react", { id: typo.id, emoji: "👍", on: true });
  const reacted = (await page(bob, alice.id)).find((m) => m.id === typo.id);
  check(same(reacted.reactions, [{ emoji: "👍", users: [bob.id, alice.id] }, { emoji: "🎉", users: [alice.id] }]),
    `reactions in history: ${JSON.stringify(reacted.reactions)}`);
  const off = await ack(alice.socket, "react", { id: typo.id, emoji: "🎉", on: false });
  check(same(off.reactions, [{ emoji: "👍", users: [bob.id, alice.id] }]), `un-react: ${JSON.stringify(off)}`);
  const many = ["😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😂", "🙂", "🙃", "😉", "😊", "😇", "🥰", "😍", "🤩", "😘", "😗", "😚"];
  for (const emoji of many) await ack(bob.socket, "react", { id: typo.id, emoji, on: true });
  await refused(bob, "react", { id: typo.id, emoji: "🦀", on: true }, "too_many_reactions");
  step("react");

  // --- delete ----------------------------------------------------------------------------
  await refused(bob, "delete message", { id: typo.id }, "not_author");
  await refused(carol, "delete message", { id: typo.id }, "unknown_message");
  const deletedIn = once(bob.socket, "message deleted");
  const del = await ack(alice.socket, "delete message", { id: typo.id });
  check(same(del, { ok: true }), `delete ack: ${JSON.stringify(del)}`);
  check(same(await deletedIn, { id: typo.id, from: alice.id, to: bob.id }), "message deleted event");
  const history = await page(bob, alice.id);
  const tomb = history.find((m) => m.id === typo.id);
  check(same(tomb, { id: typo.id, from: alice.id, to: bob.id, ts: typo.ts, deleted: true }), `tombstone: ${JSON.stringify(tomb)}`);
  const quoted = history.find((m) => m.id === reply.id);
  check(same(quoted.replyTo, { id: typo.id, from: alice.id, deleted: true }), `reply to a deleted message: ${JSON.stringify(quoted)}`);
  await refused(alice, "edit message", { id: typo.id, content: "back" }, "deleted");
  await refused(bob, "react", { id: typo.id, emoji: "👍", on: true }, "deleted");
  await refused(alice, "delete message", { id: typo.id }, "deleted");
  step("delete");

  // --- mentions --------------------------------------------------------------------------
  const dave = await connect(url2, { username: "dave" });
  const group = await ack(alice.socket, "create group", { name: "team", members: [bob.id, carol.id] });
  const g = group.groupID;
  const inGroup = once(bob.socket, "group message");
  const m1 = await ack(alice.socket, "group message", { to: g, content: "@bob @dave look", mentions: [bob.id, dave.id, bob.id, "nobody"] });
  check(same(m1.mentions, [bob.id]), `members only, once: ${JSON.stringify(m1.mentions)}`);
  check(same((await inGroup).mentions, [bob.id]), "delivered with its mentions");
  await ack(carol.socket, "group message", { to: g, content: "hi all" });
  const m3 = await ack(carol.socket, "group message", { to: g, content: "@bob again", mentions: [bob.id] });
  const bobAgain = await connect(url2, { sessionID: bob.session.sessionID });
  const team = bobAgain.groups.find((x) => x.groupID === g);
  check(team.unread === 3 && team.mentions === 2, `unread and mentions at login: ${JSON.stringify(team)}`);
  // Group changes reach every member's sockets but the author's.
  const editInGroup = once(carol.socket, "message edited");
  await ack(alice.socket, "edit message", { id: m1.id, content: "@bob look now" });
  check((await editInGroup).to === g, "group edit reaches members");
  const reactInGroup = once(alice.socket, "reaction");
  await ack(bob.socket, "react", { id: m3.id, emoji: "👀", on: true });
  check((await reactInGroup).to === g, "group reaction reaches members");
  await ack(carol.socket, "delete message", { id: m3.id });
  const bobThird = await connect(url2, { sessionID: bob.session.sessionID });
  const teamAfter = bobThird.groups.find((x) => x.groupID === g);
  check(teamAfter.unread === 2 && teamAfter.mentions === 1, `after a deletion: ${JSON.stringify(teamAfter)}`);
  await refused(dave, "react", { id: m1.id, emoji: "👍", on: true }, "unknown_message");
  step("mentions");

  // --- status ----------------------------------------------------------------------------
  await refused(alice, "set status", { state: "gone" }, "invalid_payload");
  await refused(alice, "set status", { state: "away", text: "x".repeat(81) }, "invalid_status");
  await refused(alice, "set status", { state: "away", text: "a\u202Eb" }, "invalid_status");
  const statusIn = once(bob.socket, "status");
  const statusToAlice2 = once(alice2.socket, "status");
  const set = await ack(alice.socket, "set status", { state: "away", text: " at lunch " });
  check(same(set, { ok: true }), `set status ack: ${JSON.stringify(set)}`);
  check(same(await statusIn, { userID: alice.id, state: "away", text: "at lunch" }), "status event");
  check((await statusToAlice2).state === "away", "her other socket hears it");
  const erin = await connect(url2, { username: "erin" });
  const listed = erin.users.find((u) => u.userID === alice.id);
  check(listed.status === "away" && listed.statusText === "at lunch", `users carries it: ${JSON.stringify(listed)}`);
  check(erin.users.find((u) => u.userID === bob.id).status === undefined, "available is not said");
  await ack(alice.socket, "set status", { state: "available" });
  step("status");

  for (const c of [alice, alice2, bob, carol, dave, bobAgain, bobThird, erin]) c.socket.close();
  step("done");
  process.exit(0);
} catch (e) {
  fail(String(e && e.stack || e));
}
