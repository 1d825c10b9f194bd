//! Idempotency receipts: the first reply to a keyed command, kept in the log beside the
//! command's last event, so that a repeat after a restart still gets it (docs/adr/0002).
//!
//! A [`Receipt`] is what the engine and the NATS driver handle: the idempotency key, already
//! scoped as the driver scopes it (`"<verb> <agent> <key>"`), and the reply body the command got
//! ([`ReplyBody`], format-independent: a repeat is answered in the format it asks in). It is
//! written by [`crate::stored::encode_record`] and read by [`crate::stored::decode_record`] and
//! [`crate::stored::decode_receipt`].
//!
//! In the log a receipt is stored as [`ReceiptDto`], a **frozen** copy of today's [`ReplyBody`]
//! layout with enums of its own. [`ReplyBody`] is a wire message that may grow (a field appended
//! last is how a reply grows: an older client ignores it), but a stored layout may never change
//! (see [`crate::stored`]). The conversions below destructure [`ReplyBody`] without `..` and match
//! its enums without a wildcard, so a field or a variant added to the reply fails to compile
//! here until a new stored version carries it.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::event::{Text, Time};
use crate::reply::{
    Adjustment, AdjustmentReason, ContactStatusName, ErasureName, PresenceName, ReplyBody,
};

/// The first reply to a command that carried an idempotency key and produced events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    /// The idempotency key, scoped by the driver to the command's kind and agent
    /// (`"<verb> <agent> <key>"`, the agent empty for contact commands).
    pub key: String,
    /// The reply the command got; its `seq` is the sequence number of the record the receipt
    /// rides on (the command's last event).
    pub reply: ReplyBody,
}

/// The stored form of a [`Receipt`] (version 1 of the receipt layout, in stored version 4).
/// **Frozen**: fields by position, as postcard writes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptDto<'a> {
    /// The scoped idempotency key.
    #[serde(borrow)]
    pub key: Cow<'a, str>,
    /// The reply body.
    #[serde(borrow)]
    pub reply: ReplyDto<'a>,
}

/// The stored form of a [`Receipt`] in stored version 5: version 4's ([`ReceiptDto`]), then
/// the field the reply gained with it ([`ReplyBody::erasure`]). **Frozen**.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptV5Dto<'a> {
    /// The key and the reply's fields of stored version 4.
    #[serde(borrow)]
    pub base: ReceiptDto<'a>,
    /// [`ReplyBody::erasure`].
    pub erasure: Option<ErasureDto>,
}

/// The stored form of a [`ReplyBody`]: its fields in its order as of stored version 4.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyDto<'a> {
    /// [`ReplyBody::seq`].
    pub seq: u64,
    /// [`ReplyBody::events`].
    pub events: u32,
    /// [`ReplyBody::contact_id`].
    #[serde(borrow)]
    pub contact_id: Option<Text<'a>>,
    /// [`ReplyBody::status`].
    pub status: Option<ContactStatusDto>,
    /// [`ReplyBody::agent_id`].
    #[serde(borrow)]
    pub agent_id: Option<Text<'a>>,
    /// [`ReplyBody::offer_id`].
    pub offer_id: Option<u64>,
    /// [`ReplyBody::presence`].
    pub presence: Option<PresenceDto>,
    /// [`ReplyBody::unchanged`].
    pub unchanged: bool,
    /// [`ReplyBody::received_at`].
    pub received_at: Option<Time>,
    /// [`ReplyBody::adjustments`].
    #[serde(borrow)]
    pub adjustments: Vec<AdjustmentDto<'a>>,
}

/// The stored form of an [`Adjustment`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustmentDto<'a> {
    /// [`Adjustment::field`].
    #[serde(borrow)]
    pub field: Cow<'a, str>,
    /// [`Adjustment::reason`].
    pub reason: AdjustmentReasonDto,
    /// [`Adjustment::message`].
    #[serde(borrow)]
    pub message: Cow<'a, str>,
}

/// The stored form of a [`ContactStatusName`], variants by index.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContactStatusDto {
    /// 0: `queued`.
    Queued,
    /// 1: `offered`.
    Offered,
    /// 2: `assigned`.
    Assigned,
    /// 3: `finished`.
    Finished,
    /// 4: `unknown`.
    Unknown,
    /// 5: `held`.
    Held,
}

/// The stored form of a [`PresenceName`], variants by index.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PresenceDto {
    /// 0: `logged_out`.
    LoggedOut,
    /// 1: `ready`.
    Ready,
    /// 2: `not_ready`.
    NotReady,
    /// 3: `wrap_up`.
    WrapUp,
}

/// The stored form of an [`AdjustmentReason`], variants by index.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdjustmentReasonDto {
    /// 0: `in_the_future`.
    InTheFuture,
    /// 1: `beyond_live_limit`.
    BeyondLiveLimit,
}

/// The stored form of an [`ErasureName`], variants by index (stored version 5).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErasureDto {
    /// 0: `erased`.
    Erased,
    /// 1: `deferred`.
    Deferred,
    /// 2: `nothing_held`.
    NothingHeld,
}

impl<'a> From<&'a Receipt> for ReceiptDto<'a> {
    fn from(receipt: &'a Receipt) -> Self {
        Self {
            key: Cow::Borrowed(&receipt.key),
            reply: ReplyDto::from(&receipt.reply),
        }
    }
}

impl From<ReceiptDto<'_>> for Receipt {
    fn from(dto: ReceiptDto<'_>) -> Self {
        Self {
            key: dto.key.into_owned(),
            reply: dto.reply.into(),
        }
    }
}

impl<'a> From<&'a ReplyBody> for ReplyDto<'a> {
    fn from(body: &'a ReplyBody) -> Self {
        // No `..`: a field added to the reply must be given a stored version before it compiles.
        let ReplyBody {
            seq,
            events,
            contact_id,
            status,
            agent_id,
            offer_id,
            presence,
            unchanged,
            received_at,
            adjustments,
            // Stored beside this, by version 5's receipt ([`ReceiptV5Dto`]).
            erasure: _,
        } = body;
        Self {
            seq: *seq,
            events: *events,
            contact_id: contact_id.as_deref().map(Cow::Borrowed),
            status: status.map(Into::into),
            agent_id: agent_id.as_deref().map(Cow::Borrowed),
            offer_id: *offer_id,
            presence: presence.map(Into::into),
            unchanged: *unchanged,
            received_at: *received_at,
            adjustments: adjustments.iter().map(AdjustmentDto::from).collect(),
        }
    }
}

impl From<ReplyDto<'_>> for ReplyBody {
    fn from(dto: ReplyDto<'_>) -> Self {
        Self {
            seq: dto.seq,
            events: dto.events,
            contact_id: dto.contact_id.map(Cow::into_owned),
            status: dto.status.map(Into::into),
            agent_id: dto.agent_id.map(Cow::into_owned),
            offer_id: dto.offer_id,
            presence: dto.presence.map(Into::into),
            unchanged: dto.unchanged,
            received_at: dto.received_at,
            adjustments: dto.adjustments.into_iter().map(Adjustment::from).collect(),
            erasure: None,
        }
    }
}

impl<'a> From<&'a Receipt> for ReceiptV5Dto<'a> {
    fn from(receipt: &'a Receipt) -> Self {
        Self {
            base: receipt.into(),
            erasure: receipt.reply.erasure.map(Into::into),
        }
    }
}

impl From<ReceiptV5Dto<'_>> for Receipt {
    fn from(dto: ReceiptV5Dto<'_>) -> Self {
        let mut receipt = Self::from(dto.base);
        receipt.reply.erasure = dto.erasure.map(Into::into);
        receipt
    }
}

impl<'a> From<&'a Adjustment> for AdjustmentDto<'a> {
    fn from(adjustment: &'a Adjustment) -> Self {
        let Adjustment {
            field,
            reason,
            message,
        } = adjustment;
        Self {
            field: Cow::Borrowed(field),
            reason: (*reason).into(),
            message: Cow::Borrowed(message),
        }
    }
}

impl From<AdjustmentDto<'_>> for Adjustment {
    fn from(dto: AdjustmentDto<'_>) -> Self {
        Self {
            field: dto.field.into_owned(),
            reason: dto.reason.into(),
            message: dto.message.into_owned(),
        }
    }
}

/// Maps a wire enum and its frozen stored copy both ways, variant for variant, with no wildcard:
/// a variant added to the wire enum stops the build here.
macro_rules! frozen_enum {
    ($wire:ident <=> $stored:ident { $($variant:ident),* $(,)? }) => {
        impl From<$wire> for $stored {
            fn from(value: $wire) -> Self {
                match value {
                    $($wire::$variant => Self::$variant,)*
                }
            }
        }

        impl From<$stored> for $wire {
            fn from(value: $stored) -> Self {
                match value {
                    $($stored::$variant => Self::$variant,)*
                }
            }
        }
    };
}

frozen_enum!(ContactStatusName <=> ContactStatusDto {
    Queued, Offered, Assigned, Finished, Unknown, Held,
});
frozen_enum!(PresenceName <=> PresenceDto {
    LoggedOut, Ready, NotReady, WrapUp,
});
frozen_enum!(AdjustmentReason <=> AdjustmentReasonDto {
    InTheFuture, BeyondLiveLimit,
});
frozen_enum!(ErasureName <=> ErasureDto {
    Erased, Deferred, NothingHeld,
});
