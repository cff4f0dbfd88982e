// The mock's dashboard: plain DOM, no framework, no build step.
// It is a client of the control API (/__mock/...), same-origin; every change
// sends Content-Type: application/json (the control API refuses others) and
// the control token when the mock was started with --token.
"use strict";

const POLL_MS = 1000;
const PAGE_SIZE = 50;
const JOURNAL_KEEP = 300; // entries kept in the page; the journal itself keeps more
const CELL_CHARS = 80;

const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem("togai-mock-token") || "",
  resource: null,
  pageTokens: [""], // the token of each page up to the current one
  lastId: 0,
  counts: {},
  shown: {}, // what each region last showed, so a poll that changes nothing leaves the DOM alone
};

// Re-render a region only when its data changed: a click or a text selection
// in the table survives the polls.
function changed(region, data) {
  const text = JSON.stringify(data);
  if (state.shown[region] === text) return false;
  state.shown[region] = text;
  return true;
}


async function call(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["Content-Type"] = "application/json";
  if (state.token) headers["Authorization"] = "Bearer " + state.token;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? (method === "GET" ? undefined : "") : JSON.stringify(body),
    cache: "no-store",
  });
  const data = await response.json().catch(() => null);
  if (response.status === 401) {
    $("token-box").hidden = false;
  }
  if (!response.ok) {
    const message = data && data.message ? data.message : response.statusText;
    throw new Error(`${method} ${path}: ${response.status} ${message}`);
  }
  return data;
}

function showError(error) {
  const box = $("error");
  box.hidden = !error;
  box.textContent = error ? String(error.message || error) : "";
}

function short(value) {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return text.length > CELL_CHARS ? text.slice(0, CELL_CHARS - 1) + "…" : text;
}

function pretty(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

// -- server and resources ------------------------------------------------------

async function refreshServer() {
  const info = await call("GET", "/__mock/server");
  $("server").textContent =
    `${info.spec} · ${info.operations} operations (${info.statefulOperations} stateful) · v${info.version}` +
    (info.watch.enabled ? ` · watching (${info.watch.reloads} reloads)` : "");
  const banner = $("reload-error");
  banner.hidden = !info.watch.error;
  banner.textContent = info.watch.error ? "Reload failed, still serving the previous version: " + info.watch.error : "";
}

async function refreshCounts() {
  const health = await call("GET", "/__mock/health");
  const { status, ...counts } = health; // every other key is a resource of the registry
  state.counts = counts;
  const nav = $("resources");
  const names = Object.keys(counts);
  if (!state.resource || !(state.resource in counts)) state.resource = names[0] || null;
  if (!changed("counts", [counts, state.resource])) return;
  nav.replaceChildren(
    ...names.map((name) =>
      el("button", {
        type: "button",
        class: name === state.resource ? "tab active" : "tab",
        dataset: { resource: name },
        onclick: () => selectResource(name),
      }, name, " ", el("span", { class: "count", "data-count": name }, counts[name])),
    ),
  );
}

function selectResource(name) {
  state.resource = name;
  state.pageTokens = [""];
  refreshCounts().then(refreshRecords).catch(showError);
}

async function refreshRecords() {
  const table = $("records");
  if (!state.resource) {
    table.replaceChildren();
    return;
  }
  const token = state.pageTokens[state.pageTokens.length - 1];
  const query = new URLSearchParams({ pageSize: PAGE_SIZE });
  if (token) query.set("nextToken", token);
  let page;
  try {
    page = await call("GET", `/__mock/records/${encodeURIComponent(state.resource)}?${query}`);
  } catch (error) {
    // The page this token pointed into is gone (a reset): start over.
    if (token) {
      state.pageTokens = [""];
      return refreshRecords();
    }
    throw error;
  }
  if (!changed("records", [state.resource, state.pageTokens, page])) return;
  const first = (state.pageTokens.length - 1) * PAGE_SIZE;
  $("records-title").textContent = page.total
    ? `${state.resource}: ${first + 1}–${first + page.data.length} of ${page.total}`
    : `${state.resource}: none`;
  $("next-page").disabled = !page.nextToken;
  $("next-page").dataset.token = page.nextToken || "";
  $("first-page").disabled = state.pageTokens.length === 1;
  const columns = [];
  for (const record of page.data) {
    for (const key of Object.keys(record)) if (!columns.includes(key)) columns.push(key);
  }
  table.replaceChildren(
    el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", {}, c)))),
    el("tbody", {}, ...page.data.map((record) =>
      el("tr", { dataset: { id: record.id ?? "" } }, ...columns.map((c) =>
        el("td", { title: c in record ? pretty(record[c]) : "" }, cell(state.resource, c, record)))))),
  );
}

// An account's id opens its view (plan, usage chart, invoices, balances, the clock).
function cell(resource, column, record) {
  if (resource === "accounts" && column === "id" && record.id) {
    return el("a", { href: `/__mock/accounts/${encodeURIComponent(record.id)}`, class: "account-link" }, short(record.id));
  }
  return short(record[column]);
}

// -- journal ---------------------------------------------------------------------

function journalEntry(entry) {
  const rejected = entry.status === 0 || entry.status >= 400;
  const summary = el("summary", {},
    el("span", { class: "time" }, entry.time.slice(11, 23)),
    el("span", { class: "method" }, entry.method),
    el("span", { class: "path" }, entry.path + (entry.query ? "?" + entry.query : "")),
    el("span", { class: "status s" + String(entry.status)[0] }, entry.status),
    entry.rejectedBy ? el("span", { class: "stage", title: "the stage that refused it" }, entry.rejectedBy) : null,
    entry.override ? el("span", { class: "badge" }, "override " + entry.override) : null,
    el("span", { class: "muted" }, `${entry.durationMs} ms`),
    entry.violations.length ? el("span", { class: "violation" }, entry.violations[0]) : null,
  );
  const parts = [summary];
  if (entry.violations.length) {
    parts.push(el("h4", {}, "Violations"), el("ul", { class: "violations" }, ...entry.violations.map((v) => el("li", {}, v))));
  }
  parts.push(
    el("h4", {}, "Request body"), el("pre", { class: "request-body" }, entry.requestBody === null ? "(none)" : pretty(entry.requestBody)),
    el("h4", {}, "Response body"), el("pre", { class: "response-body" }, entry.responseBody === null ? "(none)" : pretty(entry.responseBody)),
    el("h4", {}, "Request headers"), el("pre", {}, pretty(entry.requestHeaders || {})),
  );
  if (entry.truncated.length) parts.push(el("p", { class: "muted" }, "cut: " + entry.truncated.join(", ")));
  return el("li", {
    class: rejected ? "entry rejected" : "entry",
    dataset: { id: entry.id, status: entry.status, method: entry.method, path: entry.path },
  }, el("details", {}, ...parts));
}

async function refreshJournal() {
  const list = $("journal");
  const query = new URLSearchParams({ after: state.lastId, limit: JOURNAL_KEEP });
  const page = await call("GET", `/__mock/requests?${query}`);
  // Entries the journal no longer keeps (cleared, reset, pushed out) leave the page too.
  for (const item of [...list.children]) {
    if (page.oldestId === null || Number(item.dataset.id) < page.oldestId) item.remove();
  }
  if (page.oldestId === null) state.lastId = Math.max(state.lastId, 0);
  for (const entry of page.requests) {
    list.prepend(journalEntry(entry)); // newest first
    state.lastId = Math.max(state.lastId, entry.id);
  }
  while (list.children.length > JOURNAL_KEEP) list.lastElementChild.remove();
}

// -- overrides -------------------------------------------------------------------

async function refreshOverrides() {
  const { overrides } = await call("GET", "/__mock/overrides");
  if (!changed("overrides", overrides)) return;
  const keys = ["id", "method", "path", "status", "delayMs", "fault", "remaining"];
  $("overrides").replaceChildren(
    el("thead", {}, el("tr", {}, ...keys.map((k) => el("th", {}, k)), el("th", {}, "match"), el("th", {}, "body"), el("th", {}))),
    el("tbody", {}, ...overrides.map((o) =>
      el("tr", { dataset: { id: o.id } },
        ...keys.map((k) => el("td", {}, k === "remaining" && o[k] === null ? "∞" : short(o[k]))),
        el("td", {}, short(o.match)),
        el("td", {}, short(o.body)),
        el("td", {}, el("button", { type: "button", class: "remove", onclick: () => removeOverride(o.id) }, "Remove")),
      ))),
  );
  $("clear-overrides").hidden = overrides.length === 0;
}

async function removeOverride(id) {
  await call("DELETE", `/__mock/overrides/${encodeURIComponent(id)}`).catch(showError);
  await refreshOverrides().catch(showError);
}

async function addOverride(event) {
  event.preventDefault();
  const form = event.target;
  const rule = {};
  for (const name of ["method", "path", "fault"]) if (form[name].value) rule[name] = form[name].value;
  for (const name of ["status", "delayMs", "times"]) if (form[name].value) rule[name] = Number(form[name].value);
  const message = $("override-error");
  message.textContent = "";
  for (const name of ["match", "body"]) {
    if (!form[name].value.trim()) continue;
    try {
      rule[name] = JSON.parse(form[name].value);
    } catch (error) {
      message.textContent = name + ": not JSON: " + error.message;
      return;
    }
  }
  try {
    await call("POST", "/__mock/overrides", rule);
    form.reset();
  } catch (error) {
    message.textContent = error.message;
  }
  await refreshOverrides().catch(showError);
}

// -- drift (--proxy) ------------------------------------------------------------

async function refreshDrift() {
  const report = await call("GET", "/__mock/drift");
  if (!changed("drift", report)) return;
  // Only a mock started with --proxy has an upstream to report on.
  $("drift-section").hidden = !report.upstream;
  $("drift-summary").textContent = report.upstream
    ? `${report.flagged} of ${report.checked} answers from ${report.upstream} broke the spec`
    : "";
  const rows = [];
  for (const op of report.operations) {
    for (const v of op.violations) {
      rows.push(el("tr", {},
        el("td", {}, `${op.method} ${op.path}`), el("td", {}, op.operationId),
        el("td", {}, v.violation), el("td", {}, v.count),
        el("td", {}, el("details", {}, el("summary", {}, "example"), el("pre", {}, pretty(v.example))))));
    }
  }
  $("drift").replaceChildren(
    el("thead", {}, el("tr", {}, ...["operation", "operationId", "violation", "count", ""].map((k) => el("th", {}, k)))),
    el("tbody", {}, ...rows),
  );
}

// -- wiring ----------------------------------------------------------------------

async function tick() {
  try {
    await Promise.all([refreshServer(), refreshCounts(), refreshJournal(), refreshOverrides(), refreshDrift()]);
    await refreshRecords();
    showError(null);
    document.body.dataset.ready = "true";
  } catch (error) {
    showError(error);
  }
}

function start() {
  $("token").value = state.token;
  $("token").addEventListener("change", (event) => {
    state.token = event.target.value;
    sessionStorage.setItem("togai-mock-token", state.token);
    tick();
  });
  $("reset").addEventListener("click", async () => {
    if (!confirm("Reset the mock to its fixtures? This clears the journal and the overrides.")) return;
    await call("POST", "/__mock/reset").catch(showError);
    state.pageTokens = [""];
    tick();
  });
  $("clear-journal").addEventListener("click", async () => {
    await call("DELETE", "/__mock/requests").catch(showError);
    tick();
  });
  $("clear-overrides").addEventListener("click", async () => {
    await call("DELETE", "/__mock/overrides").catch(showError);
    refreshOverrides().catch(showError);
  });
  $("next-page").addEventListener("click", () => {
    state.pageTokens.push($("next-page").dataset.token);
    refreshRecords().catch(showError);
  });
  $("first-page").addEventListener("click", () => {
    state.pageTokens = [""];
    refreshRecords().catch(showError);
  });
  $("clear-drift").addEventListener("click", async () => {
    await call("DELETE", "/__mock/drift").catch(showError);
    refreshDrift().catch(showError);
  });
  $("only-rejected").addEventListener("change", (event) => {
    $("journal").classList.toggle("only-rejected", event.target.checked);
  });
  $("override-form").addEventListener("submit", addOverride);
  tick();
  // One poll at a time: a slow answer never piles requests up.
  (async function loop() {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (!document.hidden) await tick();
    loop();
  })();
}

start();
