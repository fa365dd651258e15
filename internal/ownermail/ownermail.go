// Package ownermail tells owners about their keys by email, through
// PocketBase's mailer: a new key, a key revoked because it was found
// exposed, a key about to expire.
package ownermail

import (
	"bytes"
	"html/template"
	"net/mail"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/leaks"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/mailer"
)

// Mailer mails owners about their keys, in the background: a failing
// mailer is logged and never fails or slows the request that caused the
// mail. It implements keystore.Notifier.
type Mailer struct {
	app       core.App
	pagesPath string         // the pages' URL path, for the links; "" without pages
	pending   sync.WaitGroup // mails being sent
}

// Register returns app's Mailer, linking to the pages at pagesPath ("" for
// none). Mails being sent finish before the databases close (they read the
// owner).
func Register(app core.App, pagesPath string) *Mailer {
	m := &Mailer{app: app, pagesPath: pagesPath}
	app.OnBootstrapClear().BindFunc(func(e *core.BootstrapEvent) error {
		m.Wait()
		return e.Next()
	})
	app.Store().Set(storeKey, m)
	return m
}

// storeKey is where Register keeps the Mailer in the app's store.
const storeKey = "pbkeys.ownermail"

// Of returns the Mailer registered with app, or nil: for code that builds on
// an app pbkeys was registered with (test fixtures).
func Of(app core.App) *Mailer {
	m, _ := app.Store().Get(storeKey).(*Mailer)
	return m
}

// KeyCreated emails the owner of a new key: which key, when, from where,
// and where to revoke it.
func (m *Mailer) KeyCreated(record *core.Record, origin keystore.Origin) {
	app := m.app
	keyID := record.Id
	ownerID := record.GetString(keystore.FieldOwner)
	ownerCollection := record.GetString(keystore.FieldOwnerCollection)
	label := record.GetString(keystore.FieldLabel)
	created := record.GetDateTime(keystore.FieldCreated).Time()
	if created.IsZero() {
		created = time.Now()
	}

	m.pending.Add(1)
	go func() {
		defer m.pending.Done()
		owner, err := app.FindRecordById(ownerCollection, ownerID)
		if err != nil {
			app.Logger().Warn("API key: owner to notify not found", "keyId", keyID, "ownerId", ownerID, "error", err)
			return
		}
		msg, err := newKeyCreatedMessage(app, owner, keyNotice{
			Label:     label,
			KeyID:     keyID,
			Created:   created.UTC().Format("2006-01-02 15:04:05 MST"),
			Via:       orDefault(origin.Via, "unknown"),
			IP:        orDefault(origin.IP, "unknown"),
			UserAgent: orDefault(origin.UserAgent, "unknown"),
			ManageURL: m.manageURL(),
			AppName:   app.Settings().Meta.AppName,
		})
		if err == nil {
			err = app.NewMailClient().Send(msg)
		}
		if err != nil {
			app.Logger().Warn("API key: failed to notify the owner", "keyId", keyID, "ownerId", ownerID, "error", err)
		}
	}()
}

// manageURL is the absolute URL of the pages, or "" without pages.
func (m *Mailer) manageURL() string {
	if m.pagesPath == "" {
		return ""
	}
	return strings.TrimRight(m.app.Settings().Meta.AppURL, "/") + m.pagesPath
}

// Wait blocks until every mail started so far has been sent or has failed:
// the CLI waits before exiting, the app before it closes its databases.
func (m *Mailer) Wait() {
	m.pending.Wait()
}

type keyNotice struct {
	Label, KeyID, Created, Via, IP, UserAgent, ManageURL, AppName string
}

var (
	noticeText = texttemplate.Must(texttemplate.New("text").Parse(`A new API key was created for your {{.AppName}} account.

Key:        {{.Label}} ({{.KeyID}})
Created:    {{.Created}}
Via:        {{.Via}}
IP address: {{.IP}}
User agent: {{.UserAgent}}

{{if .ManageURL}}If this wasn't you, revoke it now: {{.ManageURL}}{{else}}If this wasn't you, have the key revoked now.{{end}}
`))
	noticeHTML = template.Must(template.New("html").Parse(`<p>A new API key was created for your {{.AppName}} account.</p>
<table>
<tr><th align="left">Key</th><td>{{.Label}} (<code>{{.KeyID}}</code>)</td></tr>
<tr><th align="left">Created</th><td>{{.Created}}</td></tr>
<tr><th align="left">Via</th><td>{{.Via}}</td></tr>
<tr><th align="left">IP address</th><td>{{.IP}}</td></tr>
<tr><th align="left">User agent</th><td>{{.UserAgent}}</td></tr>
</table>
{{if .ManageURL}}<p>If this wasn't you, <a href="{{.ManageURL}}">revoke it now</a>.</p>{{else}}<p>If this wasn't you, have the key revoked now.</p>{{end}}
`))
)

func newKeyCreatedMessage(app core.App, owner *core.Record, n keyNotice) (*mailer.Message, error) {
	subject := "New API key \"" + oneLine(n.Label) + "\" on " + app.Settings().Meta.AppName
	return newMessage(app, owner, subject, noticeText, noticeHTML, n)
}

// newMessage is a mail to owner from the app's sender, its text and HTML
// bodies rendered from data.
func newMessage(app core.App, owner *core.Record, subject string, textBody *texttemplate.Template, htmlBody *template.Template, data any) (*mailer.Message, error) {
	var text bytes.Buffer
	if err := textBody.Execute(&text, data); err != nil {
		return nil, err
	}
	var html bytes.Buffer
	if err := htmlBody.Execute(&html, data); err != nil {
		return nil, err
	}
	meta := app.Settings().Meta
	return &mailer.Message{
		From:    mail.Address{Name: meta.SenderName, Address: meta.SenderAddress},
		To:      []mail.Address{{Address: owner.Email()}},
		Subject: subject,
		Text:    text.String(),
		HTML:    html.String(),
	}, nil
}

// KeyRevokedAsLeaked emails the owner of a key revoked because it was
// found exposed: which key, where it was found and by whom, when it was
// revoked, and where to make a new one.
func (m *Mailer) KeyRevokedAsLeaked(record, owner *core.Record, leak leaks.Leak, revoked time.Time) {
	app := m.app
	n := leakNotice{
		Label:      record.GetString(keystore.FieldLabel),
		KeyID:      record.Id,
		URL:        oneLine(truncate(leak.URL, maxLeakURL)),
		ReportedBy: orDefault(leak.ReportedBy, "unknown"),
		Revoked:    revoked.UTC().Format("2006-01-02 15:04:05 MST"),
		ManageURL:  m.manageURL(),
		AppName:    app.Settings().Meta.AppName,
	}
	m.pending.Add(1)
	go func() {
		defer m.pending.Done()
		subject := "API key \"" + oneLine(n.Label) + "\" on " + n.AppName + " was revoked: it was found exposed"
		msg, err := newMessage(app, owner, subject, leakNoticeText, leakNoticeHTML, n)
		if err == nil {
			err = app.NewMailClient().Send(msg)
		}
		if err != nil {
			app.Logger().Warn("API key: failed to notify the owner of a leak", "keyId", n.KeyID, "ownerId", owner.Id, "error", err)
		}
	}()
}

// KeyExpiring emails the owner of a key that expires soon: which key,
// when it expires (how long after now), and how to replace it in time.
func (m *Mailer) KeyExpiring(record *core.Record, now time.Time) {
	app := m.app
	expires := record.GetDateTime(keystore.FieldExpires).Time()
	n := expiryNotice{
		Label:     record.GetString(keystore.FieldLabel),
		KeyID:     record.Id,
		Left:      timeLeft(expires.Sub(now)),
		Expires:   expires.UTC().Format("2006-01-02 15:04:05 MST"),
		ManageURL: m.manageURL(),
		AppName:   app.Settings().Meta.AppName,
	}
	ownerID, ownerCollection := record.GetString(keystore.FieldOwner), record.GetString(keystore.FieldOwnerCollection)
	m.pending.Add(1)
	go func() {
		defer m.pending.Done()
		owner, err := app.FindRecordById(ownerCollection, ownerID)
		if err != nil {
			app.Logger().Warn("API key: owner to remind not found", "keyId", n.KeyID, "ownerId", ownerID, "error", err)
			return
		}
		subject := "API key \"" + oneLine(n.Label) + "\" on " + n.AppName + " expires in " + n.Left
		msg, err := newMessage(app, owner, subject, expiryNoticeText, expiryNoticeHTML, n)
		if err == nil {
			err = app.NewMailClient().Send(msg)
		}
		if err != nil {
			app.Logger().Warn("API key: failed to remind the owner of an expiry", "keyId", n.KeyID, "ownerId", ownerID, "error", err)
		}
	}()
}

// timeLeft says how long a key has left in whole days from 20 hours on
// ("1 day", "7 days"), in hours or minutes below.
func timeLeft(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= 20*time.Hour {
		return humanize.Plural(int((d+day/2)/day), "day", "days")
	}
	return humanize.Duration(d)
}

type expiryNotice struct {
	Label, KeyID, Left, Expires, ManageURL, AppName string
}

var (
	expiryNoticeText = texttemplate.Must(texttemplate.New("text").Parse(`Your API key "{{.Label}}" ({{.KeyID}}) on {{.AppName}} expires in {{.Left}}: on {{.Expires}} it stops working.

Key:     {{.Label}} ({{.KeyID}})
Expires: {{.Expires}}

To keep the apps that use it working, roll it before then{{if .ManageURL}} ({{.ManageURL}}){{end}}: rolling gives a new key with the same label, permissions and limits, and keeps the old one working for a grace period while you replace it. If the key is no longer needed, let it expire or revoke it.
`))
	expiryNoticeHTML = template.Must(template.New("html").Parse(`<p>Your API key "{{.Label}}" (<code>{{.KeyID}}</code>) on {{.AppName}} expires in {{.Left}}: on {{.Expires}} it stops working.</p>
<table>
<tr><th align="left">Key</th><td>{{.Label}} (<code>{{.KeyID}}</code>)</td></tr>
<tr><th align="left">Expires</th><td>{{.Expires}}</td></tr>
</table>
<p>To keep the apps that use it working, roll it before then{{if .ManageURL}} (<a href="{{.ManageURL}}">your API keys</a>){{end}}: rolling gives a new key with the same label, permissions and limits, and keeps the old one working for a grace period while you replace it. If the key is no longer needed, let it expire or revoke it.</p>
`))
)

// maxLeakURL bounds the "found at" address in a mail: reports come from
// outside.
const maxLeakURL = 2000

type leakNotice struct {
	Label, KeyID, URL, ReportedBy, Revoked, ManageURL, AppName string
}

var (
	leakNoticeText = texttemplate.Must(texttemplate.New("text").Parse(`Your API key "{{.Label}}" ({{.KeyID}}) on {{.AppName}} was found exposed, so it has been revoked: it no longer works.

Key:         {{.Label}} ({{.KeyID}})
Found at:    {{if .URL}}{{.URL}}{{else}}not given{{end}}
Reported by: {{.ReportedBy}}
Revoked:     {{.Revoked}}

Anyone who saw it could use it until then. Create a new key for the clients that used this one{{if .ManageURL}} ({{.ManageURL}}){{end}}, and remove the exposed key from where it was found.
`))
	leakNoticeHTML = template.Must(template.New("html").Parse(`<p>Your API key "{{.Label}}" (<code>{{.KeyID}}</code>) on {{.AppName}} was found exposed, so it has been revoked: it no longer works.</p>
<table>
<tr><th align="left">Key</th><td>{{.Label}} (<code>{{.KeyID}}</code>)</td></tr>
<tr><th align="left">Found at</th><td>{{if .URL}}<a href="{{.URL}}">{{.URL}}</a>{{else}}not given{{end}}</td></tr>
<tr><th align="left">Reported by</th><td>{{.ReportedBy}}</td></tr>
<tr><th align="left">Revoked</th><td>{{.Revoked}}</td></tr>
</table>
<p>Anyone who saw it could use it until then. Create a new key for the clients that used this one{{if .ManageURL}} (<a href="{{.ManageURL}}">your API keys</a>){{end}}, and remove the exposed key from where it was found.</p>
`))
)

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func orDefault(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
