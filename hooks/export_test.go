package hooks

import (
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/apikey"
)

// Argon2Runs returns how many argon2id verifications the verifier Register
// built for app has run: tests count them.
func Argon2Runs(app core.App) uint64 {
	return app.Store().Get(verifierStoreKey).(*apikey.Verifier).Argon2Runs()
}
