//! Group conversations and search, from outside: the official socket.io JavaScript client on
//! one node (every rule of the wire), and members on two cluster nodes over a real Redis.

use natter_protocol::event;
use natter_tests::redis::RedisServer;
use natter_tests::{SioClient, TestServer, fresh_server, js};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_search_with_the_official_client() {
    let (_dir, server) = fresh_server(&[]).await;
    let stdout = js::run("groups_client.mjs", &[server.url.as_str()], &server).await;
    js::assert_steps(
        &stdout,
        &[
            "create group",
            "bad groups refused",
            "group message",
            "non-member refused",
            "add members",
            "leave group",
            "group read markers",
            "search",
            "done",
        ],
    );
}

/// Groups survive a restart: members, messages and markers are in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(dir.path(), &[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let group = alice
        .client
        .ack(
            event::CREATE_GROUP,
            json!({"name": "team", "members": [bob.session.user_id]}),
        )
        .await;
    let g = group["groupID"].as_str().expect("created").to_owned();
    let sent = alice
        .client
        .ack(event::GROUP_MESSAGE, json!({"to": g, "content": "standup"}))
        .await;
    assert!(sent["id"].is_u64(), "{sent}");
    server.stop().await;
    let server = TestServer::start(dir.path(), &[]).await;
    let mut bob = SioClient::resume(&server.url, &bob.session.session_id).await;
    let groups = bob.client.next(event::GROUPS).await;
    assert_eq!(groups[0]["groupID"], g);
    assert_eq!(groups[0]["members"].as_array().map(Vec::len), Some(2));
    assert_eq!(groups[0]["messages"][0]["content"], "standup");
    assert_eq!(groups[0]["unread"], 1);
}

/// Members on different nodes: creation, messages and leaving reach everyone; search says
/// clearly that the cluster cannot do it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_members_on_different_nodes() {
    let redis = RedisServer::start().await;
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let n1 = TestServer::start_node(d1.path(), &redis.url, None).await;
    let n2 = TestServer::start_node(d2.path(), &redis.url, Some(&n1)).await;
    let mut alice = SioClient::login(&n1.url, "alice").await;
    let mut bob = SioClient::login(&n2.url, "bob").await;
    let mut carol = SioClient::login(&n2.url, "carol").await;
    alice.client.next(event::GROUPS).await;
    bob.client.next(event::GROUPS).await;

    let group = alice
        .client
        .ack(
            event::CREATE_GROUP,
            json!({"name": "ops", "members": [bob.session.user_id]}),
        )
        .await;
    let g = group["groupID"].as_str().expect("created").to_owned();
    assert_eq!(bob.client.next(event::GROUP).await["groupID"], g);

    let sent = bob
        .client
        .ack(
            event::GROUP_MESSAGE,
            json!({"to": g, "content": "from node 2"}),
        )
        .await;
    let got = alice.client.next(event::GROUP_MESSAGE).await;
    assert_eq!(got["id"], sent["id"]);
    let refused = carol
        .client
        .ack(event::GROUP_MESSAGE, json!({"to": g, "content": "x"}))
        .await;
    assert_eq!(refused["code"], "not_member");

    let added = bob
        .client
        .ack(
            event::ADD_MEMBERS,
            json!({"groupID": g, "members": [carol.session.user_id]}),
        )
        .await;
    assert_eq!(added["members"].as_array().map(Vec::len), Some(3));
    assert_eq!(carol.client.next(event::GROUP).await["groupID"], g);
    alice
        .client
        .ack(event::GROUP_MESSAGE, json!({"to": g, "content": "welcome"}))
        .await;
    assert_eq!(
        carol.client.next(event::GROUP_MESSAGE).await["content"],
        "welcome"
    );
    let members = |v: Value| v["members"].as_array().map(Vec::len);
    assert_eq!(
        members(bob.client.next(event::GROUP).await),
        Some(3),
        "added"
    );
    assert_eq!(
        alice
            .client
            .ack(event::LEAVE_GROUP, json!({"groupID": g}))
            .await,
        json!({"ok": true})
    );
    assert_eq!(
        members(bob.client.next(event::GROUP).await),
        Some(2),
        "left"
    );

    // Unread at login, from the Redis store.
    let carol2 = SioClient::resume(&n1.url, &carol.session.session_id).await;
    let mut carol2 = carol2;
    let groups = carol2.client.next(event::GROUPS).await;
    // A member added later sees the whole history: both messages from others are unread.
    assert_eq!(groups[0]["unread"], 2, "{groups}");
    let page = carol
        .client
        .ack(event::FETCH_MESSAGES, json!({"with": g}))
        .await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(2));

    let search = bob
        .client
        .ack(event::SEARCH_MESSAGES, json!({"q": "welcome"}))
        .await;
    assert_eq!(search["code"], "unsupported", "{search}");
}
