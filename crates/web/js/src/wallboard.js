// The wallboard: per queue, who is waiting and for how long, today's service level against its
// target, answered, abandoned and unservable contacts; the agents by presence, site and tier; the
// complaints and deferred work near or past their due time. Live: the events feed
// (`{p}.events.>`) says when something changed, and the queries (`{p}.query.queues`,
// `{p}.query.agents`, `{p}.query.contact`) give the figures. Read-only: it sends nothing but
// queries, as the wallboard NATS user of deploy/nats/auth.conf may.

import {
  PageError,
  channelName,
  clock,
  connect,
  dateTime,
  duration,
  el,
  inWords,
  isAuthorizationError,
  json,
  pageConfig,
  request,
  showProblem,
  watchConnection,
  words,
} from "./common.js";

const config = pageConfig();
const prefix = config.subject_prefix;
/** Where a remembered sign-in is kept (only when "Remember on this screen" was ticked). */
const CREDENTIALS_KEY = "switchboard.wallboard.credentials";
/** Where the day's first figures are kept, to count "today" from. */
const BASELINE_KEY = `switchboard.wallboard.baseline.${prefix}`;
/** The figures are read again at least this often, even when no event says they changed. */
const REFRESH_EVERY_MS = 5000;
/** After an event, the figures are read again after this pause (events come in bursts). */
const REFRESH_AFTER_EVENT_MS = 250;
/** A service level this far below its target or more reads "below target"; less, "at risk". */
const AT_RISK_MARGIN = 0.1;
/** At most this many due-time warnings are listed (the most urgent first). */
const DUE_SHOWN_MAX = 50;

const state = {
  nc: null,
  queues: null,
  agents: null,
  /** `Date.now()` when the figures were read, to count waits on between reads. */
  readAt: 0,
  baseline: null,
  refreshTimer: null,
  queueStates: new Map(),
  /** Contacts with a due-time warning or breach, by id. */
  due: new Map(),
  /** Since when due-time warnings are known. */
  watchingSince: null,
  detailsQueue: [],
  detailsRunning: false,
};

const $ = (id) => document.getElementById(id);

function today() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}

function queueKey(line) {
  return `${line.service} ${line.channel}`;
}

/** Running totals the wallboard counts "today" from. */
const COUNTED = ["created", "answered", "answered_within_service_level", "abandoned", "completed"];

/**
 * The day's first figures (kept on this screen): today's counts are the engine's running totals
 * less these. Taken afresh on the first read of each day, or when the totals went back (a new
 * log).
 */
function baselineFor(reply) {
  let baseline = null;
  try {
    baseline = JSON.parse(localStorage.getItem(BASELINE_KEY) ?? "null");
  } catch {
    baseline = null;
  }
  const wentBack =
    baseline &&
    reply.queues.some((line) => {
      const base = baseline.queues[queueKey(line)];
      return base && COUNTED.some((name) => (line[name] ?? 0) < base[name]);
    });
  if (!baseline || baseline.day !== today() || wentBack) {
    baseline = { day: today(), at: reply.at, queues: {} };
    for (const line of reply.queues) {
      baseline.queues[queueKey(line)] = Object.fromEntries(COUNTED.map((name) => [name, line[name] ?? 0]));
    }
    try {
      localStorage.setItem(BASELINE_KEY, JSON.stringify(baseline));
    } catch {
      // A screen that keeps nothing counts from now on each load.
    }
  }
  return baseline;
}

/**
 * The span the counts cover, for the headings: "today" when this screen has read the figures
 * since the day began, else "since 14:05" (a screen opened mid-day cannot know the morning's:
 * the engine's figures are running totals since its log began).
 */
function period() {
  const since = state.baseline ? new Date(state.baseline.at) : null;
  if (!since || (since.getHours() === 0 && since.getMinutes() < 5)) return "today";
  return `since ${clock(since)}`;
}

/** Today's counts of one queue: its totals less the day's first figures (none: it is new today). */
function todays(line) {
  const base = state.baseline?.queues[queueKey(line)];
  const counts = {};
  for (const name of COUNTED) counts[name] = (line[name] ?? 0) - (base ? base[name] : 0);
  const whole = counts.answered + counts.abandoned + (line.waiting_past_threshold ?? 0);
  counts.service_level = whole > 0 ? counts.answered_within_service_level / whole : null;
  return counts;
}

function targetOf(line) {
  const levels = config.service_levels;
  const own = levels.queues.find((q) => q.service === line.service && q.channel === line.channel);
  return {
    target: own ? own.target : levels.default_target,
    answerWithinMs: 1000 * (own ? own.answer_within_secs : (levels.answer_within_secs[line.channel] ?? 20)),
  };
}

const STATES = {
  ok: { word: "On target", mark: "✓" },
  quiet: { word: "No answers yet", mark: "–" },
  warn: { word: "At risk", mark: "!" },
  bad: { word: "Below target", mark: "✕" },
  unservable: { word: "Nobody can serve", mark: "✕" },
};

/** The queue's state, in order of urgency, with the reasons a team leader reads. */
function queueState(line, counts, oldestMs) {
  const { target, answerWithinMs } = targetOf(line);
  const reasons = [];
  let level = counts.service_level === null ? "quiet" : "ok";
  const raise = (to) => {
    const order = ["quiet", "ok", "warn", "bad", "unservable"];
    if (order.indexOf(to) > order.indexOf(level)) level = to;
  };
  if (counts.service_level !== null && counts.service_level < target) {
    raise(counts.service_level < target - AT_RISK_MARGIN ? "bad" : "warn");
  }
  if (oldestMs !== null && oldestMs > answerWithinMs) {
    raise("warn");
    reasons.push(`oldest wait past ${duration(answerWithinMs)}`);
  }
  if ((line.unservable ?? 0) > 0) raise("unservable");
  return { level, reasons, target, answerWithinMs };
}

function percent(ratio) {
  return ratio === null ? "–" : `${Math.floor(ratio * 100)}%`;
}

function figure(label, value, extra = {}) {
  return el("div", { class: `figure ${extra.class ?? ""}` }, el("dt", { text: label }), el("dd", { text: value }));
}

/** What is shown of each queue, worked out once for the table and the cards. */
function queueModel(line, elapsed) {
  const waiting = (line.waiting ?? 0) + (line.offered ?? 0);
  const oldestMs = waiting > 0 && line.oldest_wait_ms !== null ? line.oldest_wait_ms + elapsed : null;
  const counts = todays(line);
  const status = queueState(line, counts, oldestMs);
  return {
    line,
    key: queueKey(line),
    name: `${words(line.service)}, ${channelName(line.channel)}`,
    waiting,
    oldest: oldestMs === null ? "none" : duration(oldestMs),
    late: oldestMs !== null && oldestMs > status.answerWithinMs,
    counts,
    status,
    quiet: waiting === 0 && counts.created === 0 && (line.unservable ?? 0) === 0 && (line.assigned ?? 0) === 0,
  };
}

function badge(model) {
  return el(
    "span",
    { class: `badge ${model.status.level}` },
    el("span", { "aria-hidden": "true", class: "mark", text: STATES[model.status.level].mark }),
    ` ${stateWord(model.status, model.line)}`,
  );
}

function queueExtras(model) {
  const line = model.line;
  const extras = [...model.status.reasons];
  if ((line.offered ?? 0) > 0) extras.push(`${line.offered} ringing`);
  if ((line.assigned ?? 0) > 0) extras.push(`${line.assigned} being handled`);
  if ((line.waiting_for_opening ?? 0) > 0) extras.push(`${line.waiting_for_opening} held for the opening`);
  return extras.length ? el("span", { class: "extras", text: words(extras.join("; ")) }) : null;
}

function queueTable(models) {
  const head = [
    "Queue",
    "State",
    "Waiting now",
    "Oldest wait",
    `Service level ${period()}`,
    `Answered ${period()}`,
    `Abandoned ${period()}`,
    "Nobody can serve",
  ];
  return el(
    "table",
    { class: "queues" },
    el("caption", { class: "visually-hidden", text: "Queues" }),
    el("thead", {}, el("tr", {}, head.map((text) => el("th", { scope: "col", text })))),
    el(
      "tbody",
      {},
      models.map((model) =>
        el(
          "tr",
          { class: model.status.level, "data-queue": model.key },
          el("th", { scope: "row" }, model.name, queueExtras(model)),
          el("td", { class: "state" }, badge(model)),
          el("td", { class: "big", text: String(model.waiting) }),
          el("td", { class: `big ${model.late ? "late" : ""} ${model.oldest === "none" ? "none" : ""}`, text: model.oldest }),
          el(
            "td",
            { class: "big" },
            percent(model.counts.service_level),
            el("span", { class: "target", text: `target ${percent(model.status.target)}` }),
          ),
          el("td", { text: String(model.counts.answered) }),
          el("td", { text: String(model.counts.abandoned) }),
          el("td", { class: (model.line.unservable ?? 0) > 0 ? "alarm" : "", text: String(model.line.unservable ?? 0) }),
        ),
      ),
    ),
  );
}

function queueCards(models) {
  return el(
    "div",
    { class: "cards" },
    models.map((model, n) =>
      el(
        "article",
        { class: `queue ${model.status.level}`, "aria-labelledby": `queue-card-${n}` },
        el("h3", { id: `queue-card-${n}`, text: model.name }),
        el("p", {}, badge(model), " ", queueExtras(model)),
        el(
          "dl",
          {},
          figure("Waiting now", String(model.waiting), { class: "big" }),
          figure("Oldest wait", model.oldest, { class: `big ${model.late ? "late" : ""}` }),
          figure(`Service level ${period()} (target ${percent(model.status.target)})`, percent(model.counts.service_level), {
            class: "big",
          }),
          figure(`Answered ${period()}`, String(model.counts.answered)),
          figure(`Abandoned ${period()}`, String(model.counts.abandoned)),
          figure("Nobody can serve", String(model.line.unservable ?? 0), {
            class: (model.line.unservable ?? 0) > 0 ? "alarm" : "",
          }),
        ),
      ),
    ),
  );
}

function renderQueues() {
  const reply = state.queues;
  if (!reply) return;
  const elapsed = Date.now() - state.readAt;
  const models = reply.queues.map((line) => queueModel(line, elapsed));
  const announcements = [];
  for (const model of models) {
    const before = state.queueStates.get(model.key);
    if (before && before !== model.status.level) announcements.push(`${model.name}: ${stateWord(model.status, model.line)}.`);
    state.queueStates.set(model.key, model.status.level);
  }
  const busy = models.filter((model) => !model.quiet);
  const quiet = models.filter((model) => model.quiet);
  const shown = [];
  if (busy.length) {
    // The table on a wide screen, cards on a phone: the style sheet shows one of the two.
    shown.push(el("div", { class: "wide" }, queueTable(busy)), el("div", { class: "narrow" }, queueCards(busy)));
  } else {
    shown.push(el("p", { class: "note", text: `Nobody is waiting and no contact has arrived ${period()}.` }));
  }
  if (quiet.length) {
    shown.push(el("p", { class: "note quiet", text: `Quiet (nothing waiting or in hand, nothing arrived ${period()}): ${quiet.map((m) => m.name).join("; ")}.` }));
  }
  $("queues").replaceChildren(...shown);
  const counted = period();
  $("queues-note").textContent =
    `Read at ${clock(reply.at, true)}. ` +
    (counted === "today"
      ? ""
      : `Answered, abandoned and service level count ${counted}, when this screen first read the figures today (it cannot know earlier ones). `) +
    "Service level: answered within the threshold ÷ (answered + abandoned + still waiting past it).";
  if (announcements.length) $("changes").textContent = announcements.join(" ");
}

function stateWord(status, line) {
  if (status.level === "unservable") return `Nobody can serve ${line.unservable} waiting`;
  return STATES[status.level].word;
}

function agentGroup(agent) {
  if (agent.presence === "logged_out") return null;
  if (agent.presence === "wrap_up") return "wrap_up";
  if ((agent.contacts?.length ?? 0) > 0 || (agent.offers?.length ?? 0) > 0) return "on_contacts";
  if (agent.presence === "not_ready") return "not_ready";
  return "available";
}

const GROUPS = [
  ["available", "Available"],
  ["on_contacts", "On contacts"],
  ["wrap_up", "Wrap-up"],
  ["not_ready", "Not ready"],
];

function renderAgents() {
  const reply = state.agents;
  if (!reply) return;
  const totals = Object.fromEntries(GROUPS.map(([key]) => [key, 0]));
  const rows = new Map();
  const reasons = new Map();
  for (const agent of reply.agents) {
    const group = agentGroup(agent);
    if (!group) continue;
    totals[group] += 1;
    const key = `${agent.site}\u0000${agent.tier}`;
    if (!rows.has(key)) rows.set(key, { site: agent.site, tier: agent.tier, ...Object.fromEntries(GROUPS.map(([g]) => [g, 0])) });
    rows.get(key)[group] += 1;
    if (group === "not_ready") {
      const reason = words(agent.reason ?? "no reason");
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
  }
  $("agent-totals").replaceChildren(
    el(
      "dl",
      {},
      GROUPS.map(([key, label]) => el("div", { class: `figure big ${key}` }, el("dt", { text: label }), el("dd", { text: String(totals[key]) }))),
    ),
    ...(reasons.size
      ? [el("p", { class: "note", text: `Not ready: ${[...reasons].map(([r, n]) => `${n} ${r.toLowerCase()}`).join(", ")}.` })]
      : []),
  );
  const sorted = [...rows.values()].sort((a, b) => a.site.localeCompare(b.site) || a.tier - b.tier);
  // A phone has no room for six columns: one line per site and tier instead (the style sheet
  // shows one of the two).
  $("agents-list").replaceChildren(
    ...(sorted.length
      ? sorted.map((row) =>
          el(
            "li",
            {},
            el("strong", { text: `${words(row.site)}, tier ${row.tier}: ` }),
            GROUPS.map(([key, label]) => `${row[key]} ${label.toLowerCase()}`).join(", "),
          ),
        )
      : [el("li", { text: "Nobody is logged in." })]),
  );
  $("agents-rows").replaceChildren(
    ...(sorted.length
      ? sorted.map((row) =>
          el(
            "tr",
            {},
            el("th", { scope: "row", text: words(row.site) }),
            el("td", { text: String(row.tier) }),
            GROUPS.map(([key]) => el("td", { text: String(row[key]) })),
          ),
        )
      : [el("tr", {}, el("td", { colspan: "6", text: "Nobody is logged in." }))]),
  );
}

function renderDue() {
  const now = Date.now();
  const items = [...state.due.values()]
    .filter((item) => !item.finished)
    .sort((a, b) => new Date(a.due_at ?? 0) - new Date(b.due_at ?? 0))
    .slice(0, DUE_SHOWN_MAX);
  $("due").replaceChildren(
    ...(items.length
      ? items.map((item) => {
          const due = item.due_at ? new Date(item.due_at) : null;
          const past = item.breached || (due && due.getTime() <= now);
          const when = due
            ? past
              ? `overdue by ${duration(now - due.getTime())} (was due ${dateTime(item.due_at)})`
              : `due in ${duration(due.getTime() - now)} (${dateTime(item.due_at)})`
            : "due time not known";
          const what = [
            item.complaint_stage ? `Complaint, ${words(item.complaint_stage).toLowerCase()}` : null,
            item.service ? words(item.service) : null,
            item.channel ? channelName(item.channel) : null,
          ]
            .filter(Boolean)
            .join(", ");
          return el(
            "li",
            { class: past ? "bad" : "warn" },
            el("span", { class: "badge-inline", "aria-hidden": "true", text: past ? "✕" : "!" }),
            el("strong", { text: past ? "Past due" : "Near due" }),
            ` ${item.contact_id}${what ? ` (${what})` : ""}: ${when}`,
          );
        })
      : [el("li", { class: "none", text: "Nothing is near or past its due time." })]),
  );
  $("due-note").textContent = state.watchingSince
    ? `Warnings raised since ${clock(state.watchingSince)}, when this screen started watching the events feed.`
    : "";
}

async function refresh() {
  state.refreshTimer = null;
  if (!state.nc) return;
  try {
    const [queues, agents] = await Promise.all([
      request(state.nc, `${prefix}.query.queues`),
      request(state.nc, `${prefix}.query.agents`),
    ]);
    state.queues = queues;
    state.agents = agents;
    state.readAt = Date.now();
    state.baseline = baselineFor(queues);
    showProblem(null);
    renderQueues();
    renderAgents();
    document.body.dataset.readAt = queues.at;
  } catch (error) {
    const shown = state.queues ? ` The figures shown are from ${clock(state.queues.at, true)}.` : "";
    showProblem(`${inWords(error)}${shown}`);
  }
}

function scheduleRefresh(delay = REFRESH_AFTER_EVENT_MS) {
  if (state.refreshTimer === null) state.refreshTimer = setTimeout(refresh, delay);
}

/** Reads a warned contact's service, channel, stage and due time (one query at a time). */
async function fetchDetails() {
  if (state.detailsRunning) return;
  state.detailsRunning = true;
  while (state.detailsQueue.length) {
    const id = state.detailsQueue.shift();
    const item = state.due.get(id);
    if (!item) continue;
    try {
      const reply = await request(state.nc, `${prefix}.query.contact`, { contact_id: id });
      item.service = reply.service;
      item.channel = reply.channel;
      item.complaint_stage = reply.complaint_stage;
      if (reply.due_at) item.due_at = reply.due_at;
      if (reply.status === "finished" || reply.status === "unknown") state.due.delete(id);
    } catch (error) {
      if (error instanceof PageError && error.code === "unavailable" && (item.tries = (item.tries ?? 0) + 1) < 5) {
        state.detailsQueue.push(id);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    renderDue();
  }
  state.detailsRunning = false;
}

function onEvent(type, event) {
  if (!event) return;
  const id = event.contact_id;
  switch (type) {
    case "due_time_at_risk":
    case "due_time_breached": {
      const item = state.due.get(id) ?? { contact_id: id };
      if (event.due_at) item.due_at = event.due_at;
      if (type === "due_time_breached") item.breached = true;
      state.due.set(id, item);
      state.detailsQueue.push(id);
      fetchDetails();
      renderDue();
      break;
    }
    case "due_time_extended":
    case "complaint_stage_changed":
    case "contact_completed":
    case "contact_abandoned":
      // A new due time (or none): it is listed again if it comes near that one.
      if (state.due.delete(id)) renderDue();
      break;
    default:
      break;
  }
  scheduleRefresh();
}

async function follow(nc) {
  const subscription = nc.subscribe(`${prefix}.events.>`);
  state.watchingSince = new Date();
  for await (const message of subscription) {
    onEvent(message.subject.slice(`${prefix}.events.`.length), json(message));
  }
}

function storedCredentials() {
  try {
    return JSON.parse(localStorage.getItem(CREDENTIALS_KEY) ?? sessionStorage.getItem(CREDENTIALS_KEY) ?? "null");
  } catch {
    return null;
  }
}

async function start(credentials) {
  showProblem(null);
  $("connection").textContent = "Connecting to NATS…";
  let nc;
  try {
    nc = await connect(config, {
      user: credentials?.user,
      password: credentials?.password,
      inboxPrefix: "_INBOX.wallboard",
      name: "switchboard-wallboard",
    });
  } catch (error) {
    $("connection").textContent = "Not connected";
    if (isAuthorizationError(error)) {
      $("sign-in").hidden = false;
      showProblem(credentials?.user ? inWords(error) : null);
      $("wb-password").focus();
      return;
    }
    showProblem(inWords(error));
    return;
  }
  state.nc = nc;
  $("sign-in").hidden = true;
  $("board").hidden = false;
  watchConnection(nc, $("connection"), (connection, error) => {
    if (connection === "up") scheduleRefresh(0);
    if (connection === "denied") showProblem(inWords(error));
  });
  follow(nc).catch((error) => showProblem(inWords(error)));
  await refresh();
  setInterval(() => scheduleRefresh(0), REFRESH_EVERY_MS);
  renderDue();
}

function tick() {
  $("clock").textContent = clock(new Date(), true);
  renderQueues();
  renderDue();
}

$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const credentials = { user: form.user.value.trim(), password: form.password.value };
  if (!credentials.user) {
    showProblem("Enter the wallboard's NATS user.");
    form.user.focus();
    return;
  }
  try {
    const storage = form.remember.checked ? localStorage : sessionStorage;
    storage.setItem(CREDENTIALS_KEY, JSON.stringify(credentials));
  } catch {
    // Not kept: asked again on the next load.
  }
  start(credentials);
});

const user = new URLSearchParams(window.location.search).get("user");
if (user) $("wb-user").value = user;
setInterval(tick, 1000);
tick();
start(storedCredentials());
