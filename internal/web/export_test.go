package web

// DefaultSignInMaxFailures is the default sign-in limit, for the tests that
// reach it.
var DefaultSignInMaxFailures = defaults.SignInMaxFailures

// ActivityPath is the Activity page of the key with id under the default
// prefix.
func ActivityPath(id string) string { return activityPath(DefaultPaths(), id) }
