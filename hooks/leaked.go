package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/leaks"
	"github.com/pbkeys/pbkeys/internal/ratelimit"
	"github.com/pbkeys/pbkeys/internal/retryafter"
	"github.com/pbkeys/pbkeys/internal/secretscanning"
)

// leakReportPath is where GitHub's secret scanning reports pbkeys keys it
// found in public code (the partner side of its protocol): POST a JSON
// array of {"token","type","url","source"}, signed. Every token that is a
// live key is revoked and its owner emailed; the answer labels each token.
//
// Nobody signs in to call it — GitHub's signature is the authentication —
// and a request with an API key is refused like on every /api/api-keys/
// route (policy.go), so a key can never reach it.
const leakReportPath = "/api/api-keys/leaked"

// Bounds of a report. GitHub gives a partner that answers with labels 30 s,
// so a report is worked on for at most leakReportDeadline; tokens left
// unchecked then make the answer a 503 to send the report again.
const (
	maxLeakReportBytes   = 1 << 20 // 1 MiB: about 4,000 matches with long URLs
	maxLeakReportTokens  = 1000
	leakReportsPerMinute = 60 // per client IP (IPv6 per /64), before the signature is checked
	leakReportDeadline   = 20 * time.Second
)

// leakReporter names GitHub in the owner's mail and the log.
const leakReporter = "GitHub secret scanning"

// Messages of the refusals.
const (
	msgLeakUnsigned   = "The report is not signed: the " + secretscanning.HeaderKeyID + " and " + secretscanning.HeaderSignature + " headers are required."
	msgLeakBadSig     = "The report's signature does not verify."
	msgLeakMalformed  = `The report must be a JSON array of {"token","type","url","source"} objects, each with a token.`
	msgLeakTooMany    = "Too many reports from this address. Try again later."
	msgLeakUnchecked  = "Some tokens could not be checked now. Send the report again later."
	msgLeakUnreadable = "The report could not be read."
)

var msgLeakTooLarge = fmt.Sprintf("The report is too large: at most %d KiB and %d tokens.", maxLeakReportBytes>>10, maxLeakReportTokens)

// leakReports answers POST leakReportPath.
type leakReports struct {
	revoker *leaks.Revoker
	keys    *secretscanning.KeyFile // nil without PBKEYS_LEAK_REPORT_KEYS: 404
	limits  *ratelimit.Limiter
}

func (l *leakReports) handle(e *core.RequestEvent) error {
	if l.keys == nil {
		return e.NotFoundError("", nil)
	}
	client := throttleClient(e.RealIP())
	if wait := l.limits.Allow(client, leakReportsPerMinute, time.Now()); wait > 0 {
		retryafter.Set(e.Response.Header(), wait)
		return e.TooManyRequestsError(msgLeakTooMany, nil)
	}

	// The signature covers the body byte for byte: read it whole (bounded)
	// and check it before parsing anything.
	body, err := io.ReadAll(http.MaxBytesReader(e.Response, e.Request.Body, maxLeakReportBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return apis.NewApiError(http.StatusRequestEntityTooLarge, msgLeakTooLarge, nil)
	case err != nil:
		return e.BadRequestError(msgLeakUnreadable, nil)
	}
	keys, err := l.keys.Keys()
	if err != nil {
		e.App.Logger().Warn("API key leak reports: "+err.Error(), "file", l.keys.Path())
	}
	keyID := e.Request.Header.Get(secretscanning.HeaderKeyID)
	switch err := keys.Verify(body, keyID, e.Request.Header.Get(secretscanning.HeaderSignature)); {
	case errors.Is(err, secretscanning.ErrUnsigned):
		return e.UnauthorizedError(msgLeakUnsigned, nil)
	case errors.Is(err, secretscanning.ErrUnknownKey):
		// Most likely GitHub rotated its keys: the operator refreshes the file.
		e.App.Logger().Warn("API key leak report signed with a key not in the public keys file: refresh it from "+secretscanning.PublicKeysURL,
			"keyIdentifier", truncateForLog(keyID), "file", l.keys.Path())
		return e.UnauthorizedError(msgLeakBadSig, nil)
	case err != nil:
		return e.UnauthorizedError(msgLeakBadSig, nil)
	}

	matches, err := secretscanning.ParseReport(body)
	if err != nil {
		return e.BadRequestError(msgLeakMalformed, nil)
	}
	if len(matches) > maxLeakReportTokens {
		return apis.NewApiError(http.StatusRequestEntityTooLarge, msgLeakTooLarge, nil)
	}

	ctx, cancel := context.WithTimeout(e.Request.Context(), leakReportDeadline)
	defer cancel()
	// who revokes the keys, for their events: the report, from its sender
	by := keystore.Origin{Via: "leak report", IP: e.RealIP(), UserAgent: e.Request.UserAgent(),
		Actor: events.KindLeakReport, ActorID: leakReporter}
	var (
		feedback   = make([]secretscanning.Feedback, len(matches))
		done       = make(map[string]leaks.Result, len(matches)) // a token listed twice is checked once
		counts     = map[leaks.Outcome]int{}
		retryAfter time.Duration
	)
	for i, m := range matches {
		res, seen := done[m.Token]
		if !seen {
			res, err = l.revoker.Revoke(ctx, m.Token, leaks.Leak{URL: m.URL, ReportedBy: leakReporter, By: by}, client)
			if err != nil {
				return e.InternalServerError("", err)
			}
			done[m.Token] = res
			counts[res.Outcome]++
			if res.Outcome == leaks.Unchecked {
				retryAfter = max(retryAfter, res.RetryAfter)
				// possibly a live key: the operator may want to act on it
				e.App.Logger().Warn("API key leak report: a reported key could not be checked now", "keyId", res.KeyID, "url", m.URL)
			}
		}
		label := secretscanning.FalsePositive
		if res.TruePositive() {
			label = secretscanning.TruePositive
		}
		feedback[i] = secretscanning.Feedback{TokenRaw: m.Token, TokenType: m.Type, Label: label}
	}
	// Only counts: nothing about tokens that are not this server's keys.
	e.App.Logger().Info("API key leak report",
		"tokens", len(matches),
		"revoked", counts[leaks.Revoked],
		"alreadyRevoked", counts[leaks.AlreadyRevoked],
		"falsePositives", counts[leaks.NotAKey],
		"unchecked", counts[leaks.Unchecked])

	if counts[leaks.Unchecked] > 0 {
		// What was revoked stays revoked, and is answered true_positive
		// again when the report comes back.
		retryafter.Set(e.Response.Header(), retryAfter)
		return apis.NewApiError(http.StatusServiceUnavailable, msgLeakUnchecked, nil)
	}
	return e.JSON(http.StatusOK, feedback)
}

// truncateForLog bounds a value from a request before it is logged.
func truncateForLog(s string) string {
	if len(s) > 128 {
		return s[:128] + "… (" + strconv.Itoa(len(s)) + " bytes)"
	}
	return s
}
