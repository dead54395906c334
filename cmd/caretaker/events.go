package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/dashboard"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
)

// newEventRelay publishes the hub's events on caretaker/events/{type}
// (for other systems) over the embedded broker or the external one, and,
// when instances share the device traffic (mqtt.shared_group), shows the
// other instances' events on this one's screens.
func newEventRelay(hub *dashboard.Hub, broker *mqtt.Broker, client *mqtt.Gateway, cfg Config, logger *slog.Logger, metrics prometheus.Registerer) (*dashboard.Relay, error) {
	var bus dashboard.EventBus = client
	if broker != nil {
		bus = broker
	}
	return dashboard.NewRelay(dashboard.RelayConfig{
		Hub: hub, Bus: bus, Instance: cfg.MQTT.ClientID + "-" + randomToken()[:8],
		// Instances that split the device traffic share their events;
		// otherwise each raises every alarm itself.
		// So do the instances of a cluster: one leads, all show.
		Receive: client != nil && (cfg.MQTT.SharedGroup != "" || cfg.Cluster.enabled()),
		Key:     []byte(cfg.MQTT.ClusterKey),
		Logger:  logger, Registerer: metrics,
	})
}
