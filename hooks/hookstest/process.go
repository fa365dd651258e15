package hookstest

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// AnotherProcess returns a second app on env's data directory, with pbkeys
// registered as in env, as another process serving the same pb_data would
// be: its own database connections, caches and in-memory state, sharing
// only the SQLite files. (tests.NewTestApp would copy the directory.) It
// is shut down when t ends, before env's app removes the directory.
func (env *Env) AnotherProcess(t testing.TB) *Env {
	t.Helper()
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: env.App.DataDir(), EncryptionEnv: "pb_test_env"})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	// as tests.NewTestApp does: request logs are written in the
	// background, which could outlive the test
	app.Settings().Logs.MaxDays = 0
	other := &tests.TestApp{BaseApp: app, TestMailer: &tests.TestMailer{}}
	other.OnMailerSend().Bind(&hook.Handler[*core.MailerEvent]{
		Func: func(e *core.MailerEvent) error {
			e.Mailer = other.TestMailer // never a real mail
			return e.Next()
		},
		Priority: -99999,
	})
	if err := hooks.Register(other, env.cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = other.OnTerminate().Trigger(&core.TerminateEvent{App: other}, func(e *core.TerminateEvent) error {
			return e.App.ResetBootstrapState()
		})
	})
	return &Env{App: other, Store: keystore.Of(other), cfg: env.cfg}
}
