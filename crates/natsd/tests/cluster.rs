//! Tests of the three-node JetStream cluster harness: random ports, one store each, fsync on
//! every write, a meta leader, and a server stopped, restarted and paused under it.

use switchboard_natsd::NatsCluster;

/// Reads `/varz` of server `index` and returns its JetStream configuration.
fn jetstream_config(cluster: &NatsCluster, index: usize) -> serde_json::Value {
    let varz = cluster
        .server(index)
        .monitor_json("/varz")
        .unwrap_or_else(|e| panic!("varz of n{}: {e}", index + 1));
    varz["jetstream"]["config"].clone()
}

#[test]
fn three_servers_form_one_jetstream_cluster_with_fsync_always() {
    let mut cluster = NatsCluster::start().expect("cluster");
    assert_eq!(cluster.len(), 3);
    let leader = cluster.wait_for_meta_leader().expect("leader");
    assert!(cluster.index_of(&leader).is_some(), "leader {leader:?}");

    let mut ports = Vec::new();
    let mut stores = Vec::new();
    for index in 0..3 {
        let server = cluster.server(index);
        assert_ne!(server.port(), 4222);
        ports.push(server.port());
        stores.push(server.store_dir().to_path_buf());
        let config = jetstream_config(&cluster, index);
        assert_eq!(config["sync_always"], true, "n{}: {config}", index + 1);
        let jsz = server.monitor_json("/jsz").expect("jsz");
        assert_eq!(jsz["meta_cluster"]["cluster_size"], 3, "{jsz}");
    }
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 3, "each server has a port of its own");
    stores.sort();
    stores.dedup();
    assert_eq!(stores.len(), 3, "each server has a store of its own");
    let urls = cluster.client_urls();
    assert_eq!(urls.split(',').count(), 3, "{urls}");
}

#[test]
fn a_stopped_server_leaves_a_quorum_and_rejoins_on_restart() {
    let mut cluster = NatsCluster::start().expect("cluster");
    let leader = cluster.wait_for_meta_leader().expect("leader");
    let index = cluster.index_of(&leader).expect("leader index");
    let port = cluster.server(index).port();

    // The leader goes: the two left elect another among themselves.
    cluster.server_mut(index).stop().expect("stop");
    let new_leader = cluster.wait_for_meta_leader().expect("a new leader");
    assert_ne!(new_leader, leader, "{}", cluster.logs());

    // It comes back on the same port and store, and follows the new leader.
    cluster.server_mut(index).restart().expect("restart");
    assert_eq!(cluster.server(index).port(), port);
    let after = cluster
        .wait_for_meta_leader()
        .expect("leader after restart");
    assert!(cluster.index_of(&after).is_some());
    let jsz = cluster.server(index).monitor_json("/jsz").expect("jsz");
    assert_eq!(jsz["meta_cluster"]["leader"], after.as_str(), "{jsz}");
}

#[test]
fn a_paused_server_is_frozen_and_resumes() {
    let mut cluster = NatsCluster::start().expect("cluster");
    let leader = cluster.wait_for_meta_leader().expect("leader");
    let leader = cluster.index_of(&leader);
    let follower = (0..3)
        .find(|&index| Some(index) != leader)
        .expect("a follower");
    let port = cluster.server(follower).port();
    cluster.server_mut(follower).pause().expect("pause");
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the kernel accepts");
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    let read = std::io::Read::read(&mut &stream, &mut byte);
    assert!(read.is_err(), "a frozen server sends no INFO: {read:?}");
    cluster.server_mut(follower).resume().expect("resume");
    assert!(cluster.server_mut(follower).is_running());
    cluster.wait_for_meta_leader().expect("leader after resume");
}
