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

// dueOf returns {stage, at: Date, estimated} or null.
export function dueOf(tk) {
  if (!tk) return null;
  const st = stage(tk.status);
  if (!st) return null;
  const s = stored(tk, st);
  if (s) {
    const at = new Date(s);
    if (!isNaN(at)) return { stage: st, at, estimated: false };
  }
  const lim = DEFAULTS[tk.level] || DEFAULTS[3];
  const from = new Date(tk.first_reported_at || tk.created_at);
  if (isNaN(from)) return null;
  return { stage: st, at: new Date(from.getTime() + lim[st] * 60e3), estimated: true };
}
