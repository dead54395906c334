// Which time limit a ticket is running against, and how long is left.
// The deadlines come from the ticket when the server sent them; otherwise
// they are worked out from the level's default limits (domain.md), counted
// from the first report, and shown in italics as estimates.

const DEFAULTS = { // minutes: dispatch, arrive, close
  1: { dispatch: 15, arrive: 30, close: 240 },
  2: { dispatch: 120, arrive: 1440, close: 1440 },
  3: { dispatch: 240, arrive: 2880, close: 2880 },
};

function stage(status) {
  switch (status) {
    case "new": return "dispatch";
    case "dispatched": case "accepted": return "arrive";
    case "on_site": return "close";
    default: return "";
  }
}

// stored finds the clock's due time: in the ticket's deadlines (GET
// /api/tickets/{id}), or as told by a ticket.warning/escalated event.
function stored(tk, name) {
  if (Array.isArray(tk.deadlines)) {
    const d = tk.deadlines.find((x) => x.clock === name && !x.met_at);
    if (d) return d.due_at;
  }
  return (tk.due && tk.due[name]) || null;
}

// WATCHED are the clocks a board row shows, the first ones first.
const WATCHED = ["claim", "dispatch", "arrive", "close"];

// pending lists the clocks of tk not yet met, as the server sent them
// (snapshot, GET, events) and as warnings and escalations moved them.
function pending(tk) {
  const out = new Map();
  if (Array.isArray(tk.deadlines)) {
    for (const d of tk.deadlines) if (!d.met_at && WATCHED.includes(d.clock)) out.set(d.clock, d);
  }
  for (const [clock, at] of Object.entries(tk.due || {})) {
    if (WATCHED.includes(clock) && !out.has(clock)) out.set(clock, { clock, due_at: at });
  }
  return [...out.values()];
}

// dueOf returns {stage, at: Date, estimated, missed, escalations} or null:
// the clock that matters most. A clock already missed comes first (the
// one missed longest ago): a claim limit that has passed shows as missed,
// not as time left on the dispatch limit. Otherwise the one due first.
export function dueOf(tk) {
  if (!tk) return null;
  const st = stage(tk.status);
  if (!st) return null;
  const now = Date.now();
  const clocks = pending(tk).map((d) => ({ d, at: new Date(d.due_at) })).filter((x) => !isNaN(x.at));
  if (clocks.length) {
    const missed = clocks.filter((x) => x.at.getTime() < now).sort((a, b) => a.at - b.at);
    const next = (missed.length ? missed : clocks.sort((a, b) => a.at - b.at))[0];
    return { stage: next.d.clock, at: next.at, estimated: false, missed: missed.length > 0, escalations: next.d.escalations || 0 };
  }
  const s = stored(tk, st);
  if (s) {
    const at = new Date(s);
    if (!isNaN(at)) return { stage: st, at, estimated: false, missed: at.getTime() < now };
  }
  const lim = DEFAULTS[tk.level] || DEFAULTS[3];
  const from = new Date(tk.first_reported_at || tk.created_at);
  if (isNaN(from)) return null;
  const at = new Date(from.getTime() + lim[st] * 60e3);
  return { stage: st, at, estimated: true, missed: at.getTime() < now };
}
