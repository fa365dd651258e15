package web

// DefaultSignInMaxFailures is the default sign-in limit, for the tests that
// reach it.
var DefaultSignInMaxFailures = defaults.SignInMaxFailures
