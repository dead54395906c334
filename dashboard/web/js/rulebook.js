// The rules as the server has them, asked once after login (and again
// when an engineer saves one): the pages need a rule's condition and
// metric to say an alarm in plain words with units.

import { api, latest } from "./api.js";

let rules = new Map();
const listeners = new Set();

// Two saves in a row read the rules twice: the older answer is dropped.
const newest = latest();
export async function loadRules() {
  try {
    const data = await newest(api("GET", "/api/rules"));
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
