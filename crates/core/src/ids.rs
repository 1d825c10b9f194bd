//! Names of things that come from outside: agents, contacts, customers, skills, services, sites.
//!
//! Each is a cheap-to-clone shared string. They are kept distinct types so that an agent id can
//! never be passed where a contact id belongs.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(
            feature = "snapshot",
            derive(serde::Serialize, serde::Deserialize),
            serde(transparent)
        )]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps a name. Validation of length and characters happens at the edge.
            pub fn new(name: impl Into<Arc<str>>) -> Self {
                Self(name.into())
            }

            /// The name as a string slice.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }

        impl From<&str> for $name {
            fn from(name: &str) -> Self {
                Self(name.into())
            }
        }

        impl From<String> for $name {
            fn from(name: String) -> Self {
                Self(name.into())
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type! {
    /// A member of staff who takes contacts, as known to the desktop and the workforce system.
    AgentId
}
name_type! {
    /// One interaction on one channel, named by the system that raised it (telephony, chat...).
    ContactId
}
name_type! {
    /// The customer's reference in the council's records (kept so the same customer can go back
    /// to the agent who last helped them).
    CustomerId
}
name_type! {
    /// A skill or a community language, e.g. `council_tax`, `safeguarding`, `polish`.
    SkillId
}
name_type! {
    /// A service area, e.g. `council_tax`, `benefits`, `environmental_services`.
    ServiceId
}
name_type! {
    /// A site: the telephone centre or one of the face-to-face one-stop shops.
    SiteId
}

/// An offer of a contact to an agent; numbered by the core in the order offers are made.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "snapshot",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct OfferId(u64);

impl OfferId {
    /// The offer with this number.
    #[must_use]
    pub const fn new(number: u64) -> Self {
        Self(number)
    }

    /// The offer's number.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for OfferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for OfferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offer#{}", self.0)
    }
}
