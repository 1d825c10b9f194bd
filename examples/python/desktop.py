"""A telephony system and an agent desktop speaking Switchboard's wire contract v1, in Python.

Run against a running engine (`switchboard serve` or `switchboard demo`):

    pip install nats-py==2.16.0
    NATS_URL=nats://127.0.0.1:4222 python3 examples/python/desktop.py

It logs in agent `py-agent`, makes it ready, raises a phone contact the way a telephony system
would, receives the offer on the agent's subject, accepts it, completes it, and prints what
happened. Every command is a NATS request whose reply comes only once the engine has made the
command's events durable: {"ok": true, ...} or {"ok": false, "error": {"code", "message"}}.
"""

import asyncio
import json
import os
import sys
import uuid

import nats

PREFIX = os.environ.get("SWITCHBOARD_SUBJECT_PREFIX", "switchboard")
AGENT = os.environ.get("SWITCHBOARD_AGENT", "py-agent")
TIMEOUT = 10.0


async def command(nc, subject, body):
    """Send a command and return its reply, failing loudly on an error reply."""
    reply = await nc.request(f"{PREFIX}.{subject}", json.dumps(body).encode(), timeout=TIMEOUT)
    answer = json.loads(reply.data)
    if not answer.get("ok"):
        raise RuntimeError(f"{subject} refused: {answer['error']['code']}: {answer['error']['message']}")
    return answer


async def main():
    nc = await nats.connect(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    offers = await nc.subscribe(f"{PREFIX}.agent.{AGENT}.offer")

    # The agent desktop logs in and says ready.
    await command(nc, f"cmd.agent.{AGENT}.login", {
        "name": "Python Agent", "tier": 1, "site": "contact_centre",
        "skills": {"council_tax": 3, "polish": 4},
    })
    await command(nc, f"cmd.agent.{AGENT}.ready", {})

    # The telephony system raises a call. `command_id` makes a retry safe.
    contact_id = f"py-call-{uuid.uuid4().hex[:8]}"
    created = await command(nc, "cmd.contact.create", {
        "contact_id": contact_id, "channel": "phone", "service": "council_tax",
        "language": "polish", "customer_id": "cust-py", "command_id": f"create-{contact_id}",
    })
    print(f"created {contact_id} at seq {created['seq']}")

    # The desktop receives the offer, with the reasons for it, and accepts it.
    message = await offers.next_msg(timeout=TIMEOUT)
    offer = json.loads(message.data)
    print(f"offered {offer['contact_id']} as offer {offer['offer_id']}")
    await command(nc, f"cmd.agent.{AGENT}.accept", {"offer_id": offer["offer_id"]})

    # ... the conversation ... then the agent completes the contact.
    await command(nc, f"cmd.agent.{AGENT}.complete", {"contact_id": contact_id, "outcome": "resolved"})
    print(f"completed {contact_id}")

    # The audit trail of the contact, from the engine's log.
    reply = await nc.request(f"{PREFIX}.query.contact", json.dumps({"contact_id": contact_id}).encode(), timeout=TIMEOUT)
    history = json.loads(reply.data)
    types = [event["type"] for event in history.get("history", [])]
    print("history: " + ", ".join(types))
    await nc.drain()
    if "contact_completed" not in types:
        print("the history does not show the completion", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
