package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/dashboard"
	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/placecode"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// QRConfig is the qr section: the QR codes stuck on devices and public
// places, which let anyone who scans one file a report there without an
// account (docs/configuration.md, "qr").
type QRConfig struct {
	// Secret signs the codes (at least 32 characters); empty: no codes.
	// Changing it withdraws every printed code.
	Secret string `yaml:"secret"`
	// PublicURL is the base of the codes' links, as phones reach the
	// server; empty: notify.public_url, else http.listen (with a warning).
	PublicURL string `yaml:"public_url"`
	// Places are the public places of the sites that get a code of their
	// own (every device gets one anyway).
	Places []placecode.Place `yaml:"places"`
	// ReportsPerCode reports a code may file in Window.
	ReportsPerCode int              `yaml:"reports_per_code"`
	Window         devices.Duration `yaml:"window"`
	// Font draws the text of the printed labels (a TrueType/OpenType font
	// or collection with the Chinese glyphs); empty: the Noto Sans CJK of
	// fonts-noto-cjk when installed, else the labels keep only their
	// Latin text.
	Font string `yaml:"font"`
}

// defaultLabelFont is where Debian's fonts-noto-cjk puts Noto Sans CJK.
const defaultLabelFont = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"

// qrDefaults fill the section's unset keys.
func (q QRConfig) withDefaults() QRConfig {
	if q.ReportsPerCode == 0 {
		q.ReportsPerCode = 3
	}
	if q.Window == 0 {
		q.Window = devices.Duration(time.Hour)
	}
	return q
}

// validate checks the section; base is the public URL configured
// (qr.public_url, else notify.public_url), "" for none.
func (q QRConfig) validate(base string) error {
	q = q.withDefaults()
	if q.Secret == "" {
		if len(q.Places) > 0 {
			return &ConfigError{Key: "qr.secret", Msg: "missing (needed for qr.places)"}
		}
		return nil
	}
	if len(q.Secret) < placecode.MinKey {
		return &ConfigError{Key: "qr.secret", Msg: fmt.Sprintf("shorter than %d characters", placecode.MinKey)}
	}
	if u, err := url.Parse(base); base != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		return &ConfigError{Key: "qr.public_url", Msg: "must be an http(s) URL"}
	}
	if q.ReportsPerCode < 1 {
		return &ConfigError{Key: "qr.reports_per_code", Msg: "must be at least 1"}
	}
	if q.Window <= 0 {
		return &ConfigError{Key: "qr.window", Msg: "must be a positive duration"}
	}
	for i, p := range q.Places {
		if err := p.Check(); err != nil {
			return &ConfigError{Key: fmt.Sprintf("qr.places[%d].%s", i, strings.SplitN(err.Error(), ":", 2)[0]), Msg: strings.TrimSpace(strings.SplitN(err.Error(), ":", 2)[1])}
		}
		if p.Device != "" {
			return &ConfigError{Key: fmt.Sprintf("qr.places[%d].device", i), Msg: "a place has no device: every device gets its own code"}
		}
	}
	return nil
}

// qrBase is the base URL of the codes' links.
func qrBase(cfg Config) string {
	if cfg.QR.PublicURL != "" {
		return cfg.QR.PublicURL
	}
	return cfg.Config.WithDefaults().Notify.PublicURL
}

// RoleQRCode is the role of the history rows of reports filed through a
// QR code.
const RoleQRCode = "qr_code"

// placeCodes serves the QR codes for the web server.
type placeCodes struct {
	signer  *placecode.Signer
	limiter *placecode.Limiter
	base    string
	reg     *devices.Registry
	places  []placecode.Place
	tickets *ticketing.Service
	log     *slog.Logger
	reports *prometheus.CounterVec

	fontPath string
	fontOnce sync.Once
	// draw: a font face is not safe for concurrent use; sheets are drawn one at a time.
	draw  sync.Mutex
	fonts placecode.Fonts
}

// newPlaceCodes is nil (codes off) without qr.secret.
func newPlaceCodes(cfg Config, reg *devices.Registry, tickets *ticketing.Service, logger *slog.Logger, metrics prometheus.Registerer) (dashboard.PlaceCodes, error) {
	q := cfg.QR.withDefaults()
	if q.Secret == "" {
		return nil, nil
	}
	s, err := placecode.NewSigner(q.Secret)
	if err != nil {
		return nil, &ConfigError{Key: "qr.secret", Msg: err.Error()}
	}
	font := q.Font
	if font == "" {
		if _, err := os.Stat(defaultLabelFont); err == nil {
			font = defaultLabelFont
		}
	}
	base := qrBase(cfg)
	if base == "" {
		base = publicURL("", cfg.HTTP.Listen)
		logger.Warn("qr.public_url and notify.public_url are not set: the QR codes point at http.listen, which phones may not reach", "qr_base", base)
	}
	p := &placeCodes{
		signer: s, limiter: placecode.NewLimiter(q.ReportsPerCode, q.Window.Std(), nil),
		base: strings.TrimRight(base, "/"), reg: reg, places: q.Places, tickets: tickets,
		log: logger.With("component", "qr"), fontPath: font,
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "caretaker_qr_reports_total",
			Help: "Reports filed through QR codes, by outcome: created, merged, limited (over the code's allowance), invalid (a bad code), failed.",
		}, []string{"outcome"}),
	}
	for _, o := range []string{"created", "merged", "limited", "invalid", "failed"} {
		p.reports.WithLabelValues(o)
	}
	if err := metrics.Register(p.reports); err != nil {
		return nil, fmt.Errorf("qr metrics: %w", err)
	}
	return p, nil
}

// codes are the site's codes: one per device, then one per public place,
// in the order of the configuration.
func (p *placeCodes) codes(site string) []dashboard.PlaceCode {
	var out []dashboard.PlaceCode
	add := func(pl placecode.Place, kind string) {
		out = append(out, dashboard.PlaceCode{Site: pl.Site, Building: pl.Building, Floor: pl.Floor, Location: pl.Location,
			Device: pl.Device, Kind: kind, URL: p.base + "/ack/q/" + p.signer.Sign(pl)})
	}
	for _, d := range p.reg.Devices() {
		if d.Site == site {
			add(placecode.Place{Site: d.Site, Building: d.Building, Floor: d.Floor, Location: d.Location, Device: d.ID}, string(d.Kind))
		}
	}
	for _, pl := range p.places {
		if pl.Site == site {
			add(pl, "")
		}
	}
	return out
}

func (p *placeCodes) PlaceCodeList(_ context.Context, site string) ([]dashboard.PlaceCode, error) {
	c := p.codes(site)
	if len(c) == 0 {
		return nil, fmt.Errorf("site %q has no devices or places: %w", site, ticketing.ErrNotFound)
	}
	return c, nil
}

func (p *placeCodes) PlaceSheet(ctx context.Context, site, format string) ([]byte, error) {
	codes, err := p.PlaceCodeList(ctx, site)
	if err != nil {
		return nil, err
	}
	p.fontOnce.Do(func() {
		if p.fontPath == "" {
			p.log.Warn("no label font: the labels print their Latin text only (set qr.font)")
			return
		}
		face, err := placecode.LoadFace(p.fontPath, 22)
		if err != nil {
			p.log.Warn("label font not usable: the labels print their Latin text only", "font", p.fontPath, "err", err)
			return
		}
		p.fonts.Face = face
	})
	labels := make([]placecode.Label, 0, len(codes))
	for _, c := range codes {
		var lines []string
		if c.Device != "" {
			lines = append(lines, c.Device+" ("+c.Kind+")")
		}
		var place []string
		for _, s := range []string{c.Building, c.Floor, c.Location} {
			if s != "" {
				place = append(place, s)
			}
		}
		lines = append(lines, c.Site+" / "+strings.Join(place, " / "), "扫码报修 · Scan to report a fault")
		labels = append(labels, placecode.Label{URL: c.URL, Lines: lines})
	}
	p.draw.Lock()
	defer p.draw.Unlock()
	if format == "pdf" {
		return p.fonts.PDF(labels)
	}
	return p.fonts.PNG(labels)
}

func (p *placeCodes) view(token string) (placecode.Place, dashboard.PlaceCodeView, error) {
	pl, err := p.signer.Verify(token)
	if err != nil {
		return placecode.Place{}, dashboard.PlaceCodeView{}, dashboard.ErrLinkInvalid
	}
	v := dashboard.PlaceCodeView{Site: pl.Site, Building: pl.Building, Floor: pl.Floor, Location: pl.Location, Device: pl.Device}
	if d, ok := p.reg.Lookup(pl.Device); ok && pl.Device != "" {
		v.Kind = string(d.Kind)
	}
	return pl, v, nil
}

func (p *placeCodes) PlaceCodeView(_ context.Context, token string) (dashboard.PlaceCodeView, error) {
	_, v, err := p.view(token)
	return v, err
}

// PlaceReport files the report of a scanned code: a resident's report of
// its place and device, which joins the open ticket of that device or
// place when there is one. A code files at most qr.reports_per_code in
// qr.window.
func (p *placeCodes) PlaceReport(ctx context.Context, token string, r dashboard.PlaceCodeReport) (dashboard.PlaceCodeView, error) {
	pl, v, err := p.view(token)
	if err != nil {
		p.reports.WithLabelValues("invalid").Inc()
		return v, err
	}
	id := placecode.CodeID(token)
	if ok, wait := p.limiter.Allow(id); !ok {
		p.reports.WithLabelValues("limited").Inc()
		return v, &dashboard.CodeLimitError{RetryAfter: wait}
	}
	t, merged, err := p.tickets.Report(ctx, ticketing.Actor{Name: "QR code", Role: RoleQRCode}, ticketing.Report{
		Source: ticketing.SourceResident, Category: r.Category, Site: pl.Site, Building: pl.Building, Floor: pl.Floor,
		Location: pl.Location, DeviceID: pl.Device, Scope: ticketing.ScopePublic, Description: r.Description,
		Reporter: ticketing.Reporter{Name: r.Name, Phone: r.Phone},
	})
	if err != nil {
		p.limiter.Undo(id)
		p.reports.WithLabelValues("failed").Inc()
		var fe *ticketing.FieldError
		if !errors.As(err, &fe) {
			p.log.Error("qr report", "err", err)
		}
		return v, err
	}
	outcome := "created"
	if merged {
		outcome = "merged"
	}
	p.reports.WithLabelValues(outcome).Inc()
	v.Number, v.Merged = t.Number, merged
	return v, nil
}
