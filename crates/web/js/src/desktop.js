// The agent desktop: log in, ready and not ready, the ringing offer (with its countdown, the
// contact's details and why it came to this agent), accept and reject, then complete, escalate
// or transfer, wrap-up and ready again; work the engine takes off the desk (a complaint moved on
// a stage) goes from it at once, with why. It sends only this agent's commands
// (`{p}.cmd.agent.<id>.*`) and hears only this agent's notices (`{p}.agent.<id>.>`), as the
// desktop NATS users of deploy/nats/auth.conf may; every refusal is shown in words.

import {
  channelName,
  channelNoun,
  clock,
  connect,
  dateTime,
  duration,
  el,
  inWords,
  json,
  pageConfig,
  request,
  showProblem,
  watchConnection,
  words,
} from "./common.js";

const config = pageConfig();
const prefix = config.subject_prefix;
/** The form's last values per agent (never the password), to fill it in next time. */
const FORM_KEY = "switchboard.desktop.form";
/** Offers and work in hand, kept for this tab only, so that a reload does not lose them. */
const WORK_KEY = (agent) => `switchboard.desktop.work.${prefix}.${agent}`;
/** The "What happened" list keeps this many lines. */
const LOG_LINES_MAX = 30;

const state = {
  nc: null,
  agent: null,
  offers: new Map(),
  work: new Map(),
  presence: null,
  reason: null,
  wrapUpUntil: null,
  /** The engine's clock less this page's (from the notices' `at`), for countdowns. */
  skewMs: 0,
  warned: new Set(),
};

const $ = (id) => document.getElementById(id);

const PRESENCE_WORDS = {
  ready: "Ready: offers come to you",
  not_ready: "Not ready",
  wrap_up: "Wrap-up",
  logged_out: "Logged out",
};

const REASON_WORDS = {
  login: "just logged in",
  missed_offers: "offers went unanswered, so the engine made you not ready",
};

const REVOKED_WORDS = {
  contact_abandoned: "the customer left before it was answered",
  agent_not_ready: "you went not ready",
  agent_logged_out: "you logged out",
};

/** Why work in hand left this desk (the `released` notice's reason), given the contact. */
const RELEASED_WORDS = {
  agent_logged_out: () => "you logged out",
  complaint_stage_changed: (offer) =>
    offer.complaint_stage
      ? `the complaint moved on from ${words(offer.complaint_stage).toLowerCase()} to its next stage`
      : "the complaint moved on to its next stage",
};

const RULE_WORDS = {
  preferred_agent: "you are the customer's case owner, or the agent they asked for",
  longest_idle: "you had been free the longest",
  most_skilled: "you have the highest level in the skills it needs",
  least_occupied: "you had the least work in hand",
  queue_order: "it was the first contact in the queue that you could take",
};

/** The engine's time now, as this page best knows it. */
function engineNow() {
  return Date.now() - state.skewMs;
}

function say(text) {
  // Cleared first, so that the same words twice are announced twice.
  const region = $("announce");
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

function log(text) {
  const list = $("log");
  list.prepend(el("li", {}, el("span", { class: "time", text: clock(new Date(), true) }), ` ${text}`));
  while (list.children.length > LOG_LINES_MAX) list.lastElementChild.remove();
}

function save() {
  if (!state.agent) return;
  try {
    sessionStorage.setItem(
      WORK_KEY(state.agent),
      JSON.stringify({ offers: [...state.offers.values()], work: [...state.work.values()] }),
    );
  } catch {
    // Kept in memory only.
  }
}

function restore(agent) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(WORK_KEY(agent)) ?? "null");
    if (!kept) return false;
    for (const offer of kept.offers ?? []) state.offers.set(offer.offer_id, offer);
    for (const item of kept.work ?? []) state.work.set(item.contact_id, item);
    return state.offers.size + state.work.size > 0;
  } catch {
    return false;
  }
}

function cmd(verb) {
  return `${prefix}.cmd.agent.${state.agent}.${verb}`;
}

/** Sends this agent's command; a refusal is shown in words and `null` returned. */
async function command(verb, body = {}) {
  try {
    const reply = await request(state.nc, cmd(verb), body);
    showProblem(null);
    if (reply.presence) setPresence(reply.presence, null, null);
    return reply;
  } catch (error) {
    showProblem(inWords(error));
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Log in

function fillForm() {
  const params = new URLSearchParams(window.location.search);
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(FORM_KEY) ?? "{}");
  } catch {
    saved = {};
  }
  const agent = params.get("agent") ?? saved.last ?? "";
  const mine = saved.agents?.[agent] ?? {};
  const value = (name) => params.get(name) ?? mine[name] ?? "";
  $("agent-id").value = agent;
  $("agent-name").value = value("name");
  $("agent-site").value = value("site");
  $("agent-tier").value = value("tier");
  $("agent-skills").value = value("skills");
  $("nats-user").value = value("user");
  if ($("nats-user").value) $("nats-user").closest("details").open = true;
}

function remember(agent, form) {
  try {
    const saved = JSON.parse(localStorage.getItem(FORM_KEY) ?? "{}");
    saved.last = agent;
    saved.agents = saved.agents ?? {};
    saved.agents[agent] = form;
    localStorage.setItem(FORM_KEY, JSON.stringify(saved));
  } catch {
    // The form is simply not filled in next time.
  }
}

const AGENT_ID = /^[^\s.*>]+$/u;

/** Skills as written in the form ("council_tax 3, benefits 2") as the login's map. */
function parseSkills(text) {
  const skills = {};
  for (const item of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const match = /^([^\s:=*>]+)\s*[\s:=]\s*([1-5])$/u.exec(item);
    if (!match) {
      throw new Error(`"${item}" is not a skill and a level from 1 to 5 (for example: council_tax 3).`);
    }
    if (match[1] in skills) throw new Error(`The skill ${match[1]} is given twice.`);
    skills[match[1]] = Number(match[2]);
  }
  return skills;
}

/** The agent's record on the engine, where this NATS user may read it (`null` otherwise). */
async function record(agent) {
  try {
    const reply = await request(state.nc, `${prefix}.query.agents`, {}, 3000);
    return reply.agents.find((a) => a.agent_id === agent) ?? null;
  } catch {
    return null;
  }
}

function field(id) {
  return $(id).value.trim();
}

async function logIn(event) {
  event.preventDefault();
  showProblem(null);
  const agent = field("agent-id");
  if (!AGENT_ID.test(agent)) {
    showProblem("Enter your agent id: one word, without spaces, dots, * or >.");
    $("agent-id").focus();
    return;
  }
  let skills = {};
  try {
    skills = parseSkills(field("agent-skills"));
  } catch (error) {
    showProblem(error.message);
    $("agent-skills").focus();
    return;
  }
  const button = event.submitter ?? $("login").querySelector("button");
  button.disabled = true;
  try {
    await attach(agent, skills);
  } finally {
    button.disabled = false;
  }
}

async function attach(agent, skills) {
  $("connection").textContent = "Connecting to NATS…";
  try {
    state.nc = await connect(config, {
      user: field("nats-user"),
      password: $("nats-password").value,
      inboxPrefix: `_INBOX.${agent}`,
      name: `switchboard-desktop-${agent}`,
    });
  } catch (error) {
    $("connection").textContent = "Not connected";
    showProblem(inWords(error));
    return;
  }
  state.agent = agent;
  watchConnection(state.nc, $("connection"), (connection, error) => {
    if (connection === "denied") showProblem(inWords(error));
  });
  listen().catch((error) => showProblem(inWords(error)));
  const body = { tier: Number(field("agent-tier")) || null, site: field("agent-site"), skills };
  if (field("agent-name")) body.name = field("agent-name");
  if (!body.site || !body.tier || Object.keys(skills).length === 0) {
    const mine = await record(agent);
    if (!mine) {
      await detach();
      showProblem(
        "Your record could not be read (the engine does not know you yet, or your NATS user may not read it): fill in your site, tier and skills.",
      );
      $("agent-site").focus();
      return;
    }
    body.site ||= mine.site;
    body.tier ||= mine.tier;
    if (Object.keys(skills).length === 0) body.skills = Object.fromEntries(mine.skills.map((s) => [s.skill, s.level]));
    if (!body.name && mine.name !== agent) body.name = mine.name;
  }
  let reply;
  try {
    reply = await request(state.nc, cmd("login"), body);
  } catch (error) {
    if (error.code === "invalid_transition" && restore(agent)) {
      // Still logged in from before a reload of this tab, with work in hand: carry on with it.
      enterDesk(body);
      log("Welcome back: your offers and work in hand were kept by this tab.");
      say("Welcome back. Your work in hand is listed below.");
      return;
    }
    await detach();
    showProblem(
      error.code === "invalid_transition"
        ? `${inWords(error)} This page does not know that work: finish it where it was taken, or log out there.`
        : inWords(error),
    );
    return;
  }
  remember(agent, {
    name: field("agent-name"),
    site: field("agent-site"),
    tier: field("agent-tier"),
    skills: field("agent-skills"),
    user: field("nats-user"),
  });
  state.offers.clear();
  state.work.clear();
  save();
  enterDesk(body);
  setPresence(reply.presence ?? "not_ready", "login", null);
  log(`Logged in as ${body.name ?? agent} at ${words(body.site)}, tier ${body.tier}. You are not ready until you say so.`);
  say("Logged in. You are not ready: press Ready to take contacts.");
  $("ready").focus();
}

function enterDesk(body) {
  $("login").hidden = true;
  $("desk").hidden = false;
  $("who").textContent = `${body.name ?? state.agent} (${state.agent}), ${words(body.site)}, tier ${body.tier}`;
  render();
}

async function detach() {
  const nc = state.nc;
  state.nc = null;
  state.agent = null;
  if (nc) await nc.close().catch(() => {});
  $("connection").textContent = "Not connected";
}

// ---------------------------------------------------------------------------------------------
// Notices

async function listen() {
  const base = `${prefix}.agent.${state.agent}.`;
  const subscription = state.nc.subscribe(`${base}>`);
  for await (const message of subscription) {
    const notice = json(message);
    if (!notice) continue;
    const kind = message.subject.slice(base.length);
    if (notice.at) state.skewMs = Date.now() - Date.parse(notice.at);
    switch (kind) {
      case "offer":
        onOffer(notice);
        break;
      case "offer_revoked":
        onOfferGone(notice, `withdrawn: ${REVOKED_WORDS[notice.reason] ?? words(notice.reason).toLowerCase()}`);
        break;
      case "offer_expired":
        onOfferGone(notice, "expired before it was answered; the contact went back to its queue");
        break;
      case "assigned":
        onAssigned(notice);
        break;
      case "released":
        onReleased(notice);
        break;
      case "state":
        setPresence(notice.presence, notice.reason, notice.wrap_up_until);
        log(`Your state: ${presenceWords()}.`);
        break;
      default:
        break;
    }
  }
}

function onOffer(offer) {
  state.offers.set(offer.offer_id, offer);
  save();
  render();
  const noun = channelNoun(offer.channel);
  const care = [offer.safeguarding ? "safeguarding concern" : null, offer.vulnerable ? "vulnerable customer" : null]
    .filter(Boolean)
    .join(", ");
  const left = Math.max(0, Math.round((Date.parse(offer.expires_at) - engineNow()) / 1000));
  say(
    `Incoming ${noun}: ${words(offer.service)}${care ? `, ${care}` : ""}. ${left} seconds to answer. Accept or reject it under Offers.`,
  );
  log(`Offered: ${noun} ${offer.contact_id} for ${words(offer.service)}.`);
  // Only a page that has no focus anywhere takes it to the offer; a person typing elsewhere keeps
  // their place, and hears the offer from the live region.
  if (document.activeElement === document.body || document.activeElement === null) {
    document.getElementById(`offer-${offer.offer_id}-heading`)?.focus();
  }
}

function onOfferGone(notice, why) {
  const offer = state.offers.get(notice.offer_id);
  state.offers.delete(notice.offer_id);
  save();
  render();
  const noun = offer ? channelNoun(offer.channel) : "contact";
  const text = `The offer of ${noun} ${notice.contact_id} was ${why}.`;
  log(text);
  say(text);
}

function onAssigned(notice) {
  const offer = state.offers.get(notice.offer_id);
  state.offers.delete(notice.offer_id);
  if (!state.work.has(notice.contact_id)) {
    state.work.set(notice.contact_id, {
      contact_id: notice.contact_id,
      offer: offer ?? { contact_id: notice.contact_id },
      since: notice.at ?? new Date().toISOString(),
    });
    const noun = offer ? channelNoun(offer.channel) : "contact";
    const text = notice.automatic
      ? `The ${noun} ${notice.contact_id} was given to you automatically.`
      : `The ${noun} ${notice.contact_id} is yours.`;
    log(text);
    if (notice.automatic) say(text);
  }
  save();
  render();
}

/** Work in hand left this desk without this agent finishing it: the card goes at once. */
function onReleased(notice) {
  const item = state.work.get(notice.contact_id);
  if (!item) return;
  const card = document.getElementById(`work-${cssId(notice.contact_id)}-heading`)?.closest("article");
  const hadFocus = card?.contains(document.activeElement) ?? false;
  state.work.delete(notice.contact_id);
  save();
  render();
  const offer = item.offer ?? {};
  const because = RELEASED_WORDS[notice.reason]?.(offer) ?? words(notice.reason).toLowerCase();
  const text = `The ${channelNoun(offer.channel)} ${notice.contact_id} went back to the queue: ${because}. It is no longer yours.`;
  log(text);
  say(text);
  // Focus that was on the card it left stays on the list it was in.
  if (hadFocus) {
    $("work-heading").setAttribute("tabindex", "-1");
    $("work-heading").focus();
  }
}

function setPresence(presence, reason, wrapUpUntil) {
  state.presence = presence;
  state.reason = presence === "not_ready" ? reason ?? state.reason : null;
  state.wrapUpUntil = presence === "wrap_up" ? wrapUpUntil : null;
  renderPresence();
}

function presenceWords() {
  const base = PRESENCE_WORDS[state.presence] ?? "Unknown";
  if (state.presence === "not_ready" && state.reason) {
    return `${base} (${REASON_WORDS[state.reason] ?? words(state.reason).toLowerCase()})`;
  }
  if (state.presence === "wrap_up" && state.wrapUpUntil) return `${base} until ${clock(state.wrapUpUntil, true)}`;
  if (state.presence === "ready" && state.work.size > 0) {
    // Ready in the engine's words, but a call in hand takes all of an agent: "offers come to
    // you" would read as idle.
    const held = state.work.size === 1 ? "one contact" : `${state.work.size} contacts`;
    return `Ready, with ${held} in hand: more offers come when you have room`;
  }
  return base;
}

// ---------------------------------------------------------------------------------------------
// Rendering

function renderPresence() {
  const presence = $("presence");
  presence.textContent = state.presence ? presenceWords() : "Your state shows when the engine next changes it.";
  presence.dataset.presence = state.presence ?? "unknown";
  // Ready is offered only when not ready: a green "Ready" beside "Ready: offers come to you"
  // reads as a second state. Focus on it moves to the state it led to.
  const ready = $("ready");
  const hide = state.presence === "ready";
  if (hide && document.activeElement === ready) {
    presence.setAttribute("tabindex", "-1");
    presence.focus();
  }
  ready.hidden = hide;
  ready.textContent = state.presence === "wrap_up" ? "Ready now (end wrap-up)" : "Ready";
  renderTimers();
}

function renderTimers() {
  const wrapUp = $("wrap-up");
  if (state.presence === "wrap_up" && state.wrapUpUntil) {
    const left = Date.parse(state.wrapUpUntil) - engineNow();
    wrapUp.hidden = false;
    wrapUp.textContent = `Wrap-up time left: ${duration(Math.max(0, left))}`;
  } else {
    wrapUp.hidden = true;
  }
  for (const offer of state.offers.values()) {
    const countdown = document.getElementById(`offer-${offer.offer_id}-countdown`);
    const bar = document.getElementById(`offer-${offer.offer_id}-progress`);
    if (!countdown) continue;
    const left = Math.max(0, Date.parse(offer.expires_at) - engineNow());
    countdown.textContent = left > 0 ? `Answer within ${duration(left + 999)}` : "Time is up: waiting for the engine";
    if (bar) bar.value = Math.ceil(left / 1000);
    if (left > 0 && left <= 5000 && !state.warned.has(offer.offer_id)) {
      state.warned.add(offer.offer_id);
      say(`${Math.ceil(left / 1000)} seconds left to answer the ${channelNoun(offer.channel)}.`);
    }
  }
}

function details(offer) {
  const rows = [];
  const add = (label, value, className) => {
    if (value === null || value === undefined || value === "") return;
    rows.push(el("div", { class: className ?? "" }, el("dt", { text: label }), el("dd", { text: String(value) })));
  };
  const care = [offer.safeguarding ? "Safeguarding concern" : null, offer.vulnerable ? "Vulnerable customer" : null]
    .filter(Boolean)
    .join("; ");
  add("Take care", care, "care");
  add("Channel", offer.channel ? words(channelName(offer.channel)) : null);
  add("Service", words(offer.service));
  add("Customer", offer.customer_id);
  add("Contact", offer.contact_id);
  for (const [name, value] of Object.entries(offer.attributes ?? {})) add(words(name), value);
  add("Language", words(offer.language));
  if (offer.priority) add("Priority", `${offer.priority} (0 to 9; higher is more urgent)`);
  add("Complaint stage", words(offer.complaint_stage));
  add("Due", offer.due_at ? dateTime(offer.due_at) : null);
  add("Site", words(offer.site));
  if (offer.first_arrived_at) {
    add("First contact", `${dateTime(offer.first_arrived_at)} (${duration(engineNow() - Date.parse(offer.first_arrived_at))} ago)`);
  }
  if (offer.escalations) add("Escalated before", `${offer.escalations} time(s)`);
  if (offer.transfers) add("Transferred before", `${offer.transfers} time(s)`);
  if (offer.skills?.length) {
    add("Needs", offer.skills.map((s) => `${words(s.skill)} at level ${s.min_level} or above`).join(", "));
  }
  if (offer.tier > 1) add("Lowest tier that may take it", offer.tier);
  return el("dl", { class: "details" }, rows);
}

function why(decision) {
  if (!decision) return null;
  const rule = RULE_WORDS[decision.rule] ?? words(decision.rule).toLowerCase();
  const pool = decision.pool === 1 ? "you were the only agent who could take it" : `${decision.pool} agents could take it`;
  return el(
    "p",
    { class: "why" },
    el("strong", { text: "Why you: " }),
    `${pool}, and ${rule} (routing plan ${words(decision.plan).toLowerCase()}, step ${decision.step + 1}: ${words(decision.step_name).toLowerCase()}).`,
  );
}

function offerCard(offer) {
  const id = `offer-${offer.offer_id}`;
  const noun = channelNoun(offer.channel);
  const total = Math.max(1, Math.round((Date.parse(offer.expires_at) - engineNow()) / 1000));
  const rejectReason = el("input", { id: `${id}-reason`, name: "reason", autocomplete: "off" });
  return el(
    "article",
    { class: `offer ${offer.safeguarding ? "safeguarding" : ""}`, "aria-labelledby": `${id}-heading` },
    el("h3", { id: `${id}-heading`, tabindex: "-1", text: `Incoming ${noun}: ${words(offer.service)}` }),
    el("p", { id: `${id}-countdown`, class: "countdown" }),
    el("progress", { id: `${id}-progress`, max: String(total), value: String(total), "aria-label": "Time left to answer" }),
    details(offer),
    why(offer.decision),
    el(
      "div",
      { class: "actions" },
      el("button", {
        type: "button",
        class: "accept",
        text: `Accept the ${noun}`,
        onclick: () => accept(offer),
      }),
      el(
        "div",
        { class: "inline" },
        el("label", { for: `${id}-reason`, text: "Reason for rejecting (optional)" }),
        rejectReason,
        el("button", {
          type: "button",
          class: "secondary",
          text: "Reject",
          onclick: () => reject(offer, rejectReason.value.trim()),
        }),
      ),
    ),
  );
}

function workCard(item) {
  const offer = item.offer ?? {};
  const id = `work-${cssId(item.contact_id)}`;
  const noun = channelNoun(offer.channel);
  const outcome = (value, label) =>
    el(
      "div",
      { class: "radio" },
      el("input", { type: "radio", id: `${id}-outcome-${value}`, name: `${id}-outcome`, value }),
      el("label", { for: `${id}-outcome-${value}`, text: label }),
    );
  const complete = el(
    "form",
    { class: "complete", onsubmit: (event) => completeWork(event, item) },
    el(
      "fieldset",
      {},
      el("legend", { text: "Outcome" }),
      outcome("resolved", "Resolved"),
      outcome("referred", "Referred on"),
      outcome("no_action", "No action needed"),
    ),
    el("button", { type: "submit", text: "Complete" }),
  );
  const tierOptions = [el("option", { value: "", text: "The next tier up" })];
  for (let tier = 2; tier <= 5; tier += 1) tierOptions.push(el("option", { value: String(tier), text: `Tier ${tier}` }));
  const escalate = el(
    "details",
    {},
    el("summary", { text: "Escalate" }),
    el(
      "form",
      { onsubmit: (event) => escalateWork(event, item) },
      el("label", { for: `${id}-escalate-reason`, text: "Why it needs someone more senior" }),
      el("input", { id: `${id}-escalate-reason`, name: "reason", autocomplete: "off" }),
      el("label", { for: `${id}-escalate-tier`, text: "To" }),
      el("select", { id: `${id}-escalate-tier`, name: "tier" }, tierOptions),
      el("button", { type: "submit", text: "Escalate" }),
    ),
  );
  const transfer = el(
    "details",
    {},
    el("summary", { text: "Transfer to another service" }),
    el(
      "form",
      { onsubmit: (event) => transferWork(event, item) },
      el("label", { for: `${id}-transfer-service`, text: "Service" }),
      el("input", { id: `${id}-transfer-service`, name: "service", autocomplete: "off", spellcheck: "false" }),
      el("button", { type: "submit", text: "Transfer" }),
    ),
  );
  return el(
    "article",
    { class: "work", "aria-labelledby": `${id}-heading` },
    el("h3", { id: `${id}-heading`, text: `${words(noun)}: ${words(offer.service) || item.contact_id}` }),
    el("p", { class: "note", text: `Yours since ${clock(item.since, true)}.` }),
    details(offer),
    el("div", { class: "work-actions" }, complete, escalate, transfer),
  );
}

function cssId(text) {
  return String(text).replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.codePointAt(0).toString(16)}`);
}

function render() {
  const offers = [...state.offers.values()];
  $("no-offers").hidden = offers.length > 0;
  // A card that is already shown stays (its countdown and any typed reason with it).
  const shown = new Map([...$("offers").children].map((card) => [card.dataset.offer, card]));
  $("offers").replaceChildren(
    ...offers.map((offer) => {
      const card = shown.get(String(offer.offer_id)) ?? offerCard(offer);
      card.dataset.offer = String(offer.offer_id);
      return card;
    }),
  );
  const work = [...state.work.values()];
  $("no-work").hidden = work.length > 0;
  const held = new Map([...$("work").children].map((card) => [card.dataset.contact, card]));
  $("work").replaceChildren(
    ...work.map((item) => {
      const card = held.get(item.contact_id) ?? workCard(item);
      card.dataset.contact = item.contact_id;
      return card;
    }),
  );
  renderPresence();
}

// ---------------------------------------------------------------------------------------------
// Actions

async function accept(offer) {
  const reply = await command("accept", { offer_id: offer.offer_id });
  if (!reply) {
    // Gone already (expired, withdrawn): it is not coming back.
    if (state.offers.delete(offer.offer_id)) render();
    return;
  }
  onAssigned({ offer_id: offer.offer_id, contact_id: reply.contact_id ?? offer.contact_id, automatic: false });
  document.getElementById(`work-${cssId(offer.contact_id)}-heading`)?.setAttribute("tabindex", "-1");
  document.getElementById(`work-${cssId(offer.contact_id)}-heading`)?.focus();
}

async function reject(offer, reason) {
  const body = { offer_id: offer.offer_id };
  if (reason) body.reason = reason;
  const reply = await command("reject", body);
  if (reply || state.offers.has(offer.offer_id)) {
    state.offers.delete(offer.offer_id);
    save();
    render();
  }
  if (reply) log(`You rejected the offer of ${offer.contact_id}; it went back to its queue.`);
}

function finished(item, text) {
  state.work.delete(item.contact_id);
  save();
  render();
  log(text);
  say(text);
  $("ready").focus();
}

async function completeWork(event, item) {
  event.preventDefault();
  const chosen = event.target.querySelector("input[type=radio]:checked");
  if (!chosen) {
    showProblem("Choose an outcome before completing.");
    event.target.querySelector("input[type=radio]").focus();
    return;
  }
  const reply = await command("complete", { contact_id: item.contact_id, outcome: chosen.value });
  if (reply) {
    const wrap = reply.presence === "wrap_up" ? " Wrap-up has started." : "";
    finished(item, `Completed ${item.contact_id} (${words(chosen.value).toLowerCase()}).${wrap}`);
  }
}

async function escalateWork(event, item) {
  event.preventDefault();
  const reason = event.target.reason.value.trim();
  if (!reason) {
    showProblem("Say why it needs escalating: the next person reads it.");
    event.target.reason.focus();
    return;
  }
  const body = { contact_id: item.contact_id, reason };
  if (event.target.tier.value) body.to_tier = Number(event.target.tier.value);
  const reply = await command("escalate", body);
  if (reply) finished(item, `Escalated ${item.contact_id}: it waits for someone more senior.`);
}

async function transferWork(event, item) {
  event.preventDefault();
  const service = event.target.service.value.trim();
  if (!service) {
    showProblem("Name the service to transfer it to.");
    event.target.service.focus();
    return;
  }
  const reply = await command("transfer", { contact_id: item.contact_id, service });
  if (reply) finished(item, `Transferred ${item.contact_id} to ${words(service)}.`);
}

$("login").addEventListener("submit", logIn);
$("ready").addEventListener("click", async () => {
  const reply = await command("ready");
  if (reply?.unchanged) log("You were already ready.");
});
$("not-ready").addEventListener("submit", async (event) => {
  event.preventDefault();
  const reason = $("not-ready-reason").value;
  const reply = await command("not_ready", { reason });
  // The reply says the presence, not the reason: the reason shown is the one just sent.
  if (reply && !reply.unchanged) setPresence("not_ready", reason, null);
});
$("logout").addEventListener("click", async () => {
  const reply = await command("logout");
  if (!reply) return;
  state.offers.clear();
  state.work.clear();
  save();
  const agent = state.agent;
  await detach();
  $("desk").hidden = true;
  $("login").hidden = false;
  $("who").textContent = "";
  log(`Logged out ${agent}.`);
  say("Logged out.");
  $("agent-id").focus();
});

fillForm();
setInterval(renderTimers, 250);
