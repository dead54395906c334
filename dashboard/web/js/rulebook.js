// The rules as the server has them, asked once after login (and again
// when an engineer saves one): the pages need a rule's condition and
// metric to say an alarm in plain words with units.

import { api } from "./api.js";

let rules = new Map();
const listeners = new Set();

// Two saves in a row read the rules twice: the older answer is dropped
// (a counter, not latest(): login awaits this, an older read returns).
let asked = 0;
export async function loadRules() {
  const mine = ++asked;
  try {
    const data = await api("GET", "/api/rules");
    if (mine !== asked) return;
    const list = Array.isArray(data) ? data : (data && (data.rules || data.items)) || [];
    rules = new Map(list.map((r) => [r.id, r]));
  } catch (_) {
    return; // no rules API: alarms read by their reading alone
  }
  for (const fn of listeners) fn();
}

// ruleOf is the rule of an id ("gas-lel-critical"), or null.
export function ruleOf(id) { return (id && rules.get(id)) || null; }

// onRules(fn) calls fn when the rules have been (re)loaded.
export function onRules(fn) { listeners.add(fn); }
