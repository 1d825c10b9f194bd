//! The personal fields of the routing core's commands and events, sealed where a command comes
//! in and opened where output goes out (docs/privacy.md).
//!
//! The core stays pure: it is handed commands whose personal fields are already **tokens**,
//! strings it compares and carries but never opens, so its state, its events, the log, the
//! snapshots and the JetStream log hold no plaintext by construction. A token is
//! `sealed:` followed by the [`SealedValue`]'s bytes in unpadded URL-safe base64.
//!
//! - A **customer reference** becomes a token sealed under the customer's key with a nonce
//!   derived from the key and the reference, so the same customer gives the same token for as
//!   long as their key lives: "last agent", "case owner", duplicate refusal and the persistent
//!   complainant designation compare tokens. The token names the customer's pseudonym (its
//!   header), which is what an erasure and a retention schedule act on. Once the key is
//!   destroyed, a customer who comes back gets a new key, so a new token: they are not linked to
//!   their erased past.
//! - **Attribute values** and **free text** about a contact (the reason of an escalation, of a
//!   complaint stage change, of a due-time extension, of a persistent-complainant decision) are
//!   sealed under the contact's customer's key, or under the contact's own key when it has no
//!   customer reference, with a fresh nonce from the [`Sealer`]'s generator.
//! - Staff data (agent names, not-ready and offer-rejection reasons) is not sealed: it is kept
//!   under the council's employee-records schedule, outside customer erasure.
//!
//! [`open_event`] turns an event's tokens back into text for those entitled to it (the events
//! feed, offers, queries, `audit show`): the plaintext, or [`ERASED`] once the key is gone. A
//! string that is not a token (a log written before sealing) is left as it is.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use switchboard_core::{AgentId, Command, ContactId, CustomerId, Event, EventKind, State};

use crate::PrivacyError;
use crate::keys::{Changes, ERASED, KeyDelta, Keys, Unsealed};
use crate::pseudonym::Pseudonym;
use crate::seal::{KEY_ID_LEN, KeyId, NONCE_LEN, SealedValue, SubjectKey};

/// What every token starts with.
pub const TOKEN_PREFIX: &str = "sealed:";

/// The not-ready reason the core gives itself when an agent lets offers expire: a code about no
/// one, never sealed.
const MISSED_OFFERS: &str = "missed_offers";

/// What a token that is not a well-formed sealed value, or whose tag fails, reads as.
pub const UNREADABLE: &str = "[unreadable]";

/// A sealed value as the text the core carries.
#[must_use]
pub fn token(sealed: &SealedValue) -> String {
    let mut text = String::with_capacity(TOKEN_PREFIX.len() + sealed.as_bytes().len() * 4 / 3 + 4);
    text.push_str(TOKEN_PREFIX);
    URL_SAFE_NO_PAD.encode_string(sealed.as_bytes(), &mut text);
    text
}

/// The sealed value a token holds; `None` for a string that is not a token.
#[must_use]
pub fn parse_token(text: &str) -> Option<SealedValue> {
    let encoded = text.strip_prefix(TOKEN_PREFIX)?;
    let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    SealedValue::from_bytes(bytes).ok()
}

/// The subject a token was sealed for (a customer token's pseudonym).
#[must_use]
pub fn token_subject(text: &str) -> Option<Pseudonym> {
    parse_token(text).map(|sealed| sealed.subject())
}

/// Opens one string: a token's plaintext, [`ERASED`] when its key is gone, [`UNREADABLE`] when
/// it fails its tag; anything else as it is.
#[must_use]
pub fn open_text(keys: &Keys, text: &str) -> String {
    match parse_token(text) {
        None if text.starts_with(TOKEN_PREFIX) => UNREADABLE.to_owned(),
        None => text.to_owned(),
        Some(sealed) => match keys.unseal(&sealed) {
            Ok(Unsealed::Plain(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(Unsealed::Erased) => ERASED.to_owned(),
            Err(_) => UNREADABLE.to_owned(),
        },
    }
}

/// [`open_text`] for the core's shared strings; a string that is not a token is shared, not
/// copied.
#[must_use]
pub fn open_shared(keys: &Keys, text: &Arc<str>) -> Arc<str> {
    if text.starts_with(TOKEN_PREFIX) {
        Arc::from(open_text(keys, text))
    } else {
        Arc::clone(text)
    }
}

/// A stable token of `text` under `subject`'s key: sealed with a nonce derived from the key and
/// the text, so the same text gives the same token for as long as the key lives (a customer's
/// reference, which the core compares; a member of staff's reason, which it compares with the
/// one in force).
fn stable_token(key: &SubjectKey, subject: Pseudonym, text: &str) -> Result<String, PrivacyError> {
    let derived = blake3::derive_key("switchboard 2026 customer reference nonce", key.as_bytes());
    let hash = blake3::keyed_hash(&derived, text.as_bytes());
    let mut nonce = [0_u8; NONCE_LEN];
    nonce.copy_from_slice(&hash.as_bytes()[..NONCE_LEN]);
    let sealed = key.seal_with_nonce(subject, text.as_bytes(), nonce)?;
    Ok(token(&sealed))
}

/// The token the log holds for a customer's reference while their key lives (what a subject
/// access request looks for); `None` when the keys hold no key for them (erased, or never seen).
#[must_use]
pub fn find_customer_token(keys: &Keys, reference: &str) -> Option<String> {
    let subject = keys.customer(reference);
    let key = keys.key(subject)?;
    stable_token(key, subject, reference).ok()
}

/// Whether an event carries a personal field that may be a token.
#[must_use]
pub fn has_personal_fields(event: &Event) -> bool {
    match &event.kind {
        EventKind::ContactCreated(created) => {
            created.details.customer.is_some() || !created.details.attributes.is_empty()
        }
        EventKind::ContactEscalated { .. }
        | EventKind::AgentNotReady { .. }
        | EventKind::OfferRejected {
            reason: Some(_), ..
        }
        | EventKind::ComplaintStageChanged(_)
        | EventKind::DueTimeExtended(_)
        | EventKind::PersistentComplainantMarked { .. } => true,
        EventKind::PersonalDataErasureDeferred(erasure)
        | EventKind::PersonalDataErased(erasure) => erasure.customer.is_some(),
        _ => false,
    }
}

/// The event with every token opened (see the module documentation).
#[must_use]
pub fn open_event(keys: &Keys, event: &Event) -> Event {
    let mut event = event.clone();
    let open = |text: &mut Arc<str>| *text = open_shared(keys, text);
    match &mut event.kind {
        EventKind::ContactCreated(created) => {
            let details = &mut created.details;
            if let Some(customer) = &mut details.customer {
                *customer = CustomerId::new(open_text(keys, customer.as_str()));
            }
            details.attributes.iter_mut().for_each(|(_, v)| open(v));
        }
        EventKind::ContactEscalated { reason, .. }
        | EventKind::AgentNotReady { reason, .. }
        | EventKind::OfferRejected {
            reason: Some(reason),
            ..
        } => open(reason),
        EventKind::ComplaintStageChanged(changed) => open(&mut changed.reason),
        EventKind::DueTimeExtended(extended) => open(&mut extended.reason),
        EventKind::PersistentComplainantMarked {
            customer, reason, ..
        } => {
            *customer = CustomerId::new(open_text(keys, customer.as_str()));
            open(reason);
        }
        EventKind::PersonalDataErasureDeferred(erasure)
        | EventKind::PersonalDataErased(erasure) => {
            if let Some(customer) = &mut erasure.customer {
                *customer = CustomerId::new(open_text(keys, customer.as_str()));
            }
        }
        _ => {}
    }
    event
}

/// The engine's sealing: its copy of the keys, the changes not yet saved, and the generator its
/// keys and nonces come from (seeded from the operating system in production, from the run's
/// seed in a simulation, so that a simulated run is the same every time).
#[derive(Debug)]
pub struct Sealer {
    keys: Keys,
    rng: ChaCha20Rng,
    changes: Changes,
}

impl Sealer {
    /// A sealer over `keys` whose generator is seeded with `seed` (a simulation's).
    #[must_use]
    pub fn seeded(keys: Keys, seed: [u8; 32]) -> Self {
        Self {
            keys,
            rng: ChaCha20Rng::from_seed(seed),
            changes: Changes::default(),
        }
    }

    /// A sealer over `keys` whose generator is seeded from the thread's generator (itself a
    /// CSPRNG seeded from the operating system).
    #[must_use]
    pub fn from_os(keys: Keys) -> Self {
        let mut seed = [0_u8; 32];
        rand::rng().fill_bytes(&mut seed);
        Self::seeded(keys, seed)
    }

    /// The keys, to open with.
    #[must_use]
    pub const fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Keys made and destroyed since the last call, for the keystore to save (before anything
    /// sealed under them is durable).
    pub fn take_delta(&mut self) -> Option<KeyDelta> {
        if self.changes.is_empty() {
            return None;
        }
        let changes = std::mem::take(&mut self.changes);
        Some(self.keys.delta(&changes))
    }

    /// Destroys `subject`'s key; `false` when it had none.
    pub fn erase(&mut self, subject: Pseudonym) -> bool {
        self.keys.erase(subject, &mut self.changes)
    }

    /// `subject`'s key, made from the generator if it has none.
    fn key(&mut self, subject: Pseudonym) -> &SubjectKey {
        let rng = &mut self.rng;
        self.keys.key_or_make(
            subject,
            || {
                let mut id = [0_u8; KEY_ID_LEN];
                let mut bytes = [0_u8; 32];
                rng.fill_bytes(&mut id);
                rng.fill_bytes(&mut bytes);
                SubjectKey::from_parts(KeyId(id), bytes)
            },
            &mut self.changes,
        )
    }

    /// A customer's reference as the token the core compares: sealed under the customer's key
    /// with a nonce derived from the key and the reference, so equal while the key lives.
    ///
    /// # Errors
    /// The cipher refused (a value too long for it).
    pub fn seal_customer(&mut self, reference: &str) -> Result<CustomerId, PrivacyError> {
        let subject = self.keys.customer(reference);
        stable_token(self.key(subject), subject, reference).map(CustomerId::new)
    }

    /// A member of staff's free text about themselves (a not-ready or rejection reason) as a
    /// stable token under their own key (employee data: docs/privacy.md).
    ///
    /// # Errors
    /// The cipher refused (a value too long for it).
    pub fn seal_staff(&mut self, agent: &str, text: &str) -> Result<Arc<str>, PrivacyError> {
        let subject = self.keys.agent(agent);
        stable_token(self.key(subject), subject, text).map(Arc::from)
    }

    /// A value sealed for `subject` with a fresh nonce, as a token.
    ///
    /// # Errors
    /// The cipher refused (a value too long for it).
    pub fn seal_for(&mut self, subject: Pseudonym, text: &str) -> Result<Arc<str>, PrivacyError> {
        let mut nonce = [0_u8; NONCE_LEN];
        self.rng.fill_bytes(&mut nonce);
        let sealed = self
            .key(subject)
            .seal_with_nonce(subject, text.as_bytes(), nonce)?;
        Ok(Arc::from(token(&sealed)))
    }

    /// The subject a contact's values are sealed for: its customer's (from the customer token
    /// the state holds), else the contact's own.
    fn contact_subject(&self, state: &State, contact: &str) -> Pseudonym {
        let customer = state
            .contact(contact)
            .and_then(|c| c.customer.clone())
            .or_else(|| {
                state
                    .finished_contact(contact)
                    .and_then(|c| c.customer.clone())
            });
        customer
            .and_then(|c| token_subject(c.as_str()))
            .unwrap_or_else(|| self.keys.contact(contact))
    }

    /// Seals a contact's customer reference in place (a token is left as it is when
    /// `keep_tokens`: a log's, never a command's) and returns the subject the contact's values
    /// are sealed for: the customer's, else the contact's own.
    ///
    /// # Errors
    /// The cipher refused (a value too long for it).
    fn seal_contact_customer(
        &mut self,
        customer: &mut Option<CustomerId>,
        contact: &str,
        keep_tokens: bool,
    ) -> Result<Pseudonym, PrivacyError> {
        let subject = match customer.take() {
            Some(reference) => {
                let sealed = if keep_tokens && reference.as_str().starts_with(TOKEN_PREFIX) {
                    reference
                } else {
                    self.seal_customer(reference.as_str())?
                };
                let subject = token_subject(sealed.as_str());
                *customer = Some(sealed);
                subject
            }
            None => None,
        };
        Ok(subject.unwrap_or_else(|| self.keys.contact(contact)))
    }

    /// Seals a persistent complainant's reference in place (a token is left as it is when
    /// `keep_tokens`) and returns the customer's subject, for the decision's reason.
    ///
    /// # Errors
    /// The cipher refused (a value too long for it).
    fn seal_complainant(
        &mut self,
        customer: &mut CustomerId,
        keep_tokens: bool,
    ) -> Result<Pseudonym, PrivacyError> {
        let sealed = if keep_tokens && customer.as_str().starts_with(TOKEN_PREFIX) {
            customer.clone()
        } else {
            self.seal_customer(customer.as_str())?
        };
        let subject =
            token_subject(sealed.as_str()).unwrap_or_else(|| self.keys.customer(customer.as_str()));
        *customer = sealed;
        Ok(subject)
    }

    /// Seals `text` in place for `subject` unless it is a token already.
    ///
    /// # Errors
    /// The cipher refused (a value too long for it).
    fn seal_unsealed(
        &mut self,
        subject: Pseudonym,
        text: &mut Arc<str>,
    ) -> Result<(), PrivacyError> {
        if !text.starts_with(TOKEN_PREFIX) {
            *text = self.seal_for(subject, text)?;
        }
        Ok(())
    }

    /// Seals a member of staff's reason in place as a stable token under their key (a token is
    /// left as it is).
    ///
    /// # Errors
    /// The cipher refused (a value too long for it).
    fn seal_staff_unsealed(
        &mut self,
        agent: &AgentId,
        text: &mut Arc<str>,
    ) -> Result<(), PrivacyError> {
        if !text.starts_with(TOKEN_PREFIX) {
            *text = self.seal_staff(agent.as_str(), text)?;
        }
        Ok(())
    }

    /// Seals free text about `contact` in place (a token is left as it is) for the subject its
    /// creation chose, else the contact's own.
    ///
    /// # Errors
    /// The cipher refused (a value too long for it).
    fn seal_about(
        &mut self,
        contacts: &HashMap<ContactId, Pseudonym>,
        contact: &ContactId,
        text: &mut Arc<str>,
    ) -> Result<(), PrivacyError> {
        let subject = contacts
            .get(contact)
            .copied()
            .unwrap_or_else(|| self.keys.contact(contact.as_str()));
        self.seal_unsealed(subject, text)
    }

    /// An event of a log written before sealing with its personal fields sealed as the engine
    /// would have sealed the command behind it (`switchboard privacy reseal`): the customer
    /// reference under the customer's key, the attribute values under the customer's key or
    /// else the contact's own, a member of staff's not-ready and rejection reasons under their
    /// own key, and a later reason about a contact under the subject its creation chose (from
    /// `contacts`, which this fills as contacts with a customer are created; a contact it does
    /// not hold gets its own subject). A value that is a token already is left as it is.
    /// An erasure is carried out as the engine carries it out: the subject's key is destroyed,
    /// so what was sealed under it reads as [`ERASED`], and a customer who comes back later
    /// gets a new key.
    ///
    /// # Errors
    /// The cipher refused (a value too long for it).
    pub fn seal_event(
        &mut self,
        mut event: Event,
        contacts: &mut HashMap<ContactId, Pseudonym>,
    ) -> Result<Event, PrivacyError> {
        match &mut event.kind {
            EventKind::ContactCreated(created) => {
                let details = &mut created.details;
                let subject =
                    self.seal_contact_customer(&mut details.customer, details.id.as_str(), true)?;
                for (_, value) in &mut details.attributes {
                    self.seal_unsealed(subject, value)?;
                }
                // A contact without a customer has its own subject, found again from its id.
                if details.customer.is_some() {
                    contacts.insert(details.id.clone(), subject);
                }
            }
            EventKind::ContactEscalated {
                contact, reason, ..
            } => self.seal_about(contacts, contact, reason)?,
            // A complaint's arrival stage carries the core's own word ("received"), which the
            // engine never sealed: only a stage change asked for carries a person's reason.
            EventKind::ComplaintStageChanged(changed) if changed.from.is_some() => {
                self.seal_about(contacts, &changed.contact, &mut changed.reason)?;
            }
            EventKind::DueTimeExtended(extended) => {
                self.seal_about(contacts, &extended.contact, &mut extended.reason)?;
            }
            EventKind::PersistentComplainantMarked {
                customer, reason, ..
            } => {
                let subject = self.seal_complainant(customer, true)?;
                self.seal_unsealed(subject, reason)?;
            }
            // A member of staff's own reasons, under their key, as `seal_command` seals them;
            // `missed_offers`, the core's own code about no one, stays plain as in the engine.
            EventKind::AgentNotReady { agent, reason } if &**reason != MISSED_OFFERS => {
                self.seal_staff_unsealed(agent, reason)?;
            }
            EventKind::OfferRejected {
                agent,
                reason: Some(reason),
                ..
            } => self.seal_staff_unsealed(agent, reason)?,
            EventKind::PersonalDataErasureDeferred(erasure)
            | EventKind::PersonalDataErased(erasure) => {
                // As `privacy.erase` names the customer: by the token while their key lives.
                if let Some(reference) = erasure.customer.take() {
                    erasure.customer = if reference.as_str().starts_with(TOKEN_PREFIX) {
                        Some(reference)
                    } else {
                        find_customer_token(&self.keys, reference.as_str()).map(CustomerId::new)
                    };
                }
            }
            _ => {}
        }
        if let EventKind::PersonalDataErased(erasure) = &event.kind
            && let Some(subject) = Pseudonym::parse_hex(&erasure.subject)
        {
            self.erase(subject);
        }
        Ok(event)
    }

    /// The command with its personal fields sealed (see the module documentation). `state` is
    /// the core's, to find a contact's customer.
    ///
    /// # Errors
    /// The cipher refused (a value too long for it).
    pub fn seal_command(
        &mut self,
        mut command: Command,
        state: &State,
    ) -> Result<Command, PrivacyError> {
        match &mut command {
            Command::CreateContact(contact) => {
                let subject =
                    self.seal_contact_customer(&mut contact.customer, contact.id.as_str(), false)?;
                for (_, value) in &mut contact.attributes {
                    *value = self.seal_for(subject, value)?;
                }
            }
            Command::EscalateContact {
                contact, reason, ..
            }
            | Command::ChangeComplaintStage {
                contact, reason, ..
            }
            | Command::ExtendDueTime {
                contact, reason, ..
            } => {
                let subject = self.contact_subject(state, contact.as_str());
                *reason = self.seal_for(subject, reason)?;
            }
            Command::MarkPersistentComplainant {
                customer, reason, ..
            } => {
                let subject = self.seal_complainant(customer, false)?;
                *reason = self.seal_for(subject, reason)?;
            }
            Command::MakeNotReady { agent, reason } => {
                *reason = self.seal_staff(agent, reason)?;
            }
            Command::RejectOffer {
                agent,
                reason: Some(reason),
                ..
            } => {
                *reason = self.seal_staff(agent, reason)?;
            }
            // The erasure names the customer by pseudonym, and by the token the core knows
            // them by while their key lives; no key is made for a customer never seen.
            Command::ErasePersonalData {
                customer, subject, ..
            } => {
                if let Some(reference) = customer.take() {
                    *subject = Arc::from(self.keys.customer(reference.as_str()).to_string());
                    *customer =
                        find_customer_token(&self.keys, reference.as_str()).map(CustomerId::new);
                }
            }
            _ => {}
        }
        Ok(command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pseudonym::DomainSecret;
    use switchboard_core::{Channel, NewContact, Router, RoutingConfig, Timestamp};

    fn sealer() -> Sealer {
        Sealer::seeded(Keys::new(DomainSecret::from_bytes([7; 32])), [9; 32])
    }

    fn create(id: &str, customer: &str) -> Command {
        let mut contact = NewContact::routine(id, Channel::Phone, "council_tax");
        contact.customer = Some(customer.into());
        contact.attributes = vec![("caller".into(), "07700 900123".into())];
        Command::CreateContact(Box::new(contact))
    }

    fn sealed_contact(command: &Command) -> (String, String) {
        let Command::CreateContact(contact) = command else {
            panic!("a contact");
        };
        let customer = contact.customer.as_ref().expect("customer").to_string();
        (customer, contact.attributes[0].1.to_string())
    }

    #[test]
    fn a_customer_seals_to_one_token_and_values_open_until_erased() {
        let mut sealer = sealer();
        let router = Router::new(RoutingConfig::default()).expect("config");
        let first = sealer
            .seal_command(create("c1", "CUST-1001"), router.state())
            .expect("sealed");
        let second = sealer
            .seal_command(create("c2", "CUST-1001"), router.state())
            .expect("sealed");
        let (customer, caller) = sealed_contact(&first);
        let (again, caller_again) = sealed_contact(&second);
        assert_eq!(customer, again, "the same customer, the same token");
        assert_ne!(caller, caller_again, "a fresh nonce per value");
        for text in [&customer, &caller] {
            assert!(text.starts_with(TOKEN_PREFIX));
            assert!(!text.contains("CUST-1001") && !text.contains("07700"));
        }
        assert_eq!(open_text(sealer.keys(), &customer), "CUST-1001");
        assert_eq!(open_text(sealer.keys(), &caller), "07700 900123");
        assert_eq!(open_text(sealer.keys(), "plain"), "plain");
        let delta = sealer.take_delta().expect("a key was made");
        assert_eq!(delta.made.len(), 1);
        assert!(sealer.take_delta().is_none());
        let subject = token_subject(&customer).expect("a token");
        assert_eq!(subject, sealer.keys().customer("CUST-1001"));
        assert_eq!(
            find_customer_token(sealer.keys(), "CUST-1001").as_deref(),
            Some(customer.as_str())
        );
        assert!(sealer.erase(subject));
        assert_eq!(open_text(sealer.keys(), &customer), ERASED);
        assert_eq!(open_text(sealer.keys(), &caller), ERASED);
        let back = sealer
            .seal_command(create("c3", "CUST-1001"), router.state())
            .expect("sealed");
        assert_ne!(sealed_contact(&back).0, customer, "a new key, a new token");
    }

    #[test]
    fn a_command_never_passes_a_token_of_its_own() {
        let router = Router::new(RoutingConfig::default()).expect("config");
        let mut sealer = sealer();
        let forged = "sealed:AAAA";
        let (customer, _) = sealed_contact(
            &sealer
                .seal_command(create("c1", forged), router.state())
                .expect("sealed"),
        );
        assert_ne!(customer, forged, "sealed like any reference");
        assert_eq!(open_text(sealer.keys(), &customer), forged);
    }

    #[test]
    fn the_same_seed_seals_the_same_bytes() {
        let router = Router::new(RoutingConfig::default()).expect("config");
        let run = || {
            let mut sealer = sealer();
            let mut contact = NewContact::routine("c1", Channel::Email, "council_tax");
            contact.attributes = vec![("name".into(), "Alice Example".into())];
            let command = Command::CreateContact(Box::new(contact));
            format!("{:?}", sealer.seal_command(command, router.state()))
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn an_event_opens_for_output() {
        let mut sealer = sealer();
        let mut router = Router::new(RoutingConfig::default()).expect("config");
        let command = sealer
            .seal_command(create("c1", "CUST-1001"), router.state())
            .expect("sealed");
        router
            .handle_command(command, Timestamp::from_millis(1_000))
            .expect("accepted");
        let event = router
            .drain_events()
            .find(|e| matches!(e.kind, EventKind::ContactCreated(_)))
            .expect("created");
        assert!(has_personal_fields(&event));
        let opened = open_event(sealer.keys(), &event);
        let EventKind::ContactCreated(created) = &opened.kind else {
            panic!("created");
        };
        assert_eq!(
            created.details.customer.as_ref().map(CustomerId::as_str),
            Some("CUST-1001")
        );
        assert_eq!(&*created.details.attributes[0].1, "07700 900123");
    }

    /// A contact's escalation with `reason`, as the core records it.
    fn escalated(contact: &str, reason: &str) -> Event {
        Event {
            at: Timestamp::from_millis(2_000),
            kind: EventKind::ContactEscalated {
                contact: contact.into(),
                agent: "a1".into(),
                to_tier: switchboard_core::Tier::LAST,
                reason: Arc::from(reason),
                placement: switchboard_core::event::Placement {
                    step: 0,
                    preferred_agent_only: false,
                    next_step_at: None,
                },
            },
        }
    }

    /// The plaintext `ContactCreated` a log written before sealing holds for [`create`].
    fn plain_created(id: &str, customer: &str) -> Event {
        let mut router = Router::new(RoutingConfig::default()).expect("config");
        router
            .handle_command(create(id, customer), Timestamp::from_millis(1_000))
            .expect("accepted");
        router
            .drain_events()
            .find(|e| matches!(e.kind, EventKind::ContactCreated(_)))
            .expect("created")
    }

    #[test]
    fn an_old_event_seals_as_its_command_would_have() {
        let router = Router::new(RoutingConfig::default()).expect("config");
        let mut by_command = sealer();
        let (customer, _) = sealed_contact(
            &by_command
                .seal_command(create("c1", "CUST-1001"), router.state())
                .expect("sealed"),
        );
        let mut resealer = sealer();
        let mut contacts = HashMap::new();
        let plain = plain_created("c1", "CUST-1001");
        let sealed = resealer
            .seal_event(plain.clone(), &mut contacts)
            .expect("sealed");
        assert_eq!(sealed.at, plain.at, "the time is kept");
        let EventKind::ContactCreated(created) = &sealed.kind else {
            panic!("created");
        };
        assert_eq!(
            created.details.customer.as_ref().map(CustomerId::as_str),
            Some(customer.as_str()),
            "the same token the engine gives the customer"
        );
        let text = format!("{sealed:?}");
        assert!(
            !text.contains("CUST-1001") && !text.contains("07700"),
            "{text}"
        );
        assert_eq!(open_event(resealer.keys(), &sealed), plain);
        let subject = resealer.keys().customer("CUST-1001");
        assert_eq!(contacts.get(&ContactId::new("c1")), Some(&subject));
        // A reason later in the log is sealed under the customer's key; a contact the map
        // does not hold under its own.
        let reason = resealer
            .seal_event(escalated("c1", "shouted at 07700 900555"), &mut contacts)
            .expect("sealed");
        let stray = resealer
            .seal_event(escalated("c9", "no customer"), &mut contacts)
            .expect("sealed");
        for (event, subject, plain) in [
            (&reason, subject, "shouted at 07700 900555"),
            (&stray, resealer.keys().contact("c9"), "no customer"),
        ] {
            let EventKind::ContactEscalated { reason, .. } = &event.kind else {
                panic!("escalated");
            };
            assert_eq!(token_subject(reason), Some(subject));
            assert_eq!(open_text(resealer.keys(), reason), plain);
        }
        // Sealed values are left as they are: sealing again changes nothing.
        for event in [&sealed, &reason] {
            let again = resealer
                .seal_event(event.clone(), &mut contacts)
                .expect("sealed");
            assert_eq!(&again, event);
        }
    }

    #[test]
    fn staff_reasons_seal_under_the_agent_as_their_commands_would() {
        let router = Router::new(RoutingConfig::default()).expect("config");
        let mut by_command = sealer();
        let Command::MakeNotReady { reason: token, .. } = by_command
            .seal_command(
                Command::MakeNotReady {
                    agent: "a1".into(),
                    reason: Arc::from("dentist at 3"),
                },
                router.state(),
            )
            .expect("sealed")
        else {
            panic!("not ready");
        };
        let mut resealer = sealer();
        let mut contacts = HashMap::new();
        let not_ready = |reason: &str| Event {
            at: Timestamp::from_millis(1_000),
            kind: EventKind::AgentNotReady {
                agent: "a1".into(),
                reason: Arc::from(reason),
            },
        };
        let sealed = resealer
            .seal_event(not_ready("dentist at 3"), &mut contacts)
            .expect("sealed");
        assert_eq!(sealed, not_ready(&token), "the token the engine gives it");
        assert_eq!(token_subject(&token), Some(resealer.keys().agent("a1")));
        let code = not_ready(MISSED_OFFERS);
        assert_eq!(
            resealer
                .seal_event(code.clone(), &mut contacts)
                .expect("sealed"),
            code,
            "the core's own code stays plain"
        );
    }

    #[test]
    fn an_erasure_in_the_log_destroys_the_key_it_names() {
        let mut resealer = sealer();
        let mut contacts = HashMap::new();
        let created = resealer
            .seal_event(plain_created("c1", "CUST-1001"), &mut contacts)
            .expect("sealed");
        let subject = resealer.keys().customer("CUST-1001");
        let erased = Event {
            at: Timestamp::from_millis(3_000),
            kind: EventKind::PersonalDataErased(Box::new(
                switchboard_core::event::PersonalDataErasure {
                    customer: Some(CustomerId::new("CUST-1001")),
                    subject: Arc::from(subject.to_string()),
                    reason: switchboard_core::event::ErasureReason::Request,
                    live_contacts: 0,
                },
            )),
        };
        let erased = resealer.seal_event(erased, &mut contacts).expect("sealed");
        let EventKind::PersonalDataErased(erasure) = &erased.kind else {
            panic!("erased");
        };
        let token = erasure.customer.as_ref().expect("named by its token");
        assert!(token.as_str().starts_with(TOKEN_PREFIX));
        assert_eq!(open_text(resealer.keys(), token.as_str()), ERASED);
        let EventKind::ContactCreated(opened) = open_event(resealer.keys(), &created).kind else {
            panic!("created");
        };
        assert_eq!(&*opened.details.attributes[0].1, ERASED);
        let back = resealer
            .seal_event(plain_created("c2", "CUST-1001"), &mut contacts)
            .expect("sealed");
        let customer = |event: &Event| match &event.kind {
            EventKind::ContactCreated(c) => c.details.customer.clone(),
            _ => None,
        };
        assert!(customer(&back).is_some());
        assert_ne!(
            customer(&back),
            customer(&created),
            "a customer who comes back gets a new key, so a new token"
        );
    }
}
