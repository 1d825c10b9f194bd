//! The wallboard and the agent desktop in a real browser (Debian's Chromium, headless, driven
//! over the DevTools protocol) against a real engine (`switchboard serve`) and a real
//! nats-server with a WebSocket listener and deploy/'s users and permissions: the desktop signs
//! in as an agent's desktop user, the wallboard as the wallboard user.
//!
//! One browser for the file. The desktop goes through the whole loop (log in, ready, an offer
//! created over NATS, accept, complete with an outcome, wrap-up, ready again), sees an offer
//! withdrawn and a refusal in words, escalates a call, sees a complaint in hand taken off its
//! desk when it moves on a stage (the card goes at once, with why) and goes not ready for
//! lunch; the wallboard follows the queue's counts, the agents (and their not-ready reasons) and a
//! contact past its due time; axe-core finds no WCAG 2.2 AA violation on any page, and no page
//! scrolls sideways, wide or at a phone's width; screenshots are saved under
//! `target/tmp/browser/`. The setup (nats-server, the engine) is in `stack.rs`, the DevTools
//! client in `cdp.rs`.
//!
//! Without a browser the test says so and passes; `SWITCHBOARD_REQUIRE_BROWSER=1` (set by CI)
//! makes a missing browser a failure.

#[path = "../common/mod.rs"]
mod common;

mod cdp;

mod stack;

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use cdp::{Browser, Page};
use stack::{Stack, accessible, artefacts};

/// Checks that the page needs no sideways scrolling at its current width.
async fn fits(page: &Page<'_>, what: &str) {
    let widths = page
        .eval("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        .await;
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "{what} is wider than the window (page, window): {widths}"
    );
}

/// The cells of the wallboard's row for a queue, as text (state, waiting, oldest, SL,
/// answered, abandoned, nobody can serve), or `null` while it has none.
fn queue_row(key: &str) -> String {
    format!(
        "(() => {{ const row = document.querySelector('.wide tr[data-queue=\"{key}\"]'); \
         return row ? [...row.querySelectorAll('td')].map(c => c.innerText.trim()) : null; }})()"
    )
}

/// The wallboard asks who it is (NATS wants a user), then shows the board.
async fn wallboard_signs_in<'b>(browser: &'b Browser, base: &str) -> Page<'b> {
    let wallboard = browser.open(&format!("{base}/wallboard"), 1400, 1000).await;
    wallboard
        .wait_for(
            "the sign-in form",
            "!document.getElementById('sign-in').hidden",
        )
        .await;
    accessible(&wallboard, "the wallboard's sign-in").await;
    wallboard.fill("#wb-user", "wallboard").await;
    wallboard.fill("#wb-password", "wallboard-secret").await;
    wallboard.press("Enter").await;
    wallboard
        .wait_for(
            "the board",
            "!document.getElementById('board').hidden && document.body.dataset.readAt",
        )
        .await;
    wallboard
}

/// Ann logs in on the desktop with the form (her NATS user is her desktop's) and goes ready by
/// keyboard; the wallboard sees her available at the town hall, tier 1.
async fn ann_logs_in<'b>(browser: &'b Browser, base: &str, wallboard: &Page<'_>) -> Page<'b> {
    let desktop = browser
        .open(&format!("{base}/desktop?agent=ann"), 1280, 1000)
        .await;
    accessible(&desktop, "the desktop's login").await;
    desktop.fill("#agent-name", "Ann Jones").await;
    desktop.fill("#agent-site", "town_hall").await;
    desktop
        .eval("document.getElementById('agent-tier').value = '1'")
        .await;
    desktop
        .fill("#agent-skills", "council_tax 3, benefits 2")
        .await;
    desktop
        .eval("document.querySelector('#login details').open = true")
        .await;
    desktop.fill("#nats-user", "desktop-ann").await;
    desktop.fill("#nats-password", "desktop-secret").await;
    desktop.press("Enter").await;
    // 1. logged in, not ready; focus on the Ready button.
    desktop
        .wait_for(
            "logged in",
            "document.getElementById('presence').innerText.includes('Not ready')",
        )
        .await;
    assert_eq!(
        desktop.eval("document.activeElement.id").await,
        json!("ready")
    );
    // 2. ready, by keyboard.
    desktop.press("Enter").await;
    desktop
        .wait_for(
            "ready",
            "document.getElementById('presence').innerText.startsWith('Ready')",
        )
        .await;

    // The wallboard sees Ann available at the town hall, tier 1.
    wallboard
        .wait_for(
            "Ann available",
            "[...document.querySelectorAll('#agents-rows tr')].some(r => r.innerText.replace(/\\s+/g, ' ').trim() === 'Town hall 1 1 0 0 0')",
        )
        .await;
    desktop
}

/// A call arrives over NATS and rings on her desktop, saying why it came to her; the wallboard
/// shows it waiting.
async fn a_call_rings(stack: &Stack, desktop: &Page<'_>, wallboard: &Page<'_>, shots: &Path) {
    // 3. a call arrives over NATS and rings on her desktop, saying why it came to her.
    stack
        .create_contact(
            json!({"contact_id": "call-1", "channel": "phone", "service": "council_tax",
               "customer_id": "C-42", "vulnerable": true,
               "attributes": {"caller_number": "+441632960000"}}),
        )
        .await;
    let offer = desktop
        .wait_for(
            "the offer",
            "document.querySelector('#offers article')?.innerText",
        )
        .await;
    let offer = offer.as_str().unwrap_or_default().to_owned();
    for words in [
        "Incoming call: Council tax",
        "Answer within",
        "C-42",
        "+441632960000",
        "Vulnerable customer",
        "Why you:",
        "you were the only agent who could take it",
    ] {
        assert!(offer.contains(words), "the offer lacks {words:?}:\n{offer}");
    }
    let announced = desktop
        .wait_for(
            "the offer announced",
            "document.getElementById('announce').innerText",
        )
        .await;
    assert!(
        announced
            .as_str()
            .is_some_and(|a| a.starts_with("Incoming call: Council tax")),
        "{announced}"
    );
    accessible(desktop, "the desktop with an offer ringing").await;
    desktop.screenshot(&shots.join("desktop-offer.png")).await;
    // The wallboard: one waiting (ringing) on council tax by phone.
    let row = wallboard
        .wait_for(
            "call-1 waiting",
            &format!(
                "(r => r && r[1] === '1' && r)({})",
                queue_row("council_tax phone")
            ),
        )
        .await;
    assert_eq!(row[4], "0", "nothing answered yet: {row}");
}

/// She accepts by keyboard, completes with an outcome, wraps up and goes ready again; the
/// wallboard counts the answer.
async fn accepted_completed_ready(desktop: &Page<'_>, wallboard: &Page<'_>, shots: &Path) {
    // 4. accept, by keyboard.
    desktop.press_on("#offers button.accept", "Enter").await;
    desktop
        .wait_for(
            "the call in hand",
            "document.querySelector('#work article')?.innerText.includes('Call: Council tax')",
        )
        .await;
    // Ready, but not idle: the call takes all of her.
    assert_eq!(
        desktop
            .eval("document.getElementById('presence').innerText")
            .await,
        json!("Ready, with one contact in hand: more offers come when you have room")
    );
    let row = wallboard
        .wait_for(
            "call-1 answered",
            &format!(
                "(r => r && r[1] === '0' && r[4] === '1' && r)({})",
                queue_row("council_tax phone")
            ),
        )
        .await;
    assert_eq!(row[3], "100%\ntarget 80%", "{row}");

    // 5. complete with an outcome; 6. wrap-up, with its timer.
    desktop.press_on("#work input[value=resolved]", " ").await;
    desktop
        .press_on("#work form.complete button", "Enter")
        .await;
    desktop
        .wait_for(
            "wrap-up",
            "document.getElementById('presence').innerText.startsWith('Wrap-up') && document.getElementById('wrap-up').innerText.startsWith('Wrap-up time left')",
        )
        .await;
    desktop.screenshot(&shots.join("desktop-wrap-up.png")).await;
    // 7. ready again (ending wrap-up early).
    assert_eq!(
        desktop.eval("document.activeElement.id").await,
        json!("ready")
    );
    desktop.press("Enter").await;
    desktop
        .wait_for(
            "ready again",
            "document.getElementById('presence').innerText.startsWith('Ready')",
        )
        .await;
}

/// An offer withdrawn (the caller hangs up) shows at once.
async fn an_offer_withdrawn(stack: &Stack, desktop: &Page<'_>) {
    stack
        .create_contact(json!({"contact_id": "call-2", "channel": "phone", "service": "benefits"}))
        .await;
    desktop
        .wait_for(
            "the second offer",
            "document.querySelector('#offers article')",
        )
        .await;
    stack.abandon("call-2").await;
    desktop
        .wait_for(
            "the offer withdrawn",
            "!document.querySelector('#offers article') && document.getElementById('log').innerText.includes('withdrawn: the customer left before it was answered')",
        )
        .await;
}

/// A refusal is shown in words, never as a code; the call is escalated instead, leaves her
/// desk, and (no tier 2 is logged in) nobody can serve it.
async fn refused_then_escalated(
    stack: &Stack,
    desktop: &Page<'_>,
    wallboard: &Page<'_>,
    shots: &Path,
) {
    // A refusal is shown in words, never as a code: a transfer to a service with a space.
    stack
        .create_contact(
            json!({"contact_id": "call-3", "channel": "phone", "service": "council_tax"}),
        )
        .await;
    desktop
        .wait_for(
            "the third offer",
            "document.querySelector('#offers button.accept')",
        )
        .await;
    desktop.press_on("#offers button.accept", "Enter").await;
    desktop
        .wait_for("call-3 in hand", "document.querySelector('#work details')")
        .await;
    desktop
        .eval("document.querySelectorAll('#work details')[1].open = true")
        .await;
    desktop
        .fill("#work input[name=service]", "no such service")
        .await;
    desktop.press("Enter").await;
    let problem = desktop
        .wait_for(
            "the refusal",
            "!document.getElementById('problem').hidden && document.getElementById('problem').innerText",
        )
        .await;
    let problem = problem.as_str().unwrap_or_default();
    assert!(
        problem.starts_with("The engine could not accept the request as sent.")
            && problem.contains("‘service’"),
        "{problem}"
    );
    assert!(
        !problem.contains("invalid_message") && !problem.contains('`'),
        "{problem}"
    );
    accessible(desktop, "the desktop with work in hand and a refusal").await;
    desktop.screenshot(&shots.join("desktop-work.png")).await;

    // Escalated instead: it leaves her desk, and (no tier 2 is logged in) nobody can serve it.
    desktop
        .eval("document.querySelectorAll('#work details')[0].open = true")
        .await;
    desktop
        .fill("#work input[name=reason]", "wants a payment plan")
        .await;
    desktop.press("Enter").await;
    desktop
        .wait_for(
            "call-3 escalated",
            "!document.querySelector('#work article') && document.getElementById('log').innerText.includes('Escalated call-3')",
        )
        .await;
    wallboard
        .wait_for(
            "call-3 unservable",
            &format!(
                "(r => r && r[1] === '1' && r[6] === '1' && r)({})",
                queue_row("council_tax phone")
            ),
        )
        .await;
}

/// She ends her wrap-up by keyboard (if it has not ended by itself) and is ready.
async fn ends_wrap_up(desktop: &Page<'_>, what: &str) {
    if desktop
        .eval("document.getElementById('ready').hidden")
        .await
        == json!(false)
    {
        desktop.press_on("#ready", "Enter").await;
    }
    desktop
        .wait_for(
            what,
            "document.getElementById('presence').innerText.startsWith('Ready')",
        )
        .await;
}

/// A complaint in her hand is moved on a stage over NATS (by a complaints officer): the engine
/// takes it off her desk, and the desktop drops its card at once and says why. The caller then
/// hangs up and she ends her wrap-up, ready with nothing in hand.
async fn a_complaint_moved_on(stack: &Stack, desktop: &Page<'_>) {
    ends_wrap_up(desktop, "ready after the escalation").await;
    stack
        .create_contact(json!({"contact_id": "call-4", "channel": "phone",
            "service": "council_tax", "complaint_stage": "stage_1"}))
        .await;
    desktop
        .wait_for(
            "the complaint offered",
            "document.querySelector('#offers button.accept')",
        )
        .await;
    desktop.press_on("#offers button.accept", "Enter").await;
    desktop
        .wait_for(
            "the complaint in hand",
            "document.querySelector('#work article')?.innerText.includes('Stage 1')",
        )
        .await;
    stack.complaint_stage_2("call-4", "ann").await;
    let said = desktop
        .wait_for(
            "the complaint gone from her desk, and why",
            "!document.querySelector('#work article') && !document.getElementById('no-work').hidden \
             && document.getElementById('log').innerText",
        )
        .await;
    let said = said.as_str().unwrap_or_default();
    assert!(
        said.contains(
            "The call call-4 went back to the queue: the complaint moved on from stage 1 to its next stage. It is no longer yours."
        ),
        "{said}"
    );
    accessible(desktop, "the desktop after a complaint left it").await;
    desktop
        .wait_for(
            "wrap-up after the complaint",
            "document.getElementById('presence').innerText.startsWith('Wrap-up')",
        )
        .await;
    stack.abandon("call-4").await;
    ends_wrap_up(desktop, "ready after the complaint").await;
}

/// Not ready, with a reason, which the wallboard counts.
async fn not_ready_for_lunch(desktop: &Page<'_>, wallboard: &Page<'_>) {
    desktop
        .eval("document.getElementById('not-ready-reason').value = 'lunch'")
        .await;
    desktop.press_on("#not-ready button", "Enter").await;
    desktop
        .wait_for(
            "not ready for lunch",
            "document.getElementById('presence').innerText === 'Not ready (lunch)' && !document.getElementById('ready').hidden",
        )
        .await;
    wallboard
        .wait_for(
            "Ann at lunch",
            "document.getElementById('agent-totals').innerText.includes('Not ready: 1 lunch.')",
        )
        .await;
}

/// Deferred work (a letter) that nobody logged in can serve, past its due time, on the
/// wallboard.
async fn a_letter_past_due(stack: &Stack, wallboard: &Page<'_>, shots: &Path) {
    let due = std::time::SystemTime::now() + Duration::from_secs(2);
    let due: jiff::Timestamp = due.try_into().expect("a time");
    stack
        .create_contact(
            json!({"contact_id": "letter-1", "channel": "email", "service": "housing",
               "due_at": due.round(jiff::Unit::Millisecond).expect("rounded").to_string()}),
        )
        .await;
    wallboard
        .wait_for(
            "the letter past due",
            "document.getElementById('due').innerText.includes('Past due letter-1 (Housing, email)')",
        )
        .await;
    let row = wallboard
        .wait_for(
            "nobody can serve housing",
            &format!(
                "(r => r && r[6] === '1' && r)({})",
                queue_row("housing email")
            ),
        )
        .await;
    assert!(
        row[0]
            .as_str()
            .is_some_and(|s| s.contains("Nobody can serve 1")),
        "{row}"
    );
    let totals = wallboard
        .eval("document.getElementById('agent-totals').innerText")
        .await;
    assert!(
        totals
            .as_str()
            .is_some_and(|t| !t.contains("null") && t.contains("On contacts")),
        "{totals}"
    );
    accessible(wallboard, "the wallboard").await;
    fits(wallboard, "the wallboard").await;
    wallboard.screenshot(&shots.join("wallboard.png")).await;
}

/// Both pages on a phone.
async fn on_a_phone(wallboard: &Page<'_>, desktop: &Page<'_>, shots: &Path) {
    wallboard.resize(390, 844).await;
    wallboard
        .wait_for(
            "the queue cards",
            "getComputedStyle(document.querySelector('.narrow')).display !== 'none'",
        )
        .await;
    accessible(wallboard, "the wallboard on a phone").await;
    fits(wallboard, "the wallboard on a phone").await;
    let list = wallboard
        .eval("document.getElementById('agents-list').innerText")
        .await;
    assert_eq!(
        list,
        json!("Town hall, tier 1: 0 available, 0 on contacts, 0 wrap-up, 1 not ready"),
        "the agents by site and tier, on a phone"
    );
    wallboard
        .screenshot(&shots.join("wallboard-phone.png"))
        .await;

    desktop.resize(390, 844).await;
    accessible(desktop, "the desktop on a phone").await;
    fits(desktop, "the desktop on a phone").await;
    desktop.screenshot(&shots.join("desktop-phone.png")).await;
}

/// The home page links to both.
async fn the_home_page<'b>(browser: &'b Browser, base: &str) -> Page<'b> {
    let home = browser.open(&format!("{base}/"), 1000, 700).await;
    let links = home
        .eval("[...document.querySelectorAll('main a')].map(a => a.getAttribute('href'))")
        .await;
    assert_eq!(
        links,
        json!(["/wallboard", "/desktop", "/metrics", "/readyz"])
    );
    accessible(&home, "the home page").await;

    home
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_works_a_contact_through_and_the_wallboard_follows() {
    let Some(chromium) = cdp::find_chromium() else {
        assert!(
            std::env::var_os("SWITCHBOARD_REQUIRE_BROWSER").is_none(),
            "SWITCHBOARD_REQUIRE_BROWSER is set but no Chromium was found (apt-get install chromium)"
        );
        eprintln!("SKIPPED the browser test: no Chromium (install Debian's `chromium`)");
        return;
    };

    let stack = Stack::start().await;
    let base = &stack.base;
    let shots = artefacts();

    let browser = Browser::launch(&chromium).await;

    let wallboard = wallboard_signs_in(&browser, base).await;
    let desktop = ann_logs_in(&browser, base, &wallboard).await;
    a_call_rings(&stack, &desktop, &wallboard, &shots).await;
    accepted_completed_ready(&desktop, &wallboard, &shots).await;
    an_offer_withdrawn(&stack, &desktop).await;
    refused_then_escalated(&stack, &desktop, &wallboard, &shots).await;
    a_complaint_moved_on(&stack, &desktop).await;
    not_ready_for_lunch(&desktop, &wallboard).await;
    a_letter_past_due(&stack, &wallboard, &shots).await;
    on_a_phone(&wallboard, &desktop, &shots).await;
    let home = the_home_page(&browser, base).await;

    for (name, page) in [
        ("wallboard", &wallboard),
        ("desktop", &desktop),
        ("home", &home),
    ] {
        assert_eq!(
            page.reports(),
            Vec::<String>::new(),
            "{name} reported errors"
        );
    }
    eprintln!("screenshots in {}", shots.display());
}
