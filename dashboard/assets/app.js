// The skiff dashboard: a hash-routed page over the dashboard's JSON API.
// One server-sent events stream (/api/watch) says what changed; the view
// on screen reloads its data when a kind it shows changed. No polling,
// except node usage on the overview, which the API cannot watch.
"use strict";

const state = { session: null, kinds: [], es: null, timer: null, usageTimer: null, logES: null, logKey: "", route: null };
const $ = (id) => document.getElementById(id);

function esc(v) {
  return String(v === undefined || v === null ? "" : v)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

async function api(path) {
  const resp = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (resp.status === 401) { location.replace("/login"); throw new Error("signed out"); }
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

async function post(path, body) {
  const resp = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": state.session.csrfToken },
    body: JSON.stringify(body),
  });
  const out = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(out.error || resp.statusText);
  return out;
}

function query() {
  const p = new URLSearchParams();
  if ($("ns").value) p.set("namespace", $("ns").value);
  if ($("labels").value.trim()) p.set("labelSelector", $("labels").value.trim());
  const s = p.toString();
  return s ? "?" + s : "";
}

function list(plural) { return api("/api/list/" + plural + query()).then((r) => r.items); }

function age(ts) {
  if (!ts) return "";
  let s = Math.max(0, Math.floor((Date.now() - new Date(ts).getTime()) / 1000));
  if (s < 120) return s + "s";
  if (s < 7200) return Math.floor(s / 60) + "m";
  if (s < 172800) return Math.floor(s / 3600) + "h";
  return Math.floor(s / 86400) + "d";
}

const meta = (o) => o.metadata || {};
const nsName = (o) => (meta(o).namespace ? meta(o).namespace + "/" : "") + meta(o).name;
const labelTags = (m) => Object.entries(m || {}).map(([k, v]) => `<span class="tag">${esc(k)}=${esc(v)}</span>`).join("");

function table(cols, rows, empty) {
  if (!rows.length) return `<div class="empty">${esc(empty || "Nothing here.")}</div>`;
  return `<table><thead><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("") + "</tbody></table>";
}

function cond(conds, type) { return (conds || []).find((c) => c.type === type); }
function statusClass(s) { return s === "True" || s === "Running" || s === "Succeeded" || s === "Bound" || s === "Active" ? "ok" : s === "Unknown" || s === "Pending" ? "warn" : "bad"; }

const admin = () => state.session && state.session.role === "admin";
function actBtn(label, data, danger) {
  const attrs = Object.entries(data).map(([k, v]) => `data-${k}="${esc(v)}"`).join(" ");
  const dis = admin() ? "" : ` disabled title="read-only session"`;
  return `<button type="button" class="act${danger ? " danger" : ""}" ${attrs}${dis}>${esc(label)}</button>`;
}

// ---- pods ----
function podReason(p) {
  const st = p.status || {};
  for (const c of st.containerStatuses || []) {
    const s = c.state || {};
    if (s.waiting && s.waiting.reason) return s.waiting.reason;
    if (s.terminated && s.terminated.reason) return s.terminated.reason;
  }
  if (meta(p).deletionTimestamp) return "Terminating";
  const sched = cond(st.conditions, "PodScheduled");
  if (sched && sched.status === "False") return sched.reason || "Unschedulable";
  return st.reason || st.phase || "Pending";
}
const restarts = (p) => ((p.status || {}).containerStatuses || []).reduce((n, c) => n + (c.restartCount || 0), 0);
function readyCount(p) {
  const cs = (p.status || {}).containerStatuses || [];
  return cs.filter((c) => c.ready).length + "/" + ((p.spec || {}).containers || []).length;
}

function podRows(pods) {
  return pods.map((p) => {
    const r = podReason(p);
    return [
      `<a href="#/pod/${encodeURIComponent(meta(p).namespace)}/${encodeURIComponent(meta(p).name)}">${esc(meta(p).name)}</a>`,
      esc(meta(p).namespace), readyCount(p), `<span class="${statusClass(r === "Running" || r === "Completed" ? "Running" : r)}">${esc(r)}</span>`,
      esc(restarts(p)), esc((p.spec || {}).nodeName || ""), `<span class="mono">${esc((p.status || {}).podIP || "")}</span>`, esc(age(meta(p).creationTimestamp)),
      actBtn("Delete", { act: "delete-pod", namespace: meta(p).namespace, name: meta(p).name }, true),
    ];
  });
}

// ---- views ----
const views = {};

views.overview = {
  kinds: ["nodes", "pods", "events"], usage: true,
  async render() {
    const o = await api("/api/overview");
    const phases = ["Running", "Pending", "Succeeded", "Failed", "Unknown"];
    let h = `<h2>Cluster overview</h2><div class="cards">`;
    h += `<div class="card"><div class="n" id="count-nodes">${o.nodes.length}</div><div class="l">nodes</div></div>`;
    for (const ph of phases) {
      const n = o.podPhases[ph] || 0;
      h += `<div class="card${ph === "Failed" && n ? " bad" : ""}"><div class="n" data-phase="${ph}">${n}</div><div class="l">pods ${ph.toLowerCase()}</div></div>`;
    }
    h += `<div class="card${o.crashLooping ? " bad" : ""}"><div class="n">${o.crashLooping}</div><div class="l">crash-looping</div></div>`;
    h += `<div class="card"><div class="n">${o.counts.deployments || 0}</div><div class="l">deployments</div></div>`;
    h += `<div class="card"><div class="n">${o.counts.services || 0}</div><div class="l">services</div></div></div>`;
    h += `<h3>Nodes</h3>`;
    if (o.usageError) h += `<div class="banner error">Usage unavailable: ${esc(o.usageError)}</div>`;
    if (!o.nodes.length) h += `<div class="empty">No nodes yet: start an agent (skiff agent) or skiff up.</div>`;
    for (const n of o.nodes) h += nodeCard(n);
    h += `<h3>Recent warnings</h3>` + eventsTable(o.warnings, "No warnings.");
    return h;
  },
};

function fmtCPU(m) { return m >= 1000 ? (m / 1000).toFixed(m % 1000 ? 2 : 0) : m + "m"; }
function fmtMem(b) {
  const u = ["B", "Ki", "Mi", "Gi", "Ti"]; let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return (i ? b.toFixed(1).replace(/\.0$/, "") : b) + u[i];
}
function bar(cls, r, fmt) {
  const a = r.allocatable || 0;
  const pct = (v) => (a ? Math.min(100, (100 * v) / a) : 0).toFixed(1);
  const used = r.used === null || r.used === undefined ? null : r.used;
  return `<div class="bar ${cls}" title="requested ${fmt(r.requested)}; used ${used === null ? "?" : fmt(used)}; allocatable ${fmt(a)}">` +
    `<div class="req" data-w="${pct(r.requested)}"></div>${used === null ? "" : `<div class="used" data-w="${pct(used)}"></div>`}</div>` +
    `<div class="nums">req ${fmt(r.requested)} · used ${used === null ? "–" : fmt(used)} · of ${fmt(a)}</div>`;
}
function nodeCard(n) {
  const ready = n.ready === "True" ? `<span class="ok">Ready</span>` : `<span class="bad">NotReady (${esc(n.ready)})</span>`;
  const conds = (n.conditions || []).filter((c) => c.type !== "Ready" && c.status === "True").map((c) => `<span class="tag bad">${esc(c.type)}</span>`).join("");
  const taints = (n.taints || []).map((t) => `<span class="tag">${esc(t.key)}${t.value ? "=" + esc(t.value) : ""}:${esc(t.effect)}</span>`).join("");
  return `<div class="node" data-node="${esc(n.name)}"><div class="head"><strong>${esc(n.name)}</strong>${ready}` +
    (n.unschedulable ? `<span class="tag warn">SchedulingDisabled</span>` : "") + conds + taints +
    `<span class="muted">${n.pods} pods</span><span class="spacer"></span>` +
    actBtn(n.unschedulable ? "Uncordon" : "Cordon", { act: "cordon", name: n.name, cordon: n.unschedulable ? "false" : "true" }) +
    `</div><div class="bars"><span>CPU</span>${bar("cpu", n.cpu, fmtCPU)}<span>Memory</span>${bar("mem", n.memory, fmtMem)}</div></div>`;
}

function eventsTable(events, empty) {
  return table(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE", "COUNT"], events.map((e) => {
    const io = e.involvedObject || {};
    const obj = io.kind === "Pod" ? `<a href="#/pod/${encodeURIComponent(io.namespace)}/${encodeURIComponent(io.name)}">pod/${esc(io.name)}</a>` : esc((io.kind || "").toLowerCase() + "/" + (io.name || ""));
    return [esc(age(e.lastTimestamp || meta(e).creationTimestamp)), `<span class="${e.type === "Warning" ? "bad" : "muted"}">${esc(e.type)}</span>`, esc(e.reason), obj, esc(e.message), esc(e.count || 1)];
  }), empty);
}

views.nodes = {
  kinds: ["nodes", "pods"], usage: true,
  async render() {
    const o = await api("/api/overview");
    const nodes = await list("nodes");
    let h = `<h2>Nodes</h2>`;
    for (const n of o.nodes) h += nodeCard(n);
    h += table(["NAME", "ADDRESSES", "OS", "KERNEL", "AGENT", "AGE"], nodes.map((n) => {
      const st = n.status || {}; const info = st.nodeInfo || {};
      return [esc(meta(n).name), (st.addresses || []).map((a) => `<span class="mono">${esc(a.address)}</span>`).join(" "), esc(info.osImage), esc(info.kernelVersion), esc(info.agentVersion), esc(age(meta(n).creationTimestamp))];
    }), "No nodes.");
    return h;
  },
};

views.namespaces = {
  kinds: ["namespaces", "pods"],
  async render() {
    const [nss, pods] = await Promise.all([api("/api/list/namespaces").then((r) => r.items), api("/api/list/pods").then((r) => r.items)]);
    const per = {};
    for (const p of pods) per[meta(p).namespace] = (per[meta(p).namespace] || 0) + 1;
    return `<h2>Namespaces</h2>` + table(["NAME", "STATUS", "PODS", "LABELS", "AGE"], nss.map((n) => [
      `<a href="#/pods" data-setns="${esc(meta(n).name)}">${esc(meta(n).name)}</a>`, esc((n.status || {}).phase || "Active"), esc(per[meta(n).name] || 0), labelTags(meta(n).labels), esc(age(meta(n).creationTimestamp)),
    ]), "No namespaces.");
  },
};

const knownKinds = new Set(["namespaces", "nodes", "pods", "services", "volumes", "replicasets", "autoscalers", "events", "deployments", "endpoints", "jobs"]);

views.workloads = {
  kinds: null, // every kind: workloads include kinds added later
  async render() {
    const [deps, rss, jobs] = await Promise.all([list("deployments"), list("replicasets"), list("jobs")]);
    let h = `<h2>Workloads</h2><h3>Deployments</h3>`;
    h += table(["NAME", "NAMESPACE", "READY", "UP-TO-DATE", "AVAILABLE", "ROLLOUT", "AGE", ""], deps.map((d) => {
      const want = (d.spec || {}).replicas === undefined ? 1 : d.spec.replicas;
      const st = d.status || {};
      const prog = cond(st.conditions, "Progressing");
      const pct = want ? Math.round((100 * (st.updatedReplicas || 0)) / want) : 100;
      const done = (st.updatedReplicas || 0) === want && (st.availableReplicas || 0) === want && (st.replicas || 0) === want;
      return [esc(meta(d).name), esc(meta(d).namespace), `<span data-ready="${esc(nsName(d))}">${st.readyReplicas || 0}/${want}</span>`, esc(st.updatedReplicas || 0), esc(st.availableReplicas || 0),
        `<span class="progress"><span data-w="${Math.min(100, pct)}"></span></span>${done ? `<span class="ok">complete</span>` : `<span class="warn">${esc(prog ? prog.reason : "progressing")}</span>`}`,
        esc(age(meta(d).creationTimestamp)),
        actBtn("Scale", { act: "scale", kind: "deployments", namespace: meta(d).namespace, name: meta(d).name, replicas: want }) + " " +
        actBtn("Restart", { act: "restart", kind: "deployments", namespace: meta(d).namespace, name: meta(d).name })];
    }), "No deployments.");
    h += `<h3>ReplicaSets</h3>` + table(["NAME", "NAMESPACE", "DESIRED", "CURRENT", "READY", "OWNER", "AGE"], rss.map((r) => {
      const owner = (meta(r).ownerReferences || []).find((o) => o.controller);
      return [esc(meta(r).name), esc(meta(r).namespace), esc((r.spec || {}).replicas === undefined ? 1 : r.spec.replicas), esc((r.status || {}).replicas || 0), esc((r.status || {}).readyReplicas || 0), owner ? esc(owner.kind + "/" + owner.name) : "", esc(age(meta(r).creationTimestamp))];
    }), "No replica sets.");
    h += `<h3>Jobs</h3>` + table(["NAME", "NAMESPACE", "COMPLETIONS", "ACTIVE", "FAILED", "STATUS", "AGE"], jobs.map((j) => {
      const st = j.status || {};
      const c = (st.conditions || []).find((x) => x.status === "True" && (x.type === "Complete" || x.type === "Failed"));
      return [esc(meta(j).name), esc(meta(j).namespace), esc((st.succeeded || 0) + "/" + ((j.spec || {}).completions === undefined ? 1 : j.spec.completions)), esc(st.active || 0), esc(st.failed || 0), c ? `<span class="${c.type === "Complete" ? "ok" : "bad"}">${esc(c.type)}</span>` : `<span class="warn">Running</span>`, esc(age(meta(j).creationTimestamp))];
    }), "No jobs.");
    for (const k of state.kinds.filter((k) => !knownKinds.has(k.plural))) {
      const items = await list(k.plural);
      h += `<h3>${esc(k.kind)}s</h3>` + table(["NAME", "NAMESPACE", "READY", "AGE", ""], items.map((o) => {
        const st = o.status || {}; const sp = o.spec || {};
        const scalable = sp.replicas !== undefined || "readyReplicas" in st;
        return [esc(meta(o).name), esc(meta(o).namespace || ""), scalable ? esc((st.readyReplicas || 0) + "/" + (sp.replicas === undefined ? 1 : sp.replicas)) : "", esc(age(meta(o).creationTimestamp)),
          scalable ? actBtn("Scale", { act: "scale", kind: k.plural, namespace: meta(o).namespace, name: meta(o).name, replicas: sp.replicas === undefined ? 1 : sp.replicas }) : ""];
      }), "None.");
    }
    return h;
  },
};

views.pods = {
  kinds: ["pods"],
  async render() {
    const pods = await list("pods");
    return `<h2>Pods</h2>` + table(["NAME", "NAMESPACE", "READY", "STATUS", "RESTARTS", "NODE", "IP", "AGE", ""], podRows(pods), "No pods match.");
  },
};

views.pod = {
  kinds: ["pods", "events"],
  async render(ns, name) {
    const d = await api(`/api/pods/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`);
    const p = d.pod; const st = p.status || {};
    const statuses = {};
    for (const c of st.containerStatuses || []) statuses[c.name] = c;
    const reason = podReason(p);
    let h = `<h2>Pod ${esc(ns)}/${esc(name)} <span class="${statusClass(reason === "Completed" ? "Succeeded" : reason)}" id="pod-reason">${esc(reason)}</span></h2>`;
    h += `<p>Node <b>${esc((p.spec || {}).nodeName || "–")}</b> · IP <span class="mono">${esc(st.podIP || "–")}</span> · created ${esc(age(meta(p).creationTimestamp))} ago · ${labelTags(meta(p).labels)} ` +
      actBtn("Delete pod", { act: "delete-pod", namespace: ns, name: name }, true) + `</p>`;
    h += `<h3>Containers</h3>` + table(["NAME", "IMAGE", "STATE", "READY", "RESTARTS", "LAST STATE"], ((p.spec || {}).containers || []).map((c) => {
      const s = statuses[c.name] || {}; const cur = s.state || {}; const last = s.lastState || {};
      const stateText = cur.running ? "Running" : cur.waiting ? "Waiting: " + (cur.waiting.reason || "") : cur.terminated ? "Terminated: " + (cur.terminated.reason || "") + " (exit " + (cur.terminated.exitCode || 0) + ")" : "–";
      const lastText = last.terminated ? (last.terminated.reason || "Terminated") + " (exit " + (last.terminated.exitCode || 0) + ")" : "";
      return [esc(c.name), `<span class="mono">${esc(c.image)}</span>`, `<span class="${cur.running ? "ok" : "bad"}">${esc(stateText)}</span>`, esc(s.ready ? "yes" : "no"), esc(s.restartCount || 0), esc(lastText)];
    }));
    h += `<h3>Conditions</h3>` + table(["TYPE", "STATUS", "REASON", "MESSAGE", "SINCE"], (st.conditions || []).map((c) => [esc(c.type), `<span class="${statusClass(c.status)}">${esc(c.status)}</span>`, esc(c.reason), esc(c.message), esc(age(c.lastTransitionTime))]), "No conditions yet.");
    h += `<h3>Events</h3>` + eventsTable(d.events, "No events.");
    return { html: h, containers: ((p.spec || {}).containers || []).map((c) => c.name) };
  },
};

views.services = {
  kinds: ["services", "endpoints"],
  async render() {
    const [svcs, eps] = await Promise.all([list("services"), api("/api/list/endpoints" + query()).then((r) => r.items)]);
    const byKey = {};
    for (const e of eps) byKey[nsName(e)] = e;
    const domain = state.session.clusterDomain || "cluster.local";
    return `<h2>Services</h2>` + table(["NAME", "NAMESPACE", "TYPE", "PORTS", "SELECTOR", "DNS NAME", "ENDPOINTS"], svcs.map((s) => {
      const e = byKey[nsName(s)];
      const addrs = [];
      for (const sl of (e && e.slices) || []) for (const ep of sl.endpoints || []) for (const a of ep.addresses || []) addrs.push(`<span class="tag ${(ep.conditions || {}).ready ? "ok" : "warn"}">${esc(a)}</span>`);
      return [esc(meta(s).name), esc(meta(s).namespace), esc((s.spec || {}).type || "ClusterIP"), esc(((s.spec || {}).ports || []).map((p) => p.port + (p.targetPort ? "→" + p.targetPort : "") + "/" + (p.protocol || "TCP")).join(", ")),
        labelTags((s.spec || {}).selector), `<span class="mono">${esc(meta(s).name + "." + meta(s).namespace + ".svc." + domain)}</span>`, addrs.join("") || `<span class="muted">none ready</span>`];
    }), "No services.");
  },
};

views.volumes = {
  kinds: ["volumes"],
  async render() {
    const vols = await list("volumes");
    return `<h2>Volumes</h2>` + table(["NAME", "NAMESPACE", "STATUS", "CAPACITY", "ACCESS", "SOURCE", "USED BY", "AGE"], vols.map((v) => {
      const sp = v.spec || {}; const st = v.status || {};
      const src = sp.local ? "local on " + (sp.local.nodeName || "any node") : sp.hostPath ? "hostPath " + sp.hostPath.path : sp.nfs ? "nfs " + sp.nfs.server + ":" + sp.nfs.path : sp.storageClassName || "";
      return [esc(meta(v).name), esc(meta(v).namespace), `<span class="${statusClass(st.phase)}">${esc(st.phase || "")}</span>`, esc(sp.capacity), esc(sp.accessMode), esc(src), esc((st.usedBy || []).join(", ")), esc(age(meta(v).creationTimestamp))];
    }), "No volumes.");
  },
};

views.autoscalers = {
  kinds: ["autoscalers"],
  async render() {
    const items = await list("autoscalers");
    let h = `<h2>Autoscalers</h2>` + table(["NAME", "NAMESPACE", "TARGET", "CPU", "MIN", "MAX", "CURRENT", "DESIRED", "AGE"], items.map((a) => {
      const sp = a.spec || {}; const st = a.status || {};
      const target = sp.targetCpuUtilizationPercent !== undefined ? sp.targetCpuUtilizationPercent + "%" : "";
      return [`<a href="#/autoscaler/${encodeURIComponent(meta(a).namespace)}/${encodeURIComponent(meta(a).name)}">${esc(meta(a).name)}</a>`, esc(meta(a).namespace), esc((sp.targetKind || "Deployment") + "/" + sp.target),
        esc((st.currentCpuUtilizationPercent === undefined ? "?" : st.currentCpuUtilizationPercent + "%") + (target ? " / " + target : "")), esc(sp.minReplicas === undefined ? 1 : sp.minReplicas), esc(sp.maxReplicas), esc(st.currentReplicas || 0), esc(st.desiredReplicas || 0), esc(age(meta(a).creationTimestamp))];
    }), "No autoscalers.");
    return h;
  },
};

views.autoscaler = {
  kinds: ["autoscalers"],
  async render(ns, name) {
    const [hist, items] = await Promise.all([api(`/api/autoscalers/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/history`), api("/api/list/autoscalers?namespace=" + encodeURIComponent(ns))]);
    const a = items.items.find((x) => meta(x).name === name) || {};
    let h = `<h2>Autoscaler ${esc(ns)}/${esc(name)}</h2>`;
    h += `<div class="chart">${chart(hist.samples, (a.spec || {}).maxReplicas || 1)}<div class="legend"><span><i class="l-desired"></i>desired replicas</span><span><i class="l-current"></i>current replicas</span><span><i class="l-cpu"></i>CPU % of request (right axis)</span></div></div>`;
    h += `<p class="muted">${hist.samples.length} status changes seen since the dashboard started watching, within the last hour.</p>`;
    h += `<h3>Conditions</h3>` + table(["TYPE", "STATUS", "REASON", "MESSAGE"], ((a.status || {}).conditions || []).map((c) => [esc(c.type), esc(c.status), esc(c.reason), esc(c.message)]), "No conditions.");
    return h;
  },
};

// chart draws replicas (left axis) and CPU % (right axis) over the last hour as SVG.
function chart(samples, maxReplicas) {
  const W = 800, H = 170, L = 34, R = 40, T = 8, B = 20;
  // The last hour, or less when the samples span less (5 minutes at least).
  const now = Date.now();
  const oldest = samples.length ? new Date(samples[0].time).getTime() : now;
  const span = Math.min(3600e3, Math.max(300e3, now - oldest + 30e3)), from = now - span;
  const x = (t) => L + ((new Date(t).getTime() - from) / span) * (W - L - R);
  const maxRep = Math.max(maxReplicas, ...samples.map((s) => Math.max(s.current, s.desired)), 1);
  const maxCPU = Math.max(100, ...samples.map((s) => s.cpuPercent || 0));
  const yr = (v) => T + (1 - v / maxRep) * (H - T - B);
  const yc = (v) => T + (1 - v / maxCPU) * (H - T - B);
  const step = (f, y) => {
    if (!samples.length) return "";
    let d = "";
    samples.forEach((s, i) => { const px = x(s.time).toFixed(1), py = y(f(s)).toFixed(1); d += i ? `H${px}V${py}` : `M${px},${py}`; });
    return d + `H${x(now).toFixed(1)}`;
  };
  const cpuPts = samples.filter((s) => s.cpuPercent !== undefined).map((s) => `${x(s.time).toFixed(1)},${yc(s.cpuPercent).toFixed(1)}`).join(" ");
  let g = `<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="replicas and CPU over the last hour">`;
  g += `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#dde1e7"/>`;
  for (let i = 0; i <= 4; i++) {
    const ago = Math.round(((4 - i) * span) / 4 / 60e3 * 10) / 10;
    g += `<text x="${x(from + (i * span) / 4)}" y="${H - 5}" font-size="10" fill="#5f6b7a" text-anchor="middle">${i === 4 ? "now" : "-" + ago + "m"}</text>`;
  }
  g += `<text x="4" y="${yr(maxRep) + 10}" font-size="10" fill="#5f6b7a">${maxRep}</text><text x="4" y="${H - B}" font-size="10" fill="#5f6b7a">0</text>`;
  g += `<text x="${W - R + 4}" y="${yc(maxCPU) + 10}" font-size="10" fill="#b86e00">${maxCPU}%</text>`;
  g += `<path d="${step((s) => s.desired, yr)}" fill="none" stroke="#2457c5" stroke-width="2"/>`;
  g += `<path d="${step((s) => s.current, yr)}" fill="none" stroke="#1f8a4c" stroke-width="2" stroke-dasharray="5 3"/>`;
  if (cpuPts) g += `<polyline points="${cpuPts}" fill="none" stroke="#b86e00" stroke-width="1.5"/>`;
  return g + "</svg>";
}

views.events = {
  kinds: ["events"],
  async render() {
    const evs = await list("events");
    return `<h2>Events</h2>` + eventsTable(evs.slice(0, 300), "No events.");
  },
};

// ---- routing and refresh ----
function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const name = views[parts[0]] ? parts[0] : "overview";
  return { name, args: parts.slice(1) };
}

async function render() {
  const r = parseRoute();
  state.route = r;
  for (const a of document.querySelectorAll("#nav a")) {
    const target = a.getAttribute("href").slice(2);
    a.classList.toggle("active", target === r.name || (r.name === "pod" && target === "pods") || (r.name === "autoscaler" && target === "autoscalers"));
  }
  const v = views[r.name];
  clearInterval(state.usageTimer);
  if (v.usage) state.usageTimer = setInterval(scheduleRefresh, 15000);
  try {
    const out = await v.render(...r.args);
    if (state.route !== r) return; // the user moved on meanwhile
    const html = typeof out === "string" ? out : out.html;
    const keep = document.querySelector("#view .logs-box");
    $("view").innerHTML = `<div id="banner"></div>` + html;
    // Widths are set here, not in style attributes, which the page's
    // Content-Security-Policy does not run.
    for (const el of $("view").querySelectorAll("[data-w]")) el.style.width = el.dataset.w + "%";
    if (r.name === "pod") mountLogs(r.args[0], r.args[1], out.containers, keep);
    else stopLogs();
    document.body.dataset.rendered = r.name;
    if (!window.__firstRender) window.__firstRender = performance.now();
  } catch (e) {
    $("view").innerHTML = `<div class="banner error">${esc(e.message)}</div>`;
    // A failed fetch (the network blinked, the server restarts): again soon.
    if (e instanceof TypeError) { clearTimeout(state.timer); state.timer = setTimeout(render, 1000); }
  }
}

function scheduleRefresh() {
  clearTimeout(state.timer);
  state.timer = setTimeout(render, 150);
}

// ---- live logs ----
function stopLogs() {
  if (state.logES) state.logES.close();
  state.logES = null; state.logKey = "";
}

function mountLogs(ns, name, containers, keep) {
  const key = ns + "/" + name;
  if (keep && state.logKey.startsWith(key + "/")) { $("view").appendChild(keep); return; }
  const box = document.createElement("div");
  box.className = "logs-box";
  const opts = containers.map((c) => `<option>${esc(c)}</option>`).join("");
  box.innerHTML = `<h3>Logs <select id="log-container">${opts}</select> <span id="log-state" class="muted"></span></h3><pre class="logs" id="logs"></pre>`;
  $("view").appendChild(box);
  const start = () => {
    stopLogs();
    const c = box.querySelector("#log-container").value;
    state.logKey = key + "/" + c;
    const pre = box.querySelector("#logs"); pre.textContent = "";
    const es = new EventSource(`/api/logs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}?container=${encodeURIComponent(c)}`);
    state.logES = es;
    box.querySelector("#log-state").textContent = "following";
    es.addEventListener("log", (ev) => {
      const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent += JSON.parse(ev.data);
      if (pre.textContent.length > 200000) pre.textContent = pre.textContent.slice(-150000);
      if (stick) pre.scrollTop = pre.scrollHeight;
    });
    es.addEventListener("end", () => { box.querySelector("#log-state").textContent = "ended"; es.close(); });
    es.addEventListener("error", (ev) => {
      if (ev.data) box.querySelector("#log-state").textContent = "error: " + JSON.parse(ev.data);
      es.close();
    });
  };
  box.querySelector("#log-container").addEventListener("change", start);
  if (containers.length) start();
}

// ---- actions ----
function confirmDialog(text, withReplicas, replicas) {
  return new Promise((resolve) => {
    const d = document.createElement("div");
    d.className = "confirm";
    d.innerHTML = `<div class="confirm-box"><p>${esc(text)}</p>` +
      (withReplicas ? `<label>Replicas <input id="confirm-replicas" type="number" min="0" value="${esc(replicas)}"></label>` : "") +
      `<div class="confirm-buttons"><button type="button" id="confirm-cancel">Cancel</button> <button type="button" id="confirm-ok" class="primary">Confirm</button></div></div>`;
    document.body.appendChild(d);
    const done = (v) => { d.remove(); resolve(v); };
    d.querySelector("#confirm-cancel").onclick = () => done(null);
    d.querySelector("#confirm-ok").onclick = () => done(withReplicas ? parseInt(d.querySelector("#confirm-replicas").value, 10) : true);
  });
}

function banner(kind, text) {
  const b = $("banner");
  if (b) b.innerHTML = `<div class="banner ${kind}" id="action-result">${esc(text)}</div>`;
}

document.addEventListener("click", async (ev) => {
  const ns = ev.target.closest("[data-setns]");
  if (ns) { $("ns").value = ns.dataset.setns; }
  const b = ev.target.closest("button[data-act]");
  if (!b || b.disabled) return;
  const d = b.dataset;
  let body, text, replicas = false;
  switch (d.act) {
    case "scale": text = `Scale ${d.kind} ${d.namespace}/${d.name}:`; replicas = true; body = { kind: d.kind, namespace: d.namespace, name: d.name }; break;
    case "restart": text = `Restart the rollout of ${d.kind} ${d.namespace}/${d.name}? Every pod is replaced.`; body = { kind: d.kind, namespace: d.namespace, name: d.name }; break;
    case "delete-pod": text = `Delete pod ${d.namespace}/${d.name}?`; body = { namespace: d.namespace, name: d.name }; break;
    case "cordon": text = `${d.cordon === "true" ? "Cordon" : "Uncordon"} node ${d.name}?`; body = { name: d.name, cordon: d.cordon === "true" }; break;
    default: return;
  }
  const answer = await confirmDialog(text, replicas, d.replicas);
  if (answer === null || (replicas && !(answer >= 0))) return;
  if (replicas) body.replicas = answer;
  try {
    const out = await post("/api/actions/" + d.act, body);
    banner("info", out.result);
  } catch (e) {
    banner("error", e.message);
  }
});

// ---- live stream ----
function connect() {
  const es = new EventSource("/api/watch");
  state.es = es;
  es.addEventListener("ready", () => { $("live").textContent = "live"; $("live").className = "live"; scheduleRefresh(); });
  es.addEventListener("change", (ev) => {
    const c = JSON.parse(ev.data);
    if (c.kind === "namespaces") loadNamespaces();
    const v = views[(state.route || parseRoute()).name];
    if (!v.kinds || v.kinds.includes(c.kind)) scheduleRefresh();
  });
  es.onerror = () => {
    $("live").textContent = "reconnecting…"; $("live").className = "live off";
    // A stream refused for a lost session would retry for ever: check.
    api("/api/session").catch(() => {});
  };
}

async function loadNamespaces() {
  const items = (await api("/api/list/namespaces")).items;
  const sel = $("ns"); const cur = sel.value;
  sel.innerHTML = `<option value="">all</option>` + items.map((n) => `<option>${esc(meta(n).name)}</option>`).join("");
  sel.value = cur;
}

async function main() {
  state.session = await api("/api/session");
  state.kinds = await api("/api/kinds");
  $("role").textContent = state.session.role === "admin" ? "admin" : "read-only";
  $("logout").onclick = async () => { try { await post("/logout", {}); } finally { location.replace("/login"); } };
  $("ns").onchange = render;
  let t; $("labels").oninput = () => { clearTimeout(t); t = setTimeout(render, 300); };
  window.addEventListener("hashchange", render);
  await loadNamespaces();
  await render();
  connect();
}

main().catch((e) => { $("view").innerHTML = `<div class="banner error">${esc(e.message)}</div>`; });
