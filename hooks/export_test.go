package hooks

import (
	"github.com/pbkeys/pbkeys/internal/verifier"
	"github.com/pocketbase/pocketbase/core"
)

// Argon2Runs returns how many argon2id verifications the verifier Register
// built for app has run: tests count them.
func Argon2Runs(app core.App) uint64 {
	return app.Store().Get(verifierStoreKey).(*verifier.Verifier).Argon2Runs()
}

// EnvVarNames lists the variables ConfigFromEnv reads.
func EnvVarNames() []string {
	names := make([]string, len(envVars))
	for i, v := range envVars {
		names[i] = v.name
	}
	return names
}
