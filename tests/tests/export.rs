//! `natter-server admin export USER FILE`: everything of one person in an archive that reads
//! back: their profile, each conversation with all its messages, their groups, the files they
//! sent, and nothing of conversations they are not part of.

use std::collections::HashMap;
use std::io::Read;

use natter_protocol::event;
use natter_tests::{SioClient, fresh_server, http};
use serde_json::{Value, json};

fn entries(path: &std::path::Path) -> HashMap<String, Vec<u8>> {
    let mut tar = tar::Archive::new(std::fs::File::open(path).expect("the export"));
    let mut out = HashMap::new();
    for entry in tar.entries().expect("a tar archive") {
        let mut entry = entry.expect("an entry");
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.insert(name, bytes);
    }
    out
}

fn json_of(entries: &HashMap<String, Vec<u8>>, name: &str) -> Value {
    serde_json::from_slice(
        entries
            .get(name)
            .unwrap_or_else(|| panic!("{name} in {:?}", entries.keys())),
    )
    .expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_holds_everything_of_the_person_and_nothing_else() {
    let (dir, server) = fresh_server(&[]).await;
    let alice = SioClient::login(&server.url, "alice").await;
    let bob = SioClient::login(&server.url, "bob").await;
    let carol = SioClient::login(&server.url, "carol").await;
    let (b, c) = (bob.session.user_id.clone(), carol.session.user_id.clone());
    let picture: Vec<u8> = (0..5000u32).map(|i| (i % 256) as u8).collect();
    let up = http::upload(
        &server,
        &alice.session.session_id,
        "holiday.png",
        "image/png",
        picture.clone(),
    )
    .await;
    let file_id = up.json()["fileID"].as_str().unwrap().to_owned();
    alice.client.send(&b, "hello bob").await;
    alice
        .client
        .ack(
            event::PRIVATE_MESSAGE,
            json!({"to": b, "content": "look", "attachment": {"fileID": file_id}}),
        )
        .await;
    bob.client.send(&alice.session.user_id, "nice!").await;
    bob.client.send(&c, "between bob and carol only").await;
    let group = alice
        .client
        .ack(
            event::CREATE_GROUP,
            json!({"name": "Lunch", "members": [c]}),
        )
        .await;
    let g = group["groupID"].as_str().unwrap().to_owned();
    carol
        .client
        .ack(event::GROUP_MESSAGE, json!({"to": g, "content": "pizza?"}))
        .await;

    let out = dir.path().join("alice-export.tar");
    let (ok, said, err) = server
        .admin(&["export", "alice", &out.display().to_string()], "")
        .await;
    assert!(ok, "{err}");
    assert!(
        said.contains("2 conversations, 4 messages, 1 files"),
        "{said}"
    );
    let e = entries(&out);
    let profile = json_of(&e, "profile.json");
    assert_eq!(profile["username"], "alice");
    assert_eq!(profile["userID"], alice.session.user_id.as_str());
    let with_bob = json_of(&e, &format!("conversations/{b}.json"));
    assert_eq!(with_bob["name"], "bob");
    let contents: Vec<&str> = with_bob["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["hello bob", "look", "nice!"]);
    let lunch = json_of(&e, &format!("conversations/{g}.json"));
    assert_eq!(lunch["messages"][0]["content"], "pizza?");
    assert_eq!(json_of(&e, "groups.json")[0]["name"], "Lunch");
    assert_eq!(e[&format!("files/{file_id}/holiday.png")], picture);
    assert!(
        !e.keys().any(|k| k.contains(&format!("conversations/{c}"))),
        "alice never talked with carol alone: {:?}",
        e.keys()
    );
    let all = String::from_utf8_lossy(&std::fs::read(&out).unwrap()).into_owned();
    assert!(!all.contains("between bob and carol only"));

    let (ok, _, err) = server
        .admin(
            &[
                "export",
                "nobody",
                &dir.path().join("x.tar").display().to_string(),
            ],
            "",
        )
        .await;
    assert!(!ok && err.contains("no user"), "{err}");
}
