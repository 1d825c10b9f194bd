//! The keystore's JetStream KV backend on a real nats-server: keys survive a reload by another
//! handle, the bucket keeps one revision per key, and an erased key is unreadable through the
//! bucket and absent from the bytes of the server's store directory, while another customer's
//! key is still there (the scan's control).

use std::path::Path;

use async_nats::jetstream;
use switchboard_natsd::NatsServer;
use switchboard_privacy::{Changes, ERASED, KvKeystore, KvKeystoreConfig, Unsealed};

/// Whether any file under `dir` contains `needle`.
fn store_contains(dir: &Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            store_contains(&path, needle)
        } else {
            std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        }
    })
}

#[test]
fn an_erased_key_is_gone_from_the_bucket_and_from_the_servers_disk() {
    let mut server = NatsServer::start().expect("nats-server");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = KvKeystoreConfig {
        bucket: "switchboard_keys".to_owned(),
        replicas: 1,
    };
    let (alice_key, bob_key) = rt.block_on(async {
        let client = async_nats::connect(server.client_url())
            .await
            .expect("connect");
        let js = jetstream::new(client);
        let store = KvKeystore::open(&js, &config).await.expect("open");
        let mut keys = store.load().await.expect("load");
        let mut changes = Changes::default();
        let alice = keys.customer("CUST-1001");
        let bob = keys.customer("CUST-2002");
        let alice_name = keys
            .seal(alice, b"Alice Example", &mut changes)
            .expect("seal");
        let bob_name = keys.seal(bob, b"Bob Example", &mut changes).expect("seal");
        store.save(&keys, &changes).await.expect("save");

        // Another handle (another node, or this one restarted) reads the same domain.
        let again = KvKeystore::open(&js, &config).await.expect("reopen");
        let mut loaded = again.load().await.expect("reload");
        assert_eq!(
            loaded.customer("CUST-1001"),
            alice,
            "the same domain secret"
        );
        assert_eq!(
            loaded.unseal(&alice_name).expect("open").into_text(),
            "Alice Example"
        );
        let kv = js.get_key_value(&config.bucket).await.expect("bucket");
        let status = kv.status().await.expect("status");
        assert_eq!(status.info.config.max_messages_per_subject, 1, "history 1");

        let keys_of = |k: &switchboard_privacy::Keys, s| {
            k.iter()
                .find(|(p, _)| **p == s)
                .map(|(_, key)| *key.as_bytes())
        };
        let alice_key = keys_of(&loaded, alice).expect("alice's key");
        let bob_key = keys_of(&loaded, bob).expect("bob's key");

        let mut erased = Changes::default();
        assert!(loaded.erase(alice, &mut erased));
        again.save(&loaded, &erased).await.expect("erase");
        let after = store.load().await.expect("load after erasure");
        assert_eq!(after.unseal(&alice_name).expect("open"), Unsealed::Erased);
        assert_eq!(after.unseal(&alice_name).expect("open").into_text(), ERASED);
        assert_eq!(
            after.unseal(&bob_name).expect("open").into_text(),
            "Bob Example"
        );
        assert_eq!(kv.get(format!("s.{alice}")).await.expect("get"), None);
        (alice_key, bob_key)
    });
    server.stop().expect("stop the server, flushing its files");
    let dir = server.store_dir().to_path_buf();
    assert!(
        store_contains(&dir, &bob_key),
        "the scan finds a live key in {}",
        dir.display()
    );
    assert!(
        !store_contains(&dir, &alice_key),
        "an erased key is left in {}",
        dir.display()
    );
}
