// What the wallboard and the desktop share: the engine's configuration, the NATS connection over
// WebSocket, requests on the wire contract (docs/wire.md), every error in words, and small
// helpers for durations, times and the DOM.

import { wsconnect, errors } from "@nats-io/nats-core";

/** The engine's configuration, written into the page when it was served. */
export function pageConfig() {
  const block = document.getElementById("switchboard-config");
  const config = block ? JSON.parse(block.textContent) : {};
  return {
    nats_ws_url: config.nats_ws_url ?? null,
    subject_prefix: config.subject_prefix ?? "switchboard",
    service_levels: config.service_levels ?? { default_target: 0.8, answer_within_secs: {}, queues: [] },
  };
}

/** The WebSocket URL to connect to: as configured, or a path resolved on this page's origin. */
export function natsUrl(config) {
  const url = config.nats_ws_url;
  if (!url) return null;
  if (url.startsWith("/")) {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}${url}`;
  }
  return url;
}

/** An error to show a person: `words` is the sentence; `code` the engine's code, if any. */
export class PageError extends Error {
  constructor(words, code = null) {
    super(words);
    this.code = code;
  }
}

/** What each of the engine's error codes means, for a person (docs/wire.md, "Errors"). */
const ENGINE_ERRORS = {
  invalid_message: "The engine could not accept the request as sent",
  unknown_subject: "The engine does not answer on that subject",
  payload_too_large: "The request was too large for the engine",
  unknown_agent: "The engine does not know this agent: log in first",
  unknown_contact: "That contact is no longer open (it was never created, or it has finished)",
  unknown_offer: "That offer is no longer open: it was answered, it expired or it was withdrawn",
  invalid_transition: "That cannot be done now",
  not_your_offer: "That offer or contact belongs to another agent",
  duplicate_contact: "A contact with that id already exists",
  invalid_command: "The engine cannot accept that",
  unavailable: "The engine is busy and could not answer now; try again in a moment",
  closed: "That channel is closed now",
};

/** A refused command's reply in words: what the code means, then the engine's own sentence. */
export function refusalInWords(error) {
  const meaning = ENGINE_ERRORS[error?.code] ?? "The engine refused the request";
  let words = meaning;
  if (error?.message) words += `. ${sentence(error.message)}`;
  else words += ".";
  if (error?.code === "closed" && error.opens_at) words += ` It opens at ${dateTime(error.opens_at)}.`;
  return words;
}

function sentence(text) {
  // The engine quotes names in backticks; people read quotation marks.
  const trimmed = String(text).trim().replace(/`([^`]*)`/g, "‘$1’");
  if (!trimmed) return "";
  const first = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** Any error in words: the engine's refusals, NATS's own errors, anything else. */
export function inWords(error) {
  if (error instanceof PageError) return error.message;
  for (let e = error; e; e = e.cause) {
    if (e instanceof errors.PermissionViolationError) {
      const verb = e.operation === "publish" ? "send on" : "listen on";
      return `Your NATS user is not allowed to ${verb} ${e.subject}. Ask whoever runs NATS to check your user's permissions.`;
    }
    if (e instanceof errors.AuthorizationError) {
      return "NATS did not accept the user name or password.";
    }
    if (e instanceof errors.UserAuthenticationExpiredError) {
      return "Your NATS sign-in has expired: sign in again.";
    }
    if (e instanceof errors.NoRespondersError) {
      return "Nothing answered: the engine is not running, or not on this subject prefix. Try again when it is back.";
    }
    if (e instanceof errors.TimeoutError) {
      return "The engine did not answer in time. It may be restarting or too busy; try again.";
    }
    if (e instanceof errors.ClosedConnectionError || e instanceof errors.DrainingConnectionError) {
      return "The connection to NATS is closed: reload the page to connect again.";
    }
  }
  const text = error?.message ? String(error.message) : String(error);
  if (/authorization/i.test(text)) return "NATS did not accept the user name or password.";
  return `Something went wrong: ${text}`;
}

/** Whether an error is NATS refusing who we are (so a sign-in form should be shown). */
export function isAuthorizationError(error) {
  for (let e = error; e; e = e.cause) {
    if (e instanceof errors.AuthorizationError) return true;
    if (/authorization violation/i.test(String(e?.message ?? ""))) return true;
  }
  return false;
}

/**
 * Connects to NATS over WebSocket. `inboxPrefix` is where replies come back: the deploy/
 * permissions give each desktop `_INBOX.<agent id>.>` and the wallboard `_INBOX.wallboard.>`.
 */
export async function connect(config, { user, password, inboxPrefix, name }) {
  const url = natsUrl(config);
  if (!url) {
    throw new PageError(
      "The engine was not told where NATS's WebSocket listener is, so this page cannot connect. " +
        "Whoever runs Switchboard sets it with --nats-ws-url, [http] nats_ws_url or SWITCHBOARD_NATS_WS_URL.",
    );
  }
  const options = {
    servers: url,
    name,
    inboxPrefix,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
  };
  if (user) {
    options.user = user;
    options.pass = password ?? "";
  }
  try {
    return await wsconnect(options);
  } catch (error) {
    if (isAuthorizationError(error)) throw error;
    throw new PageError(`Cannot reach NATS at ${url}. ${inWords(error).replace(/^Something went wrong: /, "")}`);
  }
}

/** Shows the connection's state in `element` (a `role="status"` region) as it changes. */
export async function watchConnection(nc, element, onChange = () => {}) {
  const show = (text, state) => {
    element.textContent = text;
    element.dataset.state = state;
    onChange(state);
  };
  show("Connected to NATS", "up");
  nc.closed().then((error) => {
    show(error ? `Disconnected from NATS: ${inWords(error)}` : "Disconnected from NATS", "down");
  });
  for await (const status of nc.status()) {
    switch (status.type) {
      case "disconnect":
        show("Connection to NATS lost: reconnecting…", "down");
        break;
      case "reconnecting":
        show("Reconnecting to NATS…", "down");
        break;
      case "reconnect":
        show("Connected to NATS", "up");
        break;
      case "error":
        if (status.error instanceof errors.PermissionViolationError) onChange("denied", status.error);
        break;
      default:
        break;
    }
  }
}

/**
 * Sends a request on the wire contract and returns its reply when `ok`; a refusal or any NATS
 * failure is thrown as a `PageError` in words.
 */
export async function request(nc, subject, body = {}, timeout = 5000) {
  let message;
  try {
    message = await nc.request(subject, JSON.stringify(body), { timeout });
  } catch (error) {
    throw new PageError(inWords(error));
  }
  let reply;
  try {
    reply = JSON.parse(new TextDecoder().decode(message.data));
  } catch {
    throw new PageError("The engine's reply could not be read.");
  }
  if (reply.ok !== true) throw new PageError(refusalInWords(reply.error), reply.error?.code ?? null);
  return reply;
}

/** `council_tax` as "Council tax". */
export function words(name) {
  if (name === null || name === undefined || name === "") return "";
  const text = String(name).replaceAll("_", " ");
  return text[0].toUpperCase() + text.slice(1);
}

const CHANNEL_NOUNS = {
  phone: "call",
  face_to_face: "visitor",
  chat: "chat",
  email: "email",
  callback: "callback",
};

/** What a contact on `channel` is called: a call, a visitor, a chat... */
export function channelNoun(channel) {
  return CHANNEL_NOUNS[channel] ?? "contact";
}

/** A channel's name for people: "face to face" rather than `face_to_face`. */
export function channelName(channel) {
  return channel === "face_to_face" ? "face to face" : String(channel ?? "");
}

/** A duration for people: "45 s", "3 min 20 s", "2 h 5 min", "3 days 4 h". */
export function duration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days > 0) return `${days} day${days === 1 ? "" : "s"}${hours ? ` ${hours} h` : ""}`;
  if (hours > 0) return `${hours} h${minutes ? ` ${minutes} min` : ""}`;
  if (minutes > 0) return `${minutes} min${seconds ? ` ${seconds} s` : ""}`;
  return `${seconds} s`;
}

/** A time of day, 24-hour, for an RFC 3339 string or a Date. */
export function clock(at, seconds = false) {
  const date = at instanceof Date ? at : new Date(at);
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (seconds) options.second = "2-digit";
  return date.toLocaleTimeString("en-GB", options);
}

/** A date and time for people: "Mon 23 Nov, 09:00" (the time alone when it is today). */
export function dateTime(at) {
  const date = new Date(at);
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return clock(date);
  return `${date.toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short" })}, ${clock(date)}`;
}

/** `document.createElement` with attributes and children (strings become text). */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") element.textContent = value;
    else if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Shows `words` in the page's alert region (`role="alert"`), or hides it when empty. */
export function showProblem(words) {
  const problem = document.getElementById("problem");
  if (!problem) return;
  problem.textContent = words ?? "";
  problem.hidden = !words;
}

/** Decodes a NATS message's JSON body; `null` when it is not JSON. */
export function json(message) {
  try {
    return JSON.parse(new TextDecoder().decode(message.data));
  } catch {
    return null;
  }
}
