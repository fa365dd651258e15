package hooks_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/ownermail"
	"github.com/pbkeys/pbkeys/internal/reminders"
)

const day = 24 * time.Hour

// remind runs env's reminders at now — the cron job's work, on a clock the
// test chooses — waits for the mails it started and returns what it did.
func remind(t testing.TB, env *hookstest.Env, now time.Time) reminders.Result {
	t.Helper()
	res, err := reminders.Of(env.App).Run(now)
	if err != nil {
		t.Fatal(err)
	}
	ownermail.Of(env.App).Wait()
	return res
}

// reminderMails are the expiry reminders env's app has sent.
func reminderMails(app *tests.TestApp) []string {
	var subjects []string
	for _, m := range app.TestMailer.Messages() {
		if strings.Contains(m.Subject, " expires in ") {
			subjects = append(subjects, m.Subject)
		}
	}
	return subjects
}

// onceEvents counts key's events of the actions that happen once.
func onceEvents(t testing.TB, env *hookstest.Env, key, action string) int {
	t.Helper()
	n, err := env.App.CountRecords(keystore.EventsCollection, dbx.HashExp{"key": key, "action": action})
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// A key's owner gets one mail 7 days and one 1 day before it expires, each
// once however often the job runs, and its expiry is recorded once, by the
// system; no mail for the expiry itself.
func TestExpiryRemindersAt7DaysAnd1Day(t *testing.T) {
	for _, o := range hookstest.Owners {
		t.Run(o.Kind, func(t *testing.T) {
			env := o.New(t)
			t.Cleanup(env.App.Cleanup)
			start := time.Now()
			_, key := issueFor(t, env, o, keystore.Options{Label: "nightly", ExpiresAt: start.Add(10 * day)})
			ownermail.Of(env.App).Wait()
			mails := len(env.App.TestMailer.Messages()) // "new API key"

			steps := []struct {
				at       time.Duration
				reminded int
				expired  int
			}{
				{0, 0, 0},
				{3*day - time.Minute, 0, 0}, // 7 days and a minute before
				{3*day + time.Minute, 1, 0}, // the 7-day mail
				{3*day + 2*time.Minute, 0, 0},
				{5 * day, 0, 0},
				{9*day + time.Minute, 1, 0}, // the 1-day mail
				{9*day + time.Hour, 0, 0},
				{10*day + time.Minute, 0, 1}, // expired: recorded, no mail
				{10*day + time.Hour, 0, 0},
			}
			for _, s := range steps {
				res := remind(t, env, start.Add(s.at))
				if res.Reminded != s.reminded || res.Expired != s.expired {
					t.Fatalf("at +%s: %+v, want %d reminded, %d expired", s.at, res, s.reminded, s.expired)
				}
			}
			subjects := reminderMails(env.App)
			if len(subjects) != 2 || !strings.Contains(subjects[0], `"nightly"`) ||
				!strings.HasSuffix(subjects[0], "expires in 7 days") || !strings.HasSuffix(subjects[1], "expires in 1 day") {
				t.Fatalf("reminders %q", subjects)
			}
			if n := len(env.App.TestMailer.Messages()); n != mails+2 {
				t.Fatalf("%d mails, want %d", n, mails+2)
			}
			last := env.App.TestMailer.LastMessage()
			if last.To[0].Address != o.Email || !strings.Contains(last.Text, key.Id) || !strings.Contains(last.Text, "roll it") {
				t.Errorf("1-day reminder to %v:\n%s", last.To, last.Text)
			}

			list := keyEvents(t, env.App, key.Id)
			if got := actions(list); strings.Join(got, ",") != "expired,expiry_reminder_1d,expiry_reminder_7d,created" {
				t.Fatalf("events %v", got)
			}
			for _, e := range list[:3] {
				if e.Actor != (events.Actor{Kind: events.KindSystem}) || !strings.Contains(string(e.Detail), `"expires":"`) {
					t.Errorf("%s by %+v, detail %s", e.Action, e.Actor, e.Detail)
				}
			}
		})
	}
}

// No reminder for a key revoked, disabled or already rolled; a key made
// with less than 7 days left gets only the 1-day mail.
func TestNoExpiryReminders(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	start := time.Now()
	alice := env.Alice(t)
	_, revoked := issue(t, env, keystore.Options{Label: "revoked", ExpiresAt: start.Add(10 * day)})
	_, disabled := issue(t, env, keystore.Options{Label: "disabled", ExpiresAt: start.Add(10 * day)})
	_, rolled := issue(t, env, keystore.Options{Label: "rolled", ExpiresAt: start.Add(10 * day)})
	_, short := issue(t, env, keystore.Options{Label: "short", ExpiresAt: start.Add(3 * day)})
	if _, err := env.Store.Revoke(alice, revoked.Id); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.SetDisabled(alice, disabled.Id, true); err != nil {
		t.Fatal(err)
	}
	replacement, _, err := env.Store.Roll(alice, rolled.Id, 7*day, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}

	for _, at := range []time.Duration{time.Minute, 2*day + time.Minute, 3*day + time.Minute, 9*day + time.Minute} {
		remind(t, env, start.Add(at))
	}
	// the short key's 1-day mail (its 7-day moment was before it was
	// made), and the replacement's two: it expires 10 days after the roll
	subjects := reminderMails(env.App)
	if len(subjects) != 3 {
		t.Fatalf("reminders %q, want the short key's 1-day mail and the replacement's two", subjects)
	}
	for _, s := range subjects {
		if !strings.Contains(s, `"short"`) && !strings.Contains(s, `"rolled"`) {
			t.Errorf("reminder %q", s)
		}
	}
	for _, id := range []string{revoked.Id, disabled.Id, rolled.Id} {
		for _, a := range []string{events.Reminder7Days, events.Reminder1Day} {
			if onceEvents(t, env, id, a) != 0 {
				t.Errorf("%s: %s recorded", id, a)
			}
		}
	}
	if onceEvents(t, env, short.Id, events.Reminder7Days) != 0 || onceEvents(t, env, short.Id, events.Reminder1Day) != 1 {
		t.Error("the short key: want the 1-day reminder only")
	}
	if onceEvents(t, env, replacement.Id, events.Reminder7Days) != 1 || onceEvents(t, env, replacement.Id, events.Reminder1Day) != 1 {
		t.Error("the replacement: want both reminders")
	}
}

// A second process on the same data — a restart, or another server —
// sends no reminder the first one sent.
func TestExpiryRemindersOnceAcrossRestarts(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	start := time.Now()
	_, key := issue(t, env, keystore.Options{Label: "restart", ExpiresAt: start.Add(6 * day)})
	if res := remind(t, env, start.Add(5*day+time.Minute)); res.Reminded != 1 {
		t.Fatalf("first process: %+v", res)
	}
	restarted := env.AnotherProcess(t)
	if res := remind(t, restarted, start.Add(5*day+time.Hour)); res.Reminded != 0 {
		t.Fatalf("after the restart: %+v, want no second mail", res)
	}
	if res := remind(t, restarted, start.Add(6*day+time.Minute)); res.Expired != 1 {
		t.Fatalf("after the restart, at the expiry: %+v", res)
	}
	if res := remind(t, env, start.Add(6*day+time.Hour)); res.Expired != 0 {
		t.Fatalf("the first process at the expiry: %+v, want it recorded once", res)
	}
	if n := len(reminderMails(env.App)) + len(reminderMails(restarted.App)); n != 1 {
		t.Fatalf("%d reminders in all, want 1", n)
	}
	if onceEvents(t, env, key.Id, events.Reminder1Day) != 1 || onceEvents(t, env, key.Id, events.Expired) != 1 {
		t.Fatal("want one reminder event and one expired event")
	}
}

// Two processes on the same data running the job at the same moment send
// each reminder once between them.
func TestExpiryRemindersOnceWhenTwoProcessesRace(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	other := env.AnotherProcess(t)
	start := time.Now()
	const n = 12
	for i := range n {
		issue(t, env, keystore.Options{Label: "race " + string(rune('a'+i)), ExpiresAt: start.Add(6 * day)})
	}
	at := start.Add(5*day + time.Minute)
	for round := range 3 {
		var wg sync.WaitGroup
		for _, e := range []*hookstest.Env{env, other, env, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := reminders.Of(e.App).Run(at.Add(time.Duration(round) * time.Second)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	ownermail.Of(env.App).Wait()
	ownermail.Of(other.App).Wait()
	a, b := len(reminderMails(env.App)), len(reminderMails(other.App))
	if a+b != n {
		t.Fatalf("%d + %d reminders, want %d in all", a, b, n)
	}
	if c, err := env.App.CountRecords(keystore.EventsCollection, dbx.HashExp{"action": events.Reminder1Day}); err != nil || c != n {
		t.Fatalf("%d reminder events (%v), want %d", c, err, n)
	}
}
