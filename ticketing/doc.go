// Package ticketing carries every repair ticket, from sensors and from
// people, through its life: intake, level, dispatch, on-site work,
// acceptance and callback, with the history of every step. It also keeps
// the alarms the rules engine raised, so that an alarm and its ticket are
// stored together in one SQLite transaction.
//
// It knows devices and the rules.Alarm type; never gateways or screens.
// Whoever wants to hear about changes passes a Notifier.
package ticketing
