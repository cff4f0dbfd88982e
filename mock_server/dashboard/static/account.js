// The dashboard's account view (/__mock/accounts/{account_id}): plain DOM and uPlot, no build step.
// It reads GET /__mock/accounts/{id}/overview and moves the clock with POST /__mock/clock, same-origin,
// with the control token the dashboard keeps in sessionStorage (when the mock was started with --token).
"use strict";

const POLL_MS = 2000;
const COLORS = ["#3050c8", "#c8501e", "#167a3a", "#8a3fc8", "#b8860b", "#0e7c86"];
const $ = (id) => document.getElementById(id);
const ACCOUNT = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const state = {
  token: sessionStorage.getItem("togai-mock-token") || "",
  days: 31,
  shown: "", // the last overview drawn, so a poll that changes nothing leaves the page (and a hover) alone
  charts: [],
};


async function call(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["Content-Type"] = "application/json";
  if (state.token) headers["Authorization"] = "Bearer " + state.token;
  const response = await fetch(path, {
    method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (response.status === 401) $("token-box").hidden = false;
  if (!response.ok) throw new Error(data && data.message ? data.message : `${response.status} ${response.statusText}`);
  return data;
}

function showError(error) {
  $("error").hidden = !error;
  $("error").textContent = error ? String(error.message || error) : "";
}

const day = (stamp) => (stamp ? stamp.slice(0, 10) : "");
const money = (value, unit) => `${Number(value).toLocaleString("en-US", { maximumFractionDigits: 6 })} ${unit}`;

// -- the regions -----------------------------------------------------------------------

function renderAccount(account, clock) {
  document.title = `Togai mock: ${account.name}`;
  $("account-title").textContent = `${account.name} (${account.id})`;
  $("account-meta").textContent = `${account.status} · customer ${account.customerId} · ${account.invoiceCurrency}` +
    (account.netTermDays === null ? "" : ` · net ${account.netTermDays} days`);
  $("clock-now").textContent = clock.now.replace("T", " ").replace(".000Z", " UTC");
  $("clock-kind").textContent = { test: "test clock (--clock)", seeded: "seeded clock (--seed)", wall: "real time" }[clock.kind];
  const fixed = clock.kind === "wall";
  for (const button of document.querySelectorAll("#clock-controls button, #clock-controls input")) {
    button.disabled = fixed;
    button.title = fixed ? "Real time cannot be moved: start the mock with --clock (or --seed)" : "";
  }
}

function renderPlan(plan, schedules) {
  $("plan-name").textContent = plan ? plan.pricePlanName : "No price plan now";
  $("plan-cycle").textContent = plan
    ? `${plan.interval} cycle ${day(plan.cycleStart)} → ${day(plan.cycleEnd)}` +
      (plan.gracePeriodDays ? ` · grace ${plan.gracePeriodDays} days` : "")
    : "";
  $("schedules").replaceChildren(
    el("thead", {}, el("tr", {}, ...["plan", "from", "until", ""].map((k) => el("th", {}, k)))),
    el("tbody", {}, ...schedules.map((s) => el("tr", { class: s.current ? "current" : "", dataset: { id: s.id } },
      el("td", {}, s.pricePlanName), el("td", {}, day(s.startDate)), el("td", {}, day(s.endDate)),
      el("td", {}, s.current ? "now" : "")))),
  );
}

function renderBalances(credits, wallet) {
  $("credit-available").textContent = money(credits.availableBalance, credits.unit);
  $("credit-running").textContent = `${money(credits.runningBalance, credits.unit)} in ${credits.activeCredits} active`;
  $("wallet-balance").textContent = wallet
    ? money(wallet.balance, wallet.unit) + (wallet.holdAmount ? ` (${money(wallet.holdAmount, wallet.unit)} on hold)` : "") +
      (wallet.status === "ACTIVE" ? "" : ` · ${wallet.status}`)
    : "none (a top-up opens one)";
}

function renderInvoices(invoices) {
  $("invoices-count").textContent = invoices.total > invoices.data.length
    ? `newest ${invoices.data.length} of ${invoices.total}` : `${invoices.total}`;
  const columns = ["id", "type", "status", "period", "invoice date", "due", "total", "paid"];
  $("invoices").replaceChildren(
    el("thead", {}, el("tr", {}, ...columns.map((k) => el("th", {}, k)))),
    el("tbody", {}, ...invoices.data.map((i) => el("tr", { dataset: { id: i.id, status: i.status } },
      el("td", {}, i.id), el("td", {}, i.invoiceType),
      el("td", {}, el("span", { class: "pill " + i.status.toLowerCase() }, i.status)),
      el("td", {}, i.startDate ? `${day(i.startDate)} → ${day(i.endDate)}` : ""),
      el("td", {}, day(i.invoiceDate)), el("td", {}, day(i.dueDate)),
      el("td", { class: "num total" }, money(i.totalAmount, i.currency)),
      el("td", { class: "num paid" }, money(i.paidAmount, i.currency))))),
  );
}

function renderUsage(usage) {
  for (const chart of state.charts) chart.destroy();
  state.charts = [];
  $("usage-range").textContent = `${day(usage.startTime)} → ${day(usage.timestamps[usage.timestamps.length - 1])}`;
  const box = $("charts");
  box.replaceChildren();
  if (!usage.meters.length) {
    box.append(el("p", { class: "muted", id: "no-usage" }, "No usage in these days."));
    return;
  }
  const xs = usage.timestamps.map((t) => Date.parse(t) / 1000);
  const columns = Math.min(usage.meters.length, 2); // side by side, two to a row
  const width = Math.max(300, Math.floor(((box.clientWidth || 900) - 12 * (columns - 1)) / columns));
  usage.meters.forEach((meter, n) => {
    const color = COLORS[n % COLORS.length];
    const holder = el("figure", { class: "chart", dataset: { meter: meter.id, color } },
      el("figcaption", {}, meter.name, " ",
        el("span", { class: "muted" }, `${sum(meter.units)} units · ${money(sum(meter.revenue), usage.currency)}`)));
    box.append(holder);
    const options = {
      width, height: 200,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true }, units: { auto: true }, money: { auto: true } },
      series: [
        {},
        { label: "units", scale: "units", stroke: color, fill: color + "55", width: 1,
          paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } },
        { label: usage.currency, scale: "money", stroke: "#1d2433", width: 2, value: (u, v) => (v === null ? "" : money(v, usage.currency)) },
      ],
      axes: [{}, { scale: "units" }, { scale: "money", side: 1, grid: { show: false } }],
      legend: { show: true },
    };
    state.charts.push(new uPlot(options, [xs, meter.units, meter.revenue], holder));
  });
}

const sum = (values) => Math.round(values.reduce((a, b) => a + b, 0) * 1e6) / 1e6;

// -- polling and the clock control -----------------------------------------------------

async function refresh() {
  try {
    const data = await call("GET", `/__mock/accounts/${encodeURIComponent(ACCOUNT)}/overview?days=${state.days}`);
    showError(null);
    const text = JSON.stringify(data);
    if (text === state.shown) return;
    state.shown = text;
    renderAccount(data.account, data.clock);
    renderPlan(data.plan, data.schedules);
    renderBalances(data.credits, data.wallet);
    renderInvoices(data.invoices);
    renderUsage(data.usage);
    document.body.dataset.ready = "true";
    document.body.dataset.now = data.clock.now;
  } catch (error) {
    showError(error);
  }
}

async function moveClock(target) {
  const body = /^P/i.test(target) ? { by: target.toUpperCase() } : { to: target };
  const result = $("clock-result");
  try {
    const moved = await call("POST", "/__mock/clock", body);
    const s = moved.summary;
    result.className = "muted";
    result.textContent = `Moved to ${moved.now}: ${s.cyclesClosed} cycle(s) closed, ` +
      `${s.invoicesDrafted.count} invoice(s) drafted, ${s.invoicesFinalized.count} finalized` +
      (s.creditsExpired ? `, ${s.creditsExpired.count} credit(s) expired` : "");
  } catch (error) {
    result.className = "error";
    result.textContent = error.message;
  }
  await refresh();
}

function start() {
  $("token").value = state.token;
  $("token").addEventListener("change", (event) => {
    state.token = event.target.value;
    sessionStorage.setItem("togai-mock-token", state.token);
    refresh();
  });
  for (const button of document.querySelectorAll("#clock-controls button[data-by]")) {
    button.addEventListener("click", () => moveClock(button.dataset.by));
  }
  $("clock-move").addEventListener("click", () => {
    const target = $("clock-target").value.trim();
    if (target) moveClock(target);
  });
  $("usage-days").addEventListener("change", (event) => {
    state.days = Number(event.target.value);
    refresh();
  });
  refresh();
  // One poll at a time: a slow answer never piles requests up.
  (async function loop() {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (!document.hidden) await refresh();
    loop();
  })();
}

start();
