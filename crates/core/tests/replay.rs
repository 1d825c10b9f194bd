//! Property tests: whatever the commands, replaying the emitted events from empty state gives
//! exactly the router's state, and the invariants hold after every step.

mod common;

use common::Centre;
use common::workload::{Op, run};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    let byte = any::<u8>;
    prop_oneof![
        (byte(), byte(), byte(), byte(), byte(), byte()).prop_map(
            |(agent, tier, site, skills, chat, email)| Op::Login {
                agent,
                tier,
                site,
                skills,
                chat,
                email
            }
        ),
        byte().prop_map(|agent| Op::Ready { agent }),
        byte().prop_map(|agent| Op::NotReady { agent }),
        (byte(), any::<bool>()).prop_map(|(agent, force)| Op::Logout { agent, force }),
        (
            byte(),
            byte(),
            byte(),
            byte(),
            byte(),
            byte(),
            byte(),
            byte()
        )
            .prop_map(
                |(channel, service, level, language, priority, flags, customer, site)| Op::Create {
                    channel,
                    service,
                    level,
                    language,
                    priority,
                    flags,
                    customer,
                    site
                }
            ),
        any::<u16>().prop_map(|pick| Op::Abandon { pick }),
        (byte(), byte()).prop_map(|(agent, pick)| Op::Accept { agent, pick }),
        (byte(), byte()).prop_map(|(agent, pick)| Op::Reject { agent, pick }),
        (byte(), byte(), byte()).prop_map(|(agent, pick, outcome)| Op::Complete {
            agent,
            pick,
            outcome
        }),
        (byte(), byte(), byte()).prop_map(|(agent, pick, tier)| Op::Escalate { agent, pick, tier }),
        (byte(), byte(), byte()).prop_map(|(agent, pick, service)| Op::Transfer {
            agent,
            pick,
            service
        }),
        any::<u16>().prop_map(|secs| Op::Advance { secs }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replay_from_empty_state_equals_the_live_state(ops in proptest::collection::vec(op(), 1..300)) {
        let mut centre = Centre::new();
        let mut created = Vec::new();
        for op in &ops {
            run(&mut centre, op, &mut created);
        }
        centre.assert_replay_equal();
    }

    #[test]
    fn replay_in_two_halves_equals_replay_in_one(ops in proptest::collection::vec(op(), 1..200), cut in any::<prop::sample::Index>()) {
        let mut centre = Centre::new();
        let mut created = Vec::new();
        for op in &ops {
            run(&mut centre, op, &mut created);
        }
        let cut = cut.index(centre.log.len() + 1);
        let mut state = switchboard_core::State::replay(&centre.log[..cut]);
        for event in &centre.log[cut..] {
            state.apply(event);
        }
        prop_assert!(state == *centre.state());
        prop_assert_eq!(state.check_invariants(), Ok(()));
    }
}
